//! Limit keys: which budget a request draws from, as an opaque 64-bit hash of the parts
//! a limit is "per" (consumer, group, route, model, client IP, a header's value).
//!
//! The hash is SipHash-1-3 keyed with a secret, so a client who controls a part (a
//! header value, its address) cannot craft a collision with someone else's key and
//! spend their budget. All cores of a process share one [`KeyHasher`]; instances that
//! share a Redis cell must share its keys too (a cluster secret in config), because the
//! hash names the Redis key. Each part is written with a tag and its length, so
//! `("ab", "c")` and `("a", "bc")` are different keys.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::IpAddr;

/// An opaque key. Equal parts give equal keys under the same [`KeyHasher`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LimitKey(pub u64);

/// The keyed hash that turns parts into a [`LimitKey`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyHasher {
    k0: u64,
    k1: u64,
}

impl KeyHasher {
    /// Keys from the process's random source: right for an in-process cell.
    pub fn random() -> KeyHasher {
        let s = RandomState::new();
        KeyHasher {
            k0: s.hash_one(0x746f_6c6c_u64),
            k1: s.hash_one(0x6761_7465_u64),
        }
    }

    /// Fixed keys: every instance of a cluster must use the same.
    pub const fn with_keys(k0: u64, k1: u64) -> KeyHasher {
        KeyHasher { k0, k1 }
    }

    /// A builder that writes the parts into `scratch` (cleared first; the caller keeps
    /// it between requests so that building a key allocates nothing).
    pub fn builder<'a>(&'a self, scratch: &'a mut Vec<u8>) -> KeyBuilder<'a> {
        scratch.clear();
        KeyBuilder {
            hasher: self,
            buf: scratch,
        }
    }

    pub fn hash(&self, bytes: &[u8]) -> u64 {
        siphash13(self.k0, self.k1, bytes)
    }
}

/// Builds a [`LimitKey`] from the parts of a request that a limit is per.
#[derive(Debug)]
pub struct KeyBuilder<'a> {
    hasher: &'a KeyHasher,
    buf: &'a mut Vec<u8>,
}

impl KeyBuilder<'_> {
    fn part(self, tag: u8, bytes: &[u8]) -> Self {
        self.buf.push(tag);
        // A part longer than 4 GiB cannot reach here (head and body limits); saturating
        // keeps the encoding total anyway.
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        self.buf.extend_from_slice(&len.to_le_bytes());
        self.buf.extend_from_slice(bytes);
        self
    }

    pub fn consumer(self, name: &[u8]) -> Self {
        self.part(b'c', name)
    }
    pub fn group(self, name: &[u8]) -> Self {
        self.part(b'g', name)
    }
    pub fn route(self, name: &[u8]) -> Self {
        self.part(b'r', name)
    }
    pub fn model(self, name: &[u8]) -> Self {
        self.part(b'm', name)
    }
    /// An IPv4-mapped IPv6 address is the IPv4 address it maps.
    pub fn client_ip(self, ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => self.part(b'4', &v4.octets()),
            IpAddr::V6(v6) => self.part(b'6', &v6.octets()),
        }
    }
    /// `name` as compiled (lowercase); `value` as the request sent it.
    pub fn header(self, name: &[u8], value: &[u8]) -> Self {
        self.part(b'h', name).part(b'v', value)
    }

    pub fn finish(self) -> LimitKey {
        LimitKey(self.hasher.hash(self.buf))
    }
}

/// SipHash-1-3 (Aumasson and Bernstein; one compression and three finalisation rounds,
/// the variant Rust's std uses for `HashMap`) over `data` with the key `(k0, k1)`.
fn siphash13(k0: u64, k1: u64, data: &[u8]) -> u64 {
    let mut v = [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ];
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let m = u64::from_le_bytes(w);
        v[3] ^= m;
        sip_round(&mut v);
        v[0] ^= m;
    }
    let rest = chunks.remainder();
    let mut last = (data.len() as u64) << 56;
    for (i, b) in rest.iter().enumerate() {
        last |= u64::from(*b) << (8 * i);
    }
    v[3] ^= last;
    sip_round(&mut v);
    v[0] ^= last;
    v[2] ^= 0xff;
    for _ in 0..3 {
        sip_round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

#[inline(always)]
fn sip_round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13) ^ v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16) ^ v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21) ^ v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17) ^ v[2];
    v[2] = v[2].rotate_left(32);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siphash13_matches_reference_values() {
        // Values of SipHash-1-3 with the zero key, as std's `DefaultHasher::new()`
        // computes them for the same bytes.
        let h = KeyHasher::with_keys(0, 0);
        assert_eq!(h.hash(b""), 0xd1fb_a762_150c_532c);
        assert_eq!(h.hash(b"tollgate"), 0x39c7_3d1e_4fb8_33de);
        assert_eq!(h.hash(b"a fifteen bytes"), 0xc35b_986d_6320_da3c);
    }

    #[test]
    fn parts_are_framed_and_keyed() {
        let h = KeyHasher::with_keys(1, 2);
        let mut s = Vec::new();
        let ab_c = h.builder(&mut s).consumer(b"ab").model(b"c").finish();
        let a_bc = h.builder(&mut s).consumer(b"a").model(b"bc").finish();
        let again = h.builder(&mut s).consumer(b"ab").model(b"c").finish();
        assert_ne!(ab_c, a_bc);
        assert_eq!(ab_c, again);
        let as_group = h.builder(&mut s).group(b"ab").model(b"c").finish();
        assert_ne!(ab_c, as_group);
        let other = KeyHasher::with_keys(1, 3);
        assert_ne!(
            ab_c,
            other.builder(&mut s).consumer(b"ab").model(b"c").finish()
        );
    }

    #[test]
    fn mapped_ipv4_is_the_ipv4_key() {
        let h = KeyHasher::random();
        let mut s = Vec::new();
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        let a = h.builder(&mut s).client_ip(v4).finish();
        assert_eq!(a, h.builder(&mut s).client_ip(mapped).finish());
        let header = h.builder(&mut s).header(b"x-user", b"u1").finish();
        assert_ne!(header, h.builder(&mut s).header(b"x-user", b"u2").finish());
    }
}
