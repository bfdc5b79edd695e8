//! Storage of the desired table: entries by prefix (IPv4 in 16-octet slots) and the queue of pending prefixes.
//!
//! At a million prefixes these two structures are most of the FIB's
//! memory, so IPv4 gets a compact layout: the slot is the address plus the
//! entry, whose spare octet holds the prefix length (no separate key, no
//! padding), in a [`Sharded`] table; pending IPv4 prefixes are queued as
//! 5-octet packed keys instead of 18-octet `IpNet`s.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::desired::Entry;
use crate::prefix_table::{Sharded, fmix64, v4_hash};

/// A word-mixing hasher for IPv6 keys (keyed by data podroute validated:
/// flooding resistance buys nothing, and SipHash is a large share of
/// staging a big table).
#[derive(Default, Clone, Copy)]
pub(crate) struct PrefixHasher(u64);

impl Hasher for PrefixHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }

    fn write_u64(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn finish(&self) -> u64 {
        fmix64(self.0)
    }
}

/// An IPv4 slot: the address, and the entry (which carries the length).
#[derive(Debug, Clone, Copy)]
struct V4Slot {
    addr: u32,
    e: Entry,
}

const _: () = assert!(std::mem::size_of::<V4Slot>() == 16);

fn slot_hash(s: &V4Slot) -> u64 {
    v4_hash(s.addr, s.e.len)
}

fn k6(n: &Ipv6Net) -> (u128, u8) {
    (u128::from(n.addr()), n.prefix_len())
}

fn net4(addr: u32, len: u8) -> Option<IpNet> {
    Ipv4Net::new(Ipv4Addr::from(addr), len).ok().map(IpNet::V4)
}

/// Entries by prefix.
#[derive(Debug, Default)]
pub(crate) struct Maps {
    v4: Sharded<V4Slot>,
    v6: HashMap<(u128, u8), Entry, BuildHasherDefault<PrefixHasher>>,
}

impl Maps {
    pub fn get(&self, p: &IpNet) -> Option<&Entry> {
        match p {
            IpNet::V4(n) => {
                let (a, l) = (u32::from(n.addr()), n.prefix_len());
                let s = self
                    .v4
                    .find(v4_hash(a, l), |s| s.addr == a && s.e.len == l)?;
                Some(&s.e)
            }
            IpNet::V6(n) => self.v6.get(&k6(n)),
        }
    }

    pub fn get_mut(&mut self, p: &IpNet) -> Option<&mut Entry> {
        match p {
            IpNet::V4(n) => {
                let (a, l) = (u32::from(n.addr()), n.prefix_len());
                let s = self
                    .v4
                    .find_mut(v4_hash(a, l), |s| s.addr == a && s.e.len == l)?;
                Some(&mut s.e)
            }
            IpNet::V6(n) => self.v6.get_mut(&k6(n)),
        }
    }

    pub fn get_or_insert(&mut self, p: &IpNet) -> &mut Entry {
        let len = p.prefix_len();
        match p {
            IpNet::V4(n) => {
                let a = u32::from(n.addr());
                let s = self.v4.find_or_insert(
                    v4_hash(a, len),
                    |s| s.addr == a && s.e.len == len,
                    slot_hash,
                    || V4Slot {
                        addr: a,
                        e: Entry::new(len),
                    },
                );
                &mut s.e
            }
            IpNet::V6(n) => self.v6.entry(k6(n)).or_insert(Entry::new(len)),
        }
    }

    pub fn remove(&mut self, p: &IpNet) {
        match p {
            IpNet::V4(n) => {
                let (a, l) = (u32::from(n.addr()), n.prefix_len());
                self.v4
                    .remove(v4_hash(a, l), |s| s.addr == a && s.e.len == l);
            }
            IpNet::V6(n) => {
                self.v6.remove(&k6(n));
            }
        }
    }

    pub fn reserve_v4(&mut self, n: usize) {
        self.v4.reserve(n, slot_hash);
    }

    pub fn iter(&self) -> impl Iterator<Item = (IpNet, &Entry)> {
        let v4 = self
            .v4
            .iter()
            .filter_map(|s| Some((net4(s.addr, s.e.len)?, &s.e)));
        let v6 = self.v6.iter().filter_map(|((a, l), e)| {
            let n = Ipv6Net::new(Ipv6Addr::from(*a), *l).ok()?;
            Some((IpNet::V6(n), e))
        });
        v4.chain(v6)
    }

    pub fn for_each_mut(&mut self, mut f: impl FnMut(IpNet, &mut Entry)) {
        for s in self.v4.iter_mut() {
            if let Some(n) = net4(s.addr, s.e.len) {
                f(n, &mut s.e);
            }
        }
        for ((a, l), e) in self.v6.iter_mut() {
            if let Ok(n) = Ipv6Net::new(Ipv6Addr::from(*a), *l) {
                f(IpNet::V6(n), e);
            }
        }
    }
}

fn pack4(n: &Ipv4Net) -> [u8; 5] {
    let [a, b, c, d] = n.addr().octets();
    [a, b, c, d, n.prefix_len()]
}

/// Pending prefixes, first in first out: a peer sends its table in
/// address order, and the kernel's trie takes a sorted load fastest.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    /// IPv4 prefixes packed as address (big-endian) and length.
    v4: VecDeque<[u8; 5]>,
    v6: VecDeque<Ipv6Net>,
}

impl Pending {
    pub fn push(&mut self, p: IpNet) {
        match p {
            IpNet::V4(n) => self.v4.push_back(pack4(&n)),
            IpNet::V6(n) => self.v6.push_back(n),
        }
    }

    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub fn reserve_v4(&mut self, n: usize) {
        self.v4.reserve(n);
    }

    /// Takes the oldest `max` (all with `None`).
    pub fn take(&mut self, max: Option<usize>) -> Vec<IpNet> {
        let max = max.unwrap_or(usize::MAX);
        let n4 = self.v4.len().min(max);
        let n6 = self.v6.len().min(max - n4);
        let mut out = Vec::with_capacity(n4 + n6);
        out.extend(
            self.v4
                .drain(..n4)
                .filter_map(|[a, b, c, d, l]| net4(u32::from_be_bytes([a, b, c, d]), l)),
        );
        out.extend(self.v6.drain(..n6).map(IpNet::V6));
        if self.v4.is_empty() && self.v4.capacity() > 4096 {
            // A million-route load is over: give its queue back.
            self.v4 = VecDeque::new();
        }
        out
    }

    /// Puts back prefixes taken but not processed, ahead of the rest.
    pub fn restore(&mut self, untaken: &[IpNet]) {
        for p in untaken.iter().rev() {
            match p {
                IpNet::V4(n) => self.v4.push_front(pack4(n)),
                IpNet::V6(n) => self.v6.push_front(*n),
            }
        }
    }
}
