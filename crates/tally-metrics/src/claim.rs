//! One recorder per registry, for the registry's life: the claims every recorder built so
//! far holds, whether or not it exposes its stats in the registry.
//!
//! A second recorder on one registry could record nothing the first registered (each name
//! it uses is taken, by a family of the first), so it is refused when it is built. A
//! recorder's families stay registered after it is dropped, so its claim does too, until
//! the registry itself is dropped.

use std::sync::{Arc, Mutex, Weak};

use tally::Registry;

/// The registries that have had a recorder.
struct Claims {
    global: bool,
    /// Registries of their own, by address; a dropped one's entry is pruned on the next
    /// claim (its `Weak` keeps the address from being reused meanwhile).
    shared: Vec<Weak<Registry>>,
}

static CLAIMS: Mutex<Claims> = Mutex::new(Claims { global: false, shared: Vec::new() });

/// Runs `build` unless `registry` (`None`: [`tally::global()`]) has had a recorder, in
/// which case `taken` is returned; the claim is recorded only when `build` succeeds, and
/// claims are checked and recorded one at a time.
pub(crate) fn claim<T, E>(
    registry: Option<&Arc<Registry>>,
    taken: E,
    build: impl FnOnce() -> Result<T, E>,
) -> Result<T, E> {
    // Every update leaves the claims consistent before anything can panic.
    let mut claims = CLAIMS.lock().unwrap_or_else(|e| e.into_inner());
    claims.shared.retain(|r| r.strong_count() > 0);
    let claimed = match registry {
        None => claims.global,
        Some(r) => claims.shared.iter().any(|c| std::ptr::eq(c.as_ptr(), Arc::as_ptr(r))),
    };
    if claimed {
        return Err(taken);
    }
    let built = build()?;
    match registry {
        None => claims.global = true,
        Some(r) => claims.shared.push(Arc::downgrade(r)),
    }
    Ok(built)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registry_is_claimed_once_for_its_life_and_a_failed_build_claims_nothing() {
        let registry = Arc::new(Registry::new());
        let refused = claim(Some(&registry), "taken", || Err::<(), _>("build failed"));
        assert_eq!(refused, Err("build failed"));
        assert_eq!(claim(Some(&registry), "taken", || Ok(1)), Ok(1));
        assert_eq!(claim(Some(&registry), "taken", || Ok(2)), Err("taken"));
        // Another registry is its own.
        let other = Arc::new(Registry::new());
        assert_eq!(claim(Some(&other), "taken", || Ok(3)), Ok(3));
        // Dropped: its claim goes with it (a new registry may reuse its address).
        drop(registry);
        let again = Arc::new(Registry::new());
        assert_eq!(claim(Some(&again), "taken", || Ok(4)), Ok(4));
    }
}
