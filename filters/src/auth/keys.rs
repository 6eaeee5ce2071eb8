//! API keys: stored as SHA-256 digests (`"sha256:<hex>"`), looked up by the digest of
//! the key a client presents.
//!
//! Why this is safe against timing: the table is indexed by the first 8 bytes of a
//! digest, and a candidate is confirmed by comparing all 32 bytes with
//! `subtle::ConstantTimeEq`. What a lookup's time can reveal is at most whether some
//! stored digest shares a prefix with the digest of a key the attacker chose; finding a
//! key whose digest has a wanted prefix is a preimage search on SHA-256, so it says
//! nothing useful about any stored key. No key is ever compared byte by byte.
//!
//! A key is never logged or kept: the presented one is hashed and dropped.

use std::collections::HashMap;

use ring::digest::{digest, SHA256};
use subtle::ConstantTimeEq;

/// A SHA-256 digest.
pub type Digest = [u8; 32];

/// The digest of `key` (the bytes the client sends).
pub fn hash_key(key: &[u8]) -> Digest {
    let d = digest(&SHA256, key);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// `key`'s digest in the config's form, `"sha256:<64 lowercase hex digits>"`.
pub fn format_key_hash(key: &[u8]) -> String {
    let mut s = String::with_capacity(7 + 64);
    s.push_str("sha256:");
    for b in hash_key(key) {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    s
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Parses `"sha256:<64 hex digits>"` (either case).
pub fn parse_key_hash(s: &str) -> Result<Digest, String> {
    let Some(hex) = s.strip_prefix("sha256:") else {
        return Err(
            "an API key is stored as \"sha256:<64 hex digits>\" (`tollgate hash-key` prints it), \
             not as the key itself"
                .into(),
        );
    };
    if hex.len() != 64 {
        return Err(format!(
            "\"sha256:\" takes 64 hex digits, got {}",
            hex.len()
        ));
    }
    let mut out = [0u8; 32];
    for (i, pair) in hex.as_bytes().chunks_exact(2).enumerate() {
        let digit = |c: u8| char::from(c).to_digit(16);
        match (digit(pair[0]), digit(pair[1])) {
            (Some(h), Some(l)) => out[i] = (h * 16 + l) as u8,
            _ => return Err("\"sha256:\" takes hex digits only (0-9, a-f)".into()),
        }
    }
    Ok(out)
}

/// Every consumer's key digests, for lookup by a presented key.
#[derive(Debug, Default)]
pub struct KeyTable {
    /// First 8 bytes of a digest -> (the whole digest, the consumer's index).
    by_prefix: HashMap<u64, Vec<(Digest, usize)>>,
}

impl KeyTable {
    /// Adds a digest for consumer `owner`. Returns the owner already holding it, if any.
    pub fn insert(&mut self, digest: Digest, owner: usize) -> Option<usize> {
        if let Some(first) = self.find_digest(&digest) {
            return Some(first);
        }
        self.by_prefix
            .entry(prefix(&digest))
            .or_default()
            .push((digest, owner));
        None
    }

    /// The consumer whose key is `key`.
    pub fn find(&self, key: &[u8]) -> Option<usize> {
        self.find_digest(&hash_key(key))
    }

    fn find_digest(&self, digest: &Digest) -> Option<usize> {
        let bucket = self.by_prefix.get(&prefix(digest))?;
        let mut found = None;
        // Every candidate is compared in full, with no early exit.
        for (d, owner) in bucket {
            if bool::from(d.ct_eq(digest)) {
                found = Some(*owner);
            }
        }
        found
    }

    pub fn is_empty(&self) -> bool {
        self.by_prefix.is_empty()
    }
}

fn prefix(d: &Digest) -> u64 {
    let mut p = [0u8; 8];
    p.copy_from_slice(&d[..8]);
    u64::from_le_bytes(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_the_sha256_test_vector() {
        // FIPS 180-2 example: SHA-256("abc").
        assert_eq!(
            format_key_hash(b"abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let parsed = parse_key_hash(
            "sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
        )
        .unwrap();
        assert_eq!(parsed, hash_key(b"abc"));
    }

    #[test]
    fn bad_hashes_are_refused() {
        for bad in [
            "abc",
            "sha256:",
            "sha256:abcd",
            "md5:ba7816bf8f01cfea414140de5dae2223",
            "sha256:zz7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad00",
        ] {
            assert!(parse_key_hash(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lookup_finds_the_owner_of_a_key_and_nobody_for_others() {
        let mut t = KeyTable::default();
        assert!(t.is_empty());
        assert_eq!(t.insert(hash_key(b"key-a"), 0), None);
        assert_eq!(t.insert(hash_key(b"key-b"), 1), None);
        assert_eq!(t.insert(hash_key(b"key-a2"), 0), None);
        assert_eq!(t.find(b"key-a"), Some(0));
        assert_eq!(t.find(b"key-a2"), Some(0));
        assert_eq!(t.find(b"key-b"), Some(1));
        assert_eq!(t.find(b"key-c"), None);
        assert_eq!(t.find(b"key-a "), None);
        assert_eq!(t.find(b""), None);
        // The same key for two consumers is refused, naming the first.
        assert_eq!(t.insert(hash_key(b"key-b"), 2), Some(1));
    }

    #[test]
    fn a_shared_prefix_is_confirmed_in_full() {
        let mut t = KeyTable::default();
        let a = hash_key(b"one");
        let mut b = a;
        b[31] ^= 1;
        t.insert(a, 0);
        t.insert(b, 1);
        assert_eq!(t.find_digest(&a), Some(0));
        assert_eq!(t.find_digest(&b), Some(1));
        let mut c = a;
        c[20] ^= 0x80;
        assert_eq!(t.find_digest(&c), None);
    }
}
