//! Load balancing across a cluster's endpoints, per core: round robin, smooth weighted
//! round robin, least in flight (power of two random choices), consistent hash (ring).
//!
//! Every policy takes an `usable(i)` predicate (healthy, not ejected, addresses known);
//! the caller falls back to "any endpoint" when none is usable (panic mode, as Envoy
//! does: better to try a possibly-down endpoint than to refuse everything).

use std::cell::{Cell, RefCell};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::IpAddr;

use tollgate_proto::h1::RequestHead;

use crate::config::LbPolicy;

/// What a consistent-hash cluster hashes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashKey {
    ClientIp,
    Header(String),
    Cookie(String),
}

impl HashKey {
    /// Parses `client_ip`, `header:NAME` or `cookie:NAME` (validated at config load).
    pub fn parse(s: &str) -> Option<HashKey> {
        if s == "client_ip" {
            Some(HashKey::ClientIp)
        } else if let Some(h) = s.strip_prefix("header:") {
            Some(HashKey::Header(h.to_ascii_lowercase()))
        } else {
            s.strip_prefix("cookie:")
                .map(|c| HashKey::Cookie(c.to_string()))
        }
    }

    /// The hash of this request's key. A missing header or cookie hashes the client IP,
    /// so such requests still spread and stay sticky per client.
    pub fn hash(&self, head: &RequestHead, client: IpAddr) -> u64 {
        let mut h = DefaultHasher::new();
        match self {
            HashKey::ClientIp => client.hash(&mut h),
            HashKey::Header(name) => match head.header(name) {
                Some(v) => v.hash(&mut h),
                None => client.hash(&mut h),
            },
            HashKey::Cookie(name) => match cookie_value(head, name) {
                Some(v) => v.hash(&mut h),
                None => client.hash(&mut h),
            },
        }
        h.finish()
    }
}

fn cookie_value<'a>(head: &'a RequestHead, name: &str) -> Option<&'a [u8]> {
    for h in &head.headers {
        if !head.name(h).eq_ignore_ascii_case(b"cookie") {
            continue;
        }
        for pair in head.value(h).split(|&b| b == b';') {
            let pair = pair.trim_ascii();
            if let Some(eq) = memchr::memchr(b'=', pair) {
                if &pair[..eq] == name.as_bytes() {
                    return Some(&pair[eq + 1..]);
                }
            }
        }
    }
    None
}

/// Virtual nodes per unit of weight on the hash ring.
const VNODES: u32 = 64;

#[derive(Debug)]
pub enum Balancer {
    RoundRobin {
        next: Cell<usize>,
    },
    Weighted {
        current: RefCell<Vec<i64>>,
    },
    LeastInFlight {
        rng: Cell<u64>,
    },
    ConsistentHash {
        key: HashKey,
        ring: Vec<(u64, usize)>,
    },
}

impl Balancer {
    pub fn new(policy: LbPolicy, hash_on: Option<&str>, weights: &[u32], seed: u64) -> Balancer {
        match policy {
            LbPolicy::RoundRobin => Balancer::RoundRobin {
                next: Cell::new(seed as usize),
            },
            LbPolicy::Weighted => Balancer::Weighted {
                current: RefCell::new(vec![0; weights.len()]),
            },
            LbPolicy::LeastInFlight => Balancer::LeastInFlight {
                rng: Cell::new(seed | 1),
            },
            LbPolicy::ConsistentHash => {
                let key = hash_on
                    .and_then(HashKey::parse)
                    .unwrap_or(HashKey::ClientIp);
                let mut ring = Vec::new();
                for (i, &w) in weights.iter().enumerate() {
                    for v in 0..w.max(1) * VNODES {
                        let mut h = DefaultHasher::new();
                        (i, v).hash(&mut h);
                        ring.push((h.finish(), i));
                    }
                }
                ring.sort_unstable();
                Balancer::ConsistentHash { key, ring }
            }
        }
    }

    pub fn hash_key(&self) -> Option<&HashKey> {
        match self {
            Balancer::ConsistentHash { key, .. } => Some(key),
            _ => None,
        }
    }

    /// Picks an endpoint index among `n`, preferring usable ones.
    pub fn pick(
        &self,
        n: usize,
        weights: &[u32],
        in_flight: &dyn Fn(usize) -> u32,
        usable: &dyn Fn(usize) -> bool,
        hash: Option<u64>,
    ) -> Option<usize> {
        if n == 0 {
            return None;
        }
        let any_usable = (0..n).any(usable);
        let ok = |i: usize| !any_usable || usable(i);
        match self {
            Balancer::RoundRobin { next } => {
                let start = next.get();
                for k in 0..n {
                    let i = (start + k) % n;
                    if ok(i) {
                        next.set(i + 1);
                        return Some(i);
                    }
                }
                None
            }
            Balancer::Weighted { current } => {
                // Smooth weighted round robin (nginx): each pick adds every weight to its
                // endpoint's current value, takes the largest, and subtracts the total.
                let mut cur = current.borrow_mut();
                let mut total = 0i64;
                let mut best: Option<usize> = None;
                for i in 0..n {
                    if !ok(i) {
                        continue;
                    }
                    let w = weights[i].max(1) as i64;
                    cur[i] += w;
                    total += w;
                    if best.is_none_or(|b| cur[i] > cur[b]) {
                        best = Some(i);
                    }
                }
                if let Some(b) = best {
                    cur[b] -= total;
                }
                best
            }
            Balancer::LeastInFlight { rng } => {
                let candidates: u32 = (0..n).filter(|&i| ok(i)).count() as u32;
                if candidates == 0 {
                    return None;
                }
                let nth = |k: u32| (0..n).filter(|&i| ok(i)).nth(k as usize);
                let a = nth(xorshift(rng) as u32 % candidates)?;
                let b = nth(xorshift(rng) as u32 % candidates)?;
                Some(if in_flight(b) < in_flight(a) { b } else { a })
            }
            Balancer::ConsistentHash { ring, .. } => {
                let h = hash.unwrap_or(0);
                let start = ring.partition_point(|&(p, _)| p < h);
                (0..ring.len())
                    .map(|k| ring[(start + k) % ring.len()].1)
                    .find(|&i| ok(i))
            }
        }
    }
}

fn xorshift(state: &Cell<u64>) -> u64 {
    let mut x = state.get();
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    state.set(x);
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picks(
        b: &Balancer,
        weights: &[u32],
        usable: &dyn Fn(usize) -> bool,
        k: usize,
    ) -> Vec<usize> {
        (0..k)
            .map(|_| {
                b.pick(weights.len(), weights, &|_| 0, usable, None)
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn round_robin_skips_unusable() {
        let b = Balancer::new(LbPolicy::RoundRobin, None, &[1, 1, 1], 0);
        assert_eq!(picks(&b, &[1, 1, 1], &|_| true, 6), vec![0, 1, 2, 0, 1, 2]);
        assert_eq!(picks(&b, &[1, 1, 1], &|i| i != 1, 4), vec![0, 2, 0, 2]);
        // None usable: panic mode spreads over all.
        assert_eq!(picks(&b, &[1, 1, 1], &|_| false, 3).len(), 3);
    }

    #[test]
    fn smooth_weighted_follows_weights() {
        let w = [5, 1, 1];
        let b = Balancer::new(LbPolicy::Weighted, None, &w, 0);
        let p = picks(&b, &w, &|_| true, 7);
        assert_eq!(p.iter().filter(|&&i| i == 0).count(), 5);
        assert_eq!(p, vec![0, 0, 1, 0, 2, 0, 0]);
    }

    #[test]
    fn least_in_flight_prefers_idle() {
        let b = Balancer::new(LbPolicy::LeastInFlight, None, &[1, 1], 7);
        let load = |i: usize| if i == 0 { 100 } else { 0 };
        let n1 = (0..200)
            .filter(|_| b.pick(2, &[1, 1], &load, &|_| true, None) == Some(1))
            .count();
        // Two random choices: endpoint 1 wins unless both draws are 0 (p = 1/4).
        assert!(n1 > 120, "{n1}");
    }

    #[test]
    fn consistent_hash_is_sticky_and_moves_little() {
        let b3 = Balancer::new(LbPolicy::ConsistentHash, Some("client_ip"), &[1, 1, 1], 0);
        let b2 = Balancer::new(LbPolicy::ConsistentHash, Some("client_ip"), &[1, 1, 1], 0);
        let mut moved = 0;
        for h in 0..1000u64 {
            let key = h.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let a = b3
                .pick(3, &[1, 1, 1], &|_| 0, &|_| true, Some(key))
                .unwrap();
            assert_eq!(
                Some(a),
                b3.pick(3, &[1, 1, 1], &|_| 0, &|_| true, Some(key))
            );
            // Endpoint 2 goes down: only its keys move.
            let b = b2
                .pick(3, &[1, 1, 1], &|_| 0, &|i| i != 2, Some(key))
                .unwrap();
            if a != 2 {
                assert_eq!(a, b);
            } else {
                moved += 1;
            }
        }
        assert!(moved > 200 && moved < 480, "{moved}");
    }
}
