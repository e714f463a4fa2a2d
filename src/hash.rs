//! Hashing, one of each kind: a fast unkeyed hasher for in-memory tables (rustc-hash's FxHash)
//! and a stable hash (FNV-1a) for values that must hash the same on every run and machine
//! (JSON-RPC ids, job identities, cross-validation folds).
//!
//! Unkeyed hashing is safe where it is used. The flow table and the conversation table are
//! keyed by tuples a capture chooses, but their caps bound the damage of collisions; the feed
//! matcher's tables are keyed by the feeds (trusted, loaded once), and traffic only looks values
//! up, which cannot lengthen a probe sequence.

use std::collections::HashMap;

pub use rustc_hash::FxBuildHasher;

/// A `HashMap` with [`FxBuildHasher`].
pub type FastMap<K, V> = HashMap<K, V, FxBuildHasher>;

/// 64-bit FNV-1a of `bytes`.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    fnv1a_seeded(0, bytes)
}

/// 64-bit FNV-1a with a seed folded into the offset basis (a seed of 0 is plain FNV-1a).
pub fn fnv1a_seeded(seed: u64, bytes: &[u8]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed.wrapping_mul(PRIME);
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(PRIME);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_reference_values() {
        // The published FNV-1a 64 test vectors.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
        assert_ne!(fnv1a_seeded(7, b"a"), fnv1a(b"a"));
    }
}
