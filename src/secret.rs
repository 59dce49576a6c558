//! [`Secret`]: a value (private key, access token) whose `Debug` never shows it.
//!
//! A small type rather than the `secrecy` crate: the emulator's state file stores its keys, so a
//! secret must serialise transparently and compare, which `secrecy` only allows through marker
//! traits on the inner type; zeroising on drop would not hold either, as the values are cloned
//! into libraries (jsonwebtoken, reqwest) that keep their own copies.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A secret value. `Debug` prints `<redacted>`; there is no `Display`; the value is reached
/// only through [`Secret::expose`], so that every use of it is visible in the code.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a secret value.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The value itself: for the one place that needs it (signing, a header, a private file).
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Serialised as the value itself: only where a secret must be stored (the emulator's state).
impl<T: Serialize> Serialize for Secret<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Secret<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    #[allow(dead_code)] // read by Debug only
    struct Holder {
        name: &'static str,
        key: Secret<String>,
        token: Option<Secret<String>>,
    }

    #[test]
    fn debug_never_shows_the_value() {
        let holder = Holder {
            name: "admin",
            key: Secret::new("-----BEGIN PRIVATE KEY-----MIIE".to_owned()),
            token: Some(Secret::from("eyJhbGciOiJSUzI1NiJ9.secret".to_owned())),
        };
        for text in [format!("{holder:?}"), format!("{holder:#?}")] {
            assert!(!text.contains("MIIE") && !text.contains("eyJ"), "{text}");
            assert!(
                text.contains("admin") && text.contains("<redacted>"),
                "{text}"
            );
        }
        assert_eq!(holder.key.expose(), "-----BEGIN PRIVATE KEY-----MIIE");
    }

    #[test]
    fn serde_is_transparent() {
        let secret: Secret<String> = serde_json::from_str("\"pem\"").unwrap();
        assert_eq!(secret.expose(), "pem");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"pem\"");
    }
}
