//! Hash tables for a million prefixes: cheap prefix hashes and a sharded table whose memory per entry stays flat as it grows.
//!
//! The Loc-RIB and the FIB's desired table each hold one entry per
//! prefix, and at a million prefixes their bytes dominate the agent's
//! memory. Two properties of a plain power-of-two hash table hurt there:
//!
//! - its load factor saws between 7/16 and 7/8: just past a doubling
//!   (e.g. at 1,000,000 entries, past 917,504) every entry costs twice
//!   what it did just before;
//! - while it doubles, the old and the new table are both allocated, so
//!   the peak is 1.5× the table.
//!
//! [`Sharded`] splits the entries over [`SHARDS`] tables by hash, in
//! unequal shares (geometrically spaced within a factor of 2): the shards
//! cross their doubling thresholds at different totals, so the average
//! load stays near the middle of the saw at any size (~29 octets per
//! 16-octet entry instead of 19-36), and a doubling only ever copies one
//! shard.

use hashbrown::HashTable;

/// Number of shards.
pub const SHARDS: usize = 8;

/// The murmur3 64-bit finaliser: every output bit depends on every input bit.
pub fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Hash of an IPv4 prefix that keeps neighbouring /24s in neighbouring
/// buckets. A route table arrives largely in address order (a BGP peer
/// sends its table sorted), and at a million entries every random probe
/// is a cache and TLB miss; with this the probes of a sorted load walk
/// memory sequentially. The bucket bits are the /24 index XOR a mix of
/// the rest (last octet and length), so prefixes inside one /24 or of
/// other lengths still scatter; the 7 tag bits (the top of the hash,
/// which the table compares first) are a full mix of the key.
pub fn v4_hash(addr: u32, len: u8) -> u64 {
    let k = (u64::from(addr) << 8) | u64::from(len);
    let slash24 = k >> 16;
    let spread = fmix64((k & 0xffff) + 1);
    ((slash24 ^ spread) & 0x01ff_ffff_ffff_ffff) | (fmix64(k) & 0xfe00_0000_0000_0000)
}

/// Shard of each value of a hash's top byte (after a re-mix, so the shard
/// is independent of the bucket and tag bits): shard `i` gets a share
/// proportional to 2^(i/SHARDS).
const SHARD_OF: [u8; 256] = shard_map();

const fn shard_map() -> [u8; 256] {
    // Shares of 256 proportional to 2^(i/8), i = 0..8, rounded to sum 256.
    const SHARE: [usize; SHARDS] = [23, 25, 28, 30, 33, 36, 39, 42];
    let mut map = [0u8; 256];
    let (mut shard, mut filled, mut i) = (0, 0, 0);
    while i < 256 {
        if i - filled == SHARE[shard] {
            filled = i;
            shard += 1;
        }
        map[i] = shard as u8;
        i += 1;
    }
    map
}

fn shard(hash: u64) -> usize {
    usize::from(SHARD_OF[(fmix64(hash) >> 56) as usize])
}

/// A hash table split into [`SHARDS`] unequal shards. The caller supplies
/// each entry's hash (the same function for lookups and for `hash_of`),
/// so an entry can pack its key with its value.
#[derive(Debug)]
pub struct Sharded<T> {
    shards: [HashTable<T>; SHARDS],
}

impl<T> Default for Sharded<T> {
    fn default() -> Self {
        Sharded {
            shards: std::array::from_fn(|_| HashTable::new()),
        }
    }
}

impl<T> Sharded<T> {
    pub fn len(&self) -> usize {
        self.shards.iter().map(HashTable::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.shards.iter().all(HashTable::is_empty)
    }

    pub fn find(&self, hash: u64, eq: impl FnMut(&T) -> bool) -> Option<&T> {
        self.shards[shard(hash)].find(hash, eq)
    }

    pub fn find_mut(&mut self, hash: u64, eq: impl FnMut(&T) -> bool) -> Option<&mut T> {
        self.shards[shard(hash)].find_mut(hash, eq)
    }

    /// The entry matching `eq`, inserted from `make` if absent.
    pub fn find_or_insert(
        &mut self,
        hash: u64,
        eq: impl FnMut(&T) -> bool,
        hash_of: impl Fn(&T) -> u64,
        make: impl FnOnce() -> T,
    ) -> &mut T {
        self.shards[shard(hash)]
            .entry(hash, eq, hash_of)
            .or_insert_with(make)
            .into_mut()
    }

    pub fn remove(&mut self, hash: u64, eq: impl FnMut(&T) -> bool) -> Option<T> {
        match self.shards[shard(hash)].find_entry(hash, eq) {
            Ok(e) => Some(e.remove().0),
            Err(_) => None,
        }
    }

    /// Room for `additional` more entries, spread over the shards in
    /// their shares.
    pub fn reserve(&mut self, additional: usize, hash_of: impl Fn(&T) -> u64) {
        let mut counts = [0usize; SHARDS];
        for s in SHARD_OF {
            counts[usize::from(s)] += 1;
        }
        for (t, c) in self.shards.iter_mut().zip(counts) {
            t.reserve(additional * c / 256 + 1, &hash_of);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.shards.iter().flat_map(HashTable::iter)
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.shards.iter_mut().flat_map(HashTable::iter_mut)
    }

    /// Octets allocated (entries, control bytes and empty slots).
    pub fn allocation_size(&self) -> usize {
        self.shards.iter().map(HashTable::allocation_size).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_cover_every_byte_and_grow() {
        let mut counts = [0usize; SHARDS];
        for s in SHARD_OF {
            counts[usize::from(s)] += 1;
        }
        assert_eq!(counts.iter().sum::<usize>(), 256);
        assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
        assert!(counts[SHARDS - 1] < 2 * counts[0], "{counts:?}");
    }

    #[test]
    fn insert_find_remove() {
        let mut t: Sharded<(u32, u32)> = Sharded::default();
        let h = |k: u32| v4_hash(k << 8, 24);
        for k in 0..10_000u32 {
            *t.find_or_insert(h(k), |e| e.0 == k, |e| h(e.0), || (k, 0)) = (k, k * 2);
        }
        assert_eq!(t.len(), 10_000);
        assert_eq!(t.find(h(77), |e| e.0 == 77), Some(&(77, 154)));
        assert_eq!(t.remove(h(77), |e| e.0 == 77), Some((77, 154)));
        assert_eq!(t.find(h(77), |e| e.0 == 77), None);
        assert_eq!(t.iter().count(), 9_999);
        // Every shard holds some of a sorted load.
        assert!(t.shards.iter().all(|s| s.len() > 500));
    }

    #[test]
    fn memory_per_entry_stays_flat_across_a_doubling() {
        // A single table of 16-octet entries costs ~36 octets per entry
        // just past 917,504 entries; the shards stay well below.
        let mut t: Sharded<[u32; 4]> = Sharded::default();
        let h = |k: u32| v4_hash(k << 8, 24);
        for k in 0..1_000_000u32 {
            t.find_or_insert(h(k), |e| e[0] == k, |e| h(e[0]), || [k, 0, 0, 0]);
        }
        let per = t.allocation_size() / t.len();
        assert!(per <= 31, "{per} octets per entry");
    }
}
