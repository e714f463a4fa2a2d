//! A small, fast, unkeyed hasher for the matcher's tables. The standard library's SipHash is
//! keyed to resist collision flooding, which matters when an adversary chooses the *keys* of a
//! table. Here every key comes from the feeds (trusted, loaded once); traffic only *looks up*
//! values, and a lookup cannot lengthen a probe sequence, so the cheaper hash is safe and
//! roughly halves the cost of a miss on short domain names.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` with [`WordHasher`].
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<WordHasher>>;

/// Odd 64-bit constant derived from the golden ratio: multiplying by it spreads every input
/// bit into the high bits.
const MIX: u64 = 0x9e37_79b9_7f4a_7c15;

/// Consumes input eight bytes at a time (xor, multiply, shift) and finalises with one more
/// multiply-shift, so both the high bits (hashbrown's control bytes) and the low bits (its
/// bucket index) depend on every input byte.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct WordHasher(u64);

impl WordHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        let h = (self.0 ^ word).wrapping_mul(MIX);
        self.0 = h ^ (h >> 29);
    }
}

impl Hasher for WordHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            // The length tag keeps "ab" and "ab\0" apart.
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_u128(&mut self, i: u128) {
        self.add(i as u64);
        self.add((i >> 64) as u64);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        let h = self.0.wrapping_mul(MIX);
        h ^ (h >> 32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, BuildHasherDefault};

    fn h(s: &str) -> u64 {
        BuildHasherDefault::<WordHasher>::default().hash_one(s)
    }

    #[test]
    fn distinct_inputs_hash_apart() {
        let names = [
            "",
            "a",
            "ab",
            "ab\0",
            "pool.example",
            "pool.examplf",
            "xmr.pool.example",
        ];
        let hashes: std::collections::HashSet<u64> = names.iter().map(|n| h(n)).collect();
        assert_eq!(hashes.len(), names.len());
    }

    #[test]
    fn map_works_with_borrowed_lookups() {
        let mut m: FastMap<Box<str>, u32> = FastMap::default();
        m.insert("pool.example".into(), 1);
        assert_eq!(m.get("pool.example"), Some(&1));
        assert_eq!(m.get("pool.exampl"), None);
    }
}
