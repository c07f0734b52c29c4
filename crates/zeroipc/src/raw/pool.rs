//! The Pool's free list: a Treiber stack of node indices with a generation-tagged head
//! (FORMAT.md §5.6), over a view (`&AtomicU64` head, `&AtomicU32` counter, the nodes' `next`
//! words). No addresses, no system calls: loom runs it on the heap.
//!
//! # Synchronization
//!
//! | store (Release)                     | load (Acquire)                  | publishes                          |
//! |-------------------------------------|---------------------------------|------------------------------------|
//! | `free_head` CAS in [`RawPool::free`] | `free_head` in [`RawPool::allocate`] | the node's `next` link and the bytes its holder wrote |
//! | `free_head` CAS in `allocate`       | `free_head` in `allocate`/`free` | the new head (chains the pops)     |
//!
//! Every successful CAS adds 1 (mod 2^32) to the generation in the head's high half, so a
//! stale `(generation, index)` never matches again (the ABA problem) until 2^32 further
//! operations happen between one thread's load and its CAS.
//!
//! # Double frees (FORMAT.md D-11)
//!
//! A node on the free list holds a link (an index or [`NULL_INDEX`]) in `next`. zeroipc
//! stores [`ALLOCATED`] there when it hands the node out (the format leaves `next` unused
//! while a node is allocated), and [`RawPool::free`] first swaps `ALLOCATED` for a link with
//! one CAS: a second free of the same node, or a free of a node that is on the free list,
//! finds no mark and is refused. Upstream peers do not write the mark, so a node they
//! allocated is refused by `free` too. A stale double free that comes after the node was
//! allocated again is indistinguishable from the new holder's free (indices are reused, as
//! pointers are); loom found exactly that interleaving in a first version of the test.
//!
//! # Process death
//!
//! A process killed between its CAS and the `ALLOCATED` store leaves a node off the list
//! with a stale link: the node is leaked (as it would be if its holder died). `allocated`
//! is a statistic (Relaxed, updated after the CAS) and may be off by one.

use crate::layout::pool::{ALLOCATED, NULL_INDEX, pack_head, unpack_head};
use crate::loom::Ordering::{AcqRel, Acquire, Relaxed};
use crate::loom::{AtomicU32, AtomicU64, yield_point};

/// Access to node `i`'s `next` word, for `i < capacity`.
pub(crate) trait Links {
    /// The `next` word of node `i` (`i` is below the validated capacity).
    fn next(&self, i: u32) -> &AtomicU32;
}

/// What went wrong in a free-list operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PoolFault {
    /// No free node.
    Exhausted,
    /// `free` of an index ≥ capacity.
    OutOfRange {
        /// The index.
        index: u32,
    },
    /// `free` of a node that is not allocated (by zeroipc): a double free, or a node on the
    /// free list. `found` is its `next` word.
    NotAllocated {
        /// The index.
        index: u32,
        /// Its `next` word.
        found: u32,
    },
    /// `free_head` names a node ≥ capacity.
    HeadIndex {
        /// The index found.
        found: u32,
    },
    /// A free node's `next` is neither an index < capacity nor the end of the list.
    NextIndex {
        /// The node.
        node: u32,
        /// Its `next` word.
        found: u32,
    },
    /// The free list is longer than the capacity: it has a cycle.
    Cycle,
    /// `free_head` changed under [`MAX_ATTEMPTS`] CAS attempts in a row.
    Contended {
        /// Attempts made.
        attempts: u32,
    },
}

/// CAS attempts one `allocate` or `free` makes before giving up (issue #17: non-blocking
/// calls are bounded whatever a peer keeps writing). A lost CAS means another operation
/// succeeded, so honest contention never comes near it.
pub(crate) const MAX_ATTEMPTS: u32 = 4096;

/// The free list of one pool.
pub(crate) struct RawPool<'a, L: Links> {
    pub(crate) head: &'a AtomicU64,
    pub(crate) allocated: &'a AtomicU32,
    /// Validated: `0 < capacity ≤ MAX_POOL_CAPACITY`.
    pub(crate) capacity: u32,
    pub(crate) links: L,
}

impl<L: Links> RawPool<'_, L> {
    fn is_link(&self, v: u32) -> bool {
        v == NULL_INDEX || v < self.capacity
    }

    /// Pops a free node and marks it [`ALLOCATED`].
    pub(crate) fn allocate(&self) -> Result<u32, PoolFault> {
        for _ in 0..MAX_ATTEMPTS {
            // ORDERING: Acquire — pairs with the Release half of the successful `free_head`
            // CAS in `free` (and `allocate`): the popped node's `next` link is visible.
            let old = self.head.load(Acquire);
            let (generation, index) = unpack_head(old);
            if index == NULL_INDEX {
                return Err(PoolFault::Exhausted);
            }
            if index >= self.capacity {
                return Err(PoolFault::HeadIndex { found: index });
            }
            // ORDERING: Relaxed — ordered after the Acquire load above, which saw the
            // pusher's Release CAS that followed its store of this link.
            let next = self.links.next(index).load(Relaxed);
            if !self.is_link(next) {
                // Either the node was popped (and marked) since our load — then the head
                // moved on — or the list itself is corrupt.
                // ORDERING: Acquire — as above.
                if self.head.load(Acquire) == old {
                    return Err(PoolFault::NextIndex {
                        node: index,
                        found: next,
                    });
                }
                yield_point();
                continue;
            }
            let new = pack_head(generation.wrapping_add(1), next);
            crate::fault::point("pool.allocate.before_cas");
            // ORDERING: AcqRel on success — Acquire as for the load above, Release so the
            // next popper sees this pop's head (C++ uses Release; stronger is compatible).
            // Acquire on failure — the fresh head is used by the next iteration.
            if self
                .head
                .compare_exchange_weak(old, new, AcqRel, Acquire)
                .is_ok()
            {
                crate::fault::point("pool.allocate.after_cas");
                // ORDERING: Relaxed — a statistic; no data depends on it.
                self.allocated.fetch_add(1, Relaxed);
                // ORDERING: Relaxed — the node is ours: it left the list with our CAS and
                // is reachable from no one else until we free it. A later `free` in another
                // process sees the mark through whatever synchronised the index hand-over.
                self.links.next(index).store(ALLOCATED, Relaxed);
                return Ok(index);
            }
            yield_point();
        }
        Err(PoolFault::Contended {
            attempts: MAX_ATTEMPTS,
        })
    }

    /// Pushes node `index` back, refusing indices out of range and nodes not marked
    /// [`ALLOCATED`] (double free, or a node that is free).
    pub(crate) fn free(&self, index: u32) -> Result<(), PoolFault> {
        if index >= self.capacity {
            return Err(PoolFault::OutOfRange { index });
        }
        let node = self.links.next(index);
        // ORDERING: Acquire — as in `allocate`.
        let mut old = self.head.load(Acquire);
        if !self.is_link(unpack_head(old).1) {
            return Err(PoolFault::HeadIndex {
                found: unpack_head(old).1,
            });
        }
        // ORDERING: Relaxed — the CAS only decides which freer owns the node; the link it
        // stores is published by the Release CAS of `free_head` below.
        if let Err(found) = node.compare_exchange(ALLOCATED, unpack_head(old).1, Relaxed, Relaxed) {
            return Err(PoolFault::NotAllocated { index, found });
        }
        crate::fault::point("pool.free.before_cas");
        for _ in 0..MAX_ATTEMPTS {
            let new = pack_head(unpack_head(old).0.wrapping_add(1), index);
            // ORDERING: AcqRel on success — Release pairs with the Acquire load of
            // `free_head` in `allocate`: publishes our `next` link and the element bytes the
            // holder wrote. Acquire on failure — the fresh head is linked below.
            match self.head.compare_exchange_weak(old, new, AcqRel, Acquire) {
                Ok(_) => {
                    crate::fault::point("pool.free.after_cas");
                    // ORDERING: Relaxed — a statistic.
                    self.allocated.fetch_sub(1, Relaxed);
                    return Ok(());
                }
                Err(current) => {
                    old = current;
                    if !self.is_link(unpack_head(old).1) {
                        // Give the node back to its holder rather than link it to garbage.
                        // ORDERING: Relaxed — the node is still ours, off the list.
                        node.store(ALLOCATED, Relaxed);
                        return Err(PoolFault::HeadIndex {
                            found: unpack_head(old).1,
                        });
                    }
                    // ORDERING: Relaxed — the node is still ours (off the list); the link is
                    // published by the next CAS attempt.
                    node.store(unpack_head(old).1, Relaxed);
                    yield_point();
                }
            }
        }
        // Give the node back to its holder, as for a corrupt head.
        // ORDERING: Relaxed — the node is still ours, off the list.
        node.store(ALLOCATED, Relaxed);
        Err(PoolFault::Contended {
            attempts: MAX_ATTEMPTS,
        })
    }

    /// The free list from the head, for inspection (racy under concurrent use). At most
    /// `capacity` nodes; a longer list is a cycle.
    pub(crate) fn free_list(&self) -> Result<Vec<u32>, PoolFault> {
        // ORDERING: Acquire — as in `allocate`.
        let (_, mut index) = unpack_head(self.head.load(Acquire));
        let mut out = Vec::new();
        while index != NULL_INDEX {
            if index >= self.capacity {
                return Err(match out.last() {
                    Some(&node) => PoolFault::NextIndex { node, found: index },
                    None => PoolFault::HeadIndex { found: index },
                });
            }
            if out.len() >= self.capacity as usize {
                return Err(PoolFault::Cycle);
            }
            out.push(index);
            // ORDERING: Relaxed — an inspection snapshot.
            index = self.links.next(index).load(Relaxed);
        }
        Ok(out)
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;

    struct Heap {
        head: AtomicU64,
        allocated: AtomicU32,
        next: Vec<AtomicU32>,
        owner: Vec<AtomicU32>,
    }

    impl Links for &Heap {
        fn next(&self, i: u32) -> &AtomicU32 {
            &self.next[i as usize]
        }
    }

    fn heap(cap: u32) -> Arc<Heap> {
        let next = (0..cap)
            .map(|i| AtomicU32::new(if i + 1 == cap { NULL_INDEX } else { i + 1 }))
            .collect();
        let owner = (0..cap).map(|_| AtomicU32::new(0)).collect();
        Arc::new(Heap {
            head: AtomicU64::new(0),
            allocated: AtomicU32::new(0),
            next,
            owner,
        })
    }

    fn pool(h: &Heap) -> RawPool<'_, &Heap> {
        RawPool {
            head: &h.head,
            allocated: &h.allocated,
            capacity: h.next.len() as u32,
            links: h,
        }
    }

    /// Three threads allocate and free on two nodes: no node is ever held twice (ABA with
    /// generation tags), and the list ends whole. (Negative control: without the generation
    /// increments loom finds an ABA interleaving that loses a node from the list.)
    #[test]
    fn free_list_never_hands_a_node_to_two_holders() {
        loom::model(|| {
            let h = heap(2);
            let threads: Vec<_> = (1..=3u32)
                .map(|id| {
                    let h = h.clone();
                    loom::thread::spawn(move || {
                        let p = pool(&h);
                        {
                            if let Ok(i) = p.allocate() {
                                assert_eq!(
                                    h.owner[i as usize].swap(id, Relaxed),
                                    0,
                                    "node {i} held twice"
                                );
                                assert_eq!(h.owner[i as usize].swap(0, Relaxed), id);
                                p.free(i).unwrap();
                            }
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            let p = pool(&h);
            let mut list = p.free_list().unwrap();
            list.sort_unstable();
            assert_eq!(list, vec![0, 1]);
            assert_eq!(h.allocated.load(Relaxed), 0);
        });
    }

    /// Concurrent double free of one node: exactly one succeeds.
    #[test]
    fn concurrent_double_free_is_refused_once() {
        loom::model(|| {
            let h = heap(2);
            let i = pool(&h).allocate().unwrap();
            let h2 = h.clone();
            let t = loom::thread::spawn(move || pool(&h2).free(i).is_ok());
            let mine = pool(&h).free(i).is_ok();
            let theirs = t.join().unwrap();
            assert!(mine ^ theirs);
            assert_eq!(pool(&h).free_list().unwrap().len(), 2);
        });
    }
}

/// Issue #17: `allocate` and `free` never wait, so a peer that keeps rewriting the free
/// list's head (without finishing operations) ends them after [`MAX_ATTEMPTS`] lost CASes.
#[cfg(all(test, not(loom)))]
mod hostile_tests {
    use super::*;
    use crate::loom::{AtomicU32, AtomicU64};

    /// Two nodes; every read of a node's link is followed by a "peer" bumping the head's
    /// generation, so every `allocate` CAS on the head loses.
    struct Rewritten<'a> {
        nodes: [AtomicU32; 2],
        head: &'a AtomicU64,
    }

    impl Links for Rewritten<'_> {
        fn next(&self, i: u32) -> &AtomicU32 {
            let (generation, index) = unpack_head(self.head.load(Relaxed));
            self.head
                .store(pack_head(generation.wrapping_add(7), index), Relaxed);
            &self.nodes[i as usize]
        }
    }

    #[test]
    fn a_head_rewritten_forever_ends_allocate() {
        let head = AtomicU64::new(pack_head(0, 0));
        let allocated = AtomicU32::new(0);
        let pool = RawPool {
            head: &head,
            allocated: &allocated,
            capacity: 2,
            links: Rewritten {
                nodes: [AtomicU32::new(1), AtomicU32::new(NULL_INDEX)],
                head: &head,
            },
        };
        assert_eq!(
            pool.allocate(),
            Err(PoolFault::Contended {
                attempts: MAX_ATTEMPTS
            })
        );
        // (`free` runs the same bounded loop; its CAS has no hook a test can race.)
        assert_eq!(allocated.load(Relaxed), 0);
    }
}
