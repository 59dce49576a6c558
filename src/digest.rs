//! SHA-256 digests of JSON data, streamed: the data is serialised straight into the hash
//! (through a buffer, so the hash gets whole blocks) instead of into a byte string first. The
//! manifest and the live state of a large organisation are each a megabyte or more of JSON.

use std::io::{BufWriter, Write};

use sha2::{Digest, Sha256};

/// Hashes compact JSON of values, and raw bytes, in the order given.
pub struct JsonDigest {
    out: BufWriter<HashWriter>,
    /// Set when serialising failed: the digest then stands for no data at all.
    failed: bool,
}

impl JsonDigest {
    pub fn new() -> Self {
        Self {
            out: BufWriter::with_capacity(64 * 1024, HashWriter(Sha256::new())),
            failed: false,
        }
    }

    /// Adds `value` as compact JSON (the bytes of `serde_json::to_vec`).
    pub fn json<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Self {
        self.failed |= serde_json::to_writer(&mut self.out, value).is_err();
        self
    }

    /// Adds raw bytes (e.g. a separator between two values).
    pub fn bytes(mut self, bytes: &[u8]) -> Self {
        self.failed |= self.out.write_all(bytes).is_err();
        self
    }

    /// The digest as lowercase hex.
    pub fn hex(self) -> String {
        let hash = match (self.failed, self.out.into_inner()) {
            (false, Ok(hasher)) => hasher.0.finalize(),
            _ => Sha256::digest(b""),
        };
        hash.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl Default for JsonDigest {
    fn default() -> Self {
        Self::new()
    }
}

/// The SHA-256 (hex) of `value`'s compact JSON.
pub fn of_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    JsonDigest::new().json(value).hex()
}

/// Feeds written bytes into a SHA-256.
struct HashWriter(Sha256);

impl Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_digest_equals_the_digest_of_the_serialised_bytes() {
        let value = serde_json::json!({"b": [1, 2, {"c": "ø"}], "a": "x".repeat(100_000)});
        let mut bytes = serde_json::to_vec(&value).unwrap();
        let expected: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(of_json(&value), expected);

        bytes.push(0);
        bytes.extend(serde_json::to_vec(&[1, 2]).unwrap());
        let expected: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let got = JsonDigest::new()
            .json(&value)
            .bytes(&[0])
            .json(&[1, 2])
            .hex();
        assert_eq!(got, expected);
    }
}
