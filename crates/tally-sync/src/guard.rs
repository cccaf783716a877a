//! The trait impls every guard shares, borrowed and owned.

/// `Deref` (and `DerefMut` with `mut`), `Debug` and `Display` for a guard struct with a
/// `guard` field that derefs to `T`.
macro_rules! guard_impls {
    ($guard:ident, mut) => {
        $crate::guard::guard_impls!($guard);
        impl<T> ::std::ops::DerefMut for $guard<'_, T> {
            fn deref_mut(&mut self) -> &mut T {
                &mut self.guard
            }
        }
    };
    ($guard:ident) => {
        impl<T> ::std::ops::Deref for $guard<'_, T> {
            type Target = T;
            fn deref(&self) -> &T {
                &self.guard
            }
        }
        impl<T: ::std::fmt::Debug> ::std::fmt::Debug for $guard<'_, T> {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Debug::fmt(&**self, f)
            }
        }
        impl<T: ::std::fmt::Display> ::std::fmt::Display for $guard<'_, T> {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(&**self, f)
            }
        }
    };
}

pub(crate) use guard_impls;

/// [`guard_impls`] for an owned guard (no lifetime parameter).
#[cfg(feature = "tokio")]
macro_rules! owned_guard_impls {
    ($guard:ident, mut) => {
        $crate::guard::owned_guard_impls!($guard);
        impl<T> ::std::ops::DerefMut for $guard<T> {
            fn deref_mut(&mut self) -> &mut T {
                &mut self.guard
            }
        }
    };
    ($guard:ident) => {
        impl<T> ::std::ops::Deref for $guard<T> {
            type Target = T;
            fn deref(&self) -> &T {
                &self.guard
            }
        }
        impl<T: ::std::fmt::Debug> ::std::fmt::Debug for $guard<T> {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Debug::fmt(&**self, f)
            }
        }
        impl<T: ::std::fmt::Display> ::std::fmt::Display for $guard<T> {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(&**self, f)
            }
        }
    };
}

#[cfg(feature = "tokio")]
pub(crate) use owned_guard_impls;
