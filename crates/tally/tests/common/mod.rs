//! Helpers shared by the integration tests.

use std::sync::Once;

/// The payload of a panic a test raises on purpose: the panic hook stays quiet for it, so
/// thousands of deliberate panics do not flood the output.
#[derive(Debug)]
pub struct Intentional;

/// Panics with [`Intentional`] (quietly, once [`quiet_intentional_panics`] has run).
pub fn panic_on_purpose() -> ! {
    std::panic::panic_any(Intentional)
}

/// Installs, once per process, a panic hook that ignores [`Intentional`] panics and hands
/// every other panic (a real test failure) to the default hook.
pub fn quiet_intentional_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info.payload().is::<Intentional>() {
                default(info);
            }
        }));
    });
}
