//! Pool: `capacity` fixed-size nodes handed out by index, with a lock-free free list.
//!
//! # Layout (FORMAT.md §5.6)
//!
//! | off | size            | field                                           |
//! |-----|-----------------|-------------------------------------------------|
//! | 0   | 8               | `free_head` u64 = `(generation << 32) \| index` |
//! | 8   | 4               | `allocated` u32                                 |
//! | 12  | 4               | `padding` u32                                   |
//! | 16  | 4               | `capacity` u32                                  |
//! | 20  | 4               | `elem_size` u32                                 |
//! | 24  | capacity × node | nodes `{T data; u32 next}` (natural C layout)   |
//!
//! `node = align_up(align_up(size_of T, 4) + 4, max(4, align_of T))`. The free list starts
//! as 0 → 1 → … → capacity−1 → `0xFFFFFFFF`.
//!
//! Handles are **indices** (`u32`), the same in every process, not pointers (upstream C++
//! returns process-local pointers, FORMAT.md D-11).
//!
//! # Double frees and foreign indices
//!
//! While a node is allocated, the format leaves its `next` word unused. zeroipc stores
//! `0xFFFFFFFE` there when it hands the node out, and [`Pool::free`] claims the node by
//! swapping that mark for a link with one CAS. A double free, a free of a node that is on
//! the free list, and any index ≥ capacity are refused ([`PoolError::NotAllocated`],
//! [`PoolError::OutOfRange`]); two concurrent frees of one node cannot both succeed. Nodes
//! allocated by upstream peers carry no mark, so zeroipc refuses to free them too (their
//! `next` holds a stale link indistinguishable from a free node's). Capacity is therefore
//! limited to `0xFFFFFFFD` nodes.
//!
//! Every index read from the segment (`free_head`, `next` links) is checked against the
//! capacity before it is used; a bad one is [`PoolError::Corrupt`], and walking the list
//! ([`Pool::free_list`]) stops after `capacity` nodes (a cycle).
//!
//! # Synchronization
//!
//! | store (Release)                 | load (Acquire)                  | publishes                      |
//! |---------------------------------|---------------------------------|--------------------------------|
//! | `free_head` CAS in `free`       | `free_head` in `allocate`       | the node's link and the data its last holder wrote |
//! | `free_head` CAS in `allocate`   | `free_head` in `allocate`/`free` | the new head                   |
//!
//! Element bytes are copied with Relaxed word accesses ([`Pool::get`], [`Pool::set`]): the
//! pool does not synchronise holders with readers; hand an index to another process through
//! a synchronising structure (a Queue message, a Map insert). `allocated` is a Relaxed
//! statistic.
//!
//! # Process death
//!
//! A node held by a process that dies is leaked (no one else may free it). A process killed
//! inside `allocate` after its CAS leaks the node it popped; one killed inside `free`
//! before its CAS leaks the node it was freeing. The list itself is never broken: it only
//! changes by single CASes of `free_head`.
//!
//! # Examples
//!
//! ```
//! use zeroipc::{Segment, SegmentOptions, structures::{Pool, pool::PoolError}};
//! # let name = format!("/zeroipc-doc-pool-{}", std::process::id());
//! let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
//! let pool: Pool<[f64; 4]> = Pool::create(&seg, "vectors", 2)?;
//! let a = pool.allocate()?;
//! pool.set(a, [1.0, 2.0, 3.0, 4.0])?;
//!
//! // Another process, given the index `a`:
//! let peer = Segment::open(&name)?;
//! let pool: Pool<[f64; 4]> = Pool::open(&peer, "vectors")?;
//! assert_eq!(pool.get(a)?, [1.0, 2.0, 3.0, 4.0]);
//! pool.free(a)?;
//! assert!(matches!(pool.free(a), Err(PoolError::NotAllocated { .. })));
//! # Segment::unlink(&name)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;
use core::marker::PhantomData;
use core::mem::{align_of, size_of};
use std::error::Error;

use super::pod;
use crate::Element;
use crate::error::{Corruption, StructureError};
use crate::layout::pool::{
    MAX_POOL_CAPACITY, NULL_INDEX, POOL_HEADER_LEN, PoolHeader, node_layout, pool_size, unpack_head,
};
use crate::loom::AtomicU32;
use crate::loom::Ordering::{Acquire, Relaxed};
use crate::raw::pool::{Links, PoolFault, RawPool};
use crate::segment::region::Region;
use crate::segment::{CatalogKind, Record};
use crate::segment::{Entry, Segment};

/// Why a Pool operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PoolError {
    /// Every node is allocated.
    Exhausted {
        /// The capacity.
        capacity: usize,
    },
    /// The index is not below the capacity.
    OutOfRange {
        /// The index.
        index: usize,
        /// The capacity.
        capacity: usize,
    },
    /// `free` of a node zeroipc did not hand out, or already took back: a double free, a
    /// node on the free list, or a node allocated by an upstream peer (no mark).
    NotAllocated {
        /// The index.
        index: usize,
        /// The node's `next` word (a link, where an allocated node has `0xFFFFFFFE`).
        next: u32,
    },
    /// The pool's bytes break the format (a free-list index out of range, a cycle).
    Corrupt(Corruption),
    /// The free list's head kept changing under the operation for `attempts` attempts in a
    /// row: a peer that rewrites it without finishing operations (hostile or corrupt).
    /// `allocate` and `free` never wait, so they give up instead of spinning for as long as
    /// the peer writes; a `free` that gives up leaves the node allocated (still the
    /// caller's). Honest peers lose a CAS only when another operation succeeded, and never
    /// come near the bound.
    Stalled {
        /// Attempts made.
        attempts: u32,
    },
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exhausted { capacity } => write!(
                f,
                "the pool is exhausted: all {capacity} nodes are allocated; expected a free node"
            ),
            Self::OutOfRange { index, capacity } => {
                write!(
                    f,
                    "index {index} out of range for a pool of {capacity} nodes; expected below \
                     {capacity}"
                )
            }
            Self::NotAllocated { index, next } => write!(
                f,
                "node {index} is not allocated (next = {next:#010x}, expected 0xfffffffe): double \
                 free or foreign index"
            ),
            Self::Corrupt(c) => write!(f, "corrupt structure: {c}"),
            Self::Stalled { attempts } => write!(
                f,
                "the pool's free list changed under {attempts} attempts in a row (a peer that \
                 keeps rewriting it); expected an operation to get through"
            ),
        }
    }
}

impl Error for PoolError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Corrupt(c) => Some(c),
            _ => None,
        }
    }
}

/// Validated geometry.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    header: u64,
    nodes: u64,
    capacity: u32,
    next_off: u64,
    node_size: u64,
}

/// The nodes' `next` words in the segment.
struct SegLinks<'a> {
    region: &'a Region,
    geo: Geometry,
}

impl Links for SegLinks<'_> {
    fn next(&self, i: u32) -> &AtomicU32 {
        let at = self.geo.nodes + u64::from(i) * self.geo.node_size + self.geo.next_off;
        // `i < capacity` (the raw pool checks) and the node range was validated at open.
        self.region
            .header::<AtomicU32>(at)
            .expect("node range validated at open")
    }
}

/// A pool of `T` nodes in a segment. See the [module docs](self).
pub struct Pool<T: Element> {
    seg: Segment,
    entry: Entry,
    geo: Geometry,
    _t: PhantomData<fn() -> T>,
}

impl<T: Element> Clone for Pool<T> {
    fn clone(&self) -> Self {
        Self {
            seg: self.seg.clone(),
            entry: self.entry.clone(),
            geo: self.geo,
            _t: PhantomData,
        }
    }
}

impl<T: Element> fmt::Debug for Pool<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("name", self.entry.name())
            .field("offset", &self.entry.offset())
            .field("capacity", &self.geo.capacity)
            .field("node_size", &self.geo.node_size)
            .finish_non_exhaustive()
    }
}

impl<T: Element> Pool<T> {
    const CHECK: () = {
        assert!(
            align_of::<T>() <= 8,
            "zeroipc elements must have an alignment of at most 8"
        );
        assert!(
            size_of::<T>() > 0,
            "zeroipc elements must not be zero-sized"
        );
        assert!(size_of::<T>() <= u32::MAX as usize - 8);
    };

    fn node() -> (u64, u64) {
        node_layout(size_of::<T>() as u64, align_of::<T>() as u64)
            .expect("a type's size is far below u64::MAX")
    }

    /// Creates a pool of `capacity` free nodes named `name` (byte-identical to C++
    /// `Pool<T>(mem, name, capacity)`).
    ///
    /// # Errors
    ///
    /// [`StructureError::InvalidCapacity`] for 0, more than `0xFFFFFFFD`, or a size that
    /// overflows; [`StructureError::Table`] if the name is taken, the table is full or the
    /// segment is out of space.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Pool};
    /// # let name = format!("/zeroipc-doc-pool-create-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let p: Pool<f64> = Pool::create(&seg, "p", 6)?;
    /// assert_eq!(p.entry().size(), 24 + 6 * 16);
    /// assert_eq!(p.free_list()?, vec![0, 1, 2, 3, 4, 5]);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create(seg: &Segment, name: &str, capacity: usize) -> Result<Self, StructureError> {
        let () = Self::CHECK;
        let requested = u64::try_from(capacity).unwrap_or(u64::MAX);
        let capacity = match u32::try_from(capacity) {
            Ok(c) if c != 0 && c <= MAX_POOL_CAPACITY => c,
            _ => {
                return Err(StructureError::InvalidCapacity {
                    requested,
                    reason: "a pool needs 1 to 0xFFFFFFFD nodes",
                });
            }
        };
        let (next_off, node_size) = Self::node();
        let size =
            pool_size(u64::from(capacity), node_size).ok_or(StructureError::InvalidCapacity {
                requested: u64::from(capacity),
                reason: "the pool's size overflows",
            })?;
        #[allow(clippy::cast_possible_truncation)] // CHECK: the size fits in u32
        let entry = seg.allocate(name, size, |region, at| -> Result<(), StructureError> {
            let h: &PoolHeader = region.header(at)?;
            // ORDERING: Relaxed (all stores here) — published with the entry (Release of
            // `entry_count`). `free_head` = (0, 0), `allocated` and `padding` stay 0.
            h.capacity.store(capacity, Relaxed);
            h.elem_size.store(size_of::<T>() as u32, Relaxed);
            for i in 0..capacity {
                let link = if i + 1 == capacity { NULL_INDEX } else { i + 1 };
                let next: &AtomicU32 =
                    region.header(at + POOL_HEADER_LEN + u64::from(i) * node_size + next_off)?;
                next.store(link, Relaxed);
            }
            Ok(())
        })?;
        seg.record(&Record::new(CatalogKind::Pool, name, &entry).elem::<T>());
        let geo = Self::geometry(seg, &entry, capacity)?;
        Ok(Self {
            seg: seg.clone(),
            entry,
            geo,
            _t: PhantomData,
        })
    }

    fn geometry(seg: &Segment, entry: &Entry, capacity: u32) -> Result<Geometry, Corruption> {
        let (next_off, node_size) = Self::node();
        let nodes = entry.offset() + POOL_HEADER_LEN;
        seg.region()
            .check(nodes, u64::from(capacity).saturating_mul(node_size), 4)?;
        Ok(Geometry {
            header: entry.offset(),
            nodes,
            capacity,
            next_off,
            node_size,
        })
    }

    /// Opens the pool named `name`, validating its header against `T` and the entry.
    ///
    /// # Errors
    ///
    /// [`StructureError::Table`] (`NotFound`) if there is no such entry;
    /// [`StructureError::ElementSize`] if `elem_size` differs from `T`'s size;
    /// [`StructureError::Foreign`] for a pool a Python creator laid out with alignment 4
    /// for an 8-aligned `T` (FORMAT.md IH-13); [`StructureError::Corrupt`] for a capacity of
    /// 0, above `0xFFFFFFFD`, or not matching the entry size.
    /// [`StructureError::KindMismatch`] or [`StructureError::TypeMismatch`] if the
    /// segment's type catalog records another kind or element type for `name` (checked
    /// after the bytes; see [`Segment::unchecked`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Pool};
    /// # let name = format!("/zeroipc-doc-pool-open-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// Pool::<u32>::create(&seg, "p", 4)?;
    /// let p: Pool<u32> = Pool::open(&seg, "p")?;
    /// assert_eq!(p.capacity(), 4);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(seg: &Segment, name: &str) -> Result<Self, StructureError> {
        let () = Self::CHECK;
        let entry = seg.find(name)?;
        let entry_name = || entry.name().to_string();
        if entry.size() < POOL_HEADER_LEN {
            return Err(Corruption::field(
                entry_name(),
                "entry size",
                entry.size(),
                format!("at least {POOL_HEADER_LEN} (the pool header)"),
            )
            .into());
        }
        let h: &PoolHeader = seg.region().header(entry.offset())?;
        // ORDERING: Relaxed — published by the Acquire load of `entry_count`; validated.
        let (capacity, es) = (h.capacity.load(Relaxed), h.elem_size.load(Relaxed));
        let expected = size_of::<T>() as u64;
        if u64::from(es) != expected {
            return Err(StructureError::ElementSize {
                entry: entry_name(),
                stored: u64::from(es),
                expected,
            });
        }
        if capacity == 0 || capacity > MAX_POOL_CAPACITY {
            return Err(Corruption::field(
                entry_name(),
                "capacity",
                u64::from(capacity),
                "1 to 0xFFFFFFFD",
            )
            .into());
        }
        let (_, node_size) = Self::node();
        if pool_size(u64::from(capacity), node_size) != Some(entry.size()) {
            let (_, py_node) = node_layout(expected, 4).unwrap_or((0, 0));
            if py_node != node_size && pool_size(u64::from(capacity), py_node) == Some(entry.size())
            {
                return Err(StructureError::Foreign {
                    entry: entry_name(),
                    format: "Python implementation's Pool (alignment-4 nodes)",
                    detail: format!(
                        "node size {py_node} (the element laid out with alignment 4); C++ and \
                         zeroipc use {node_size} for this type"
                    ),
                });
            }
            return Err(Corruption::field(
                entry_name(),
                "capacity",
                u64::from(capacity),
                format!("(entry size {} - 24) / {node_size}", entry.size()),
            )
            .into());
        }
        let geo = Self::geometry(seg, &entry, capacity)?;
        seg.check_catalog(&Record::new(CatalogKind::Pool, name, &entry).elem::<T>())?;
        Ok(Self {
            seg: seg.clone(),
            entry,
            geo,
            _t: PhantomData,
        })
    }

    fn header(&self) -> &PoolHeader {
        self.seg
            .region()
            .header(self.geo.header)
            .expect("header validated at open")
    }

    fn raw(&self) -> RawPool<'_, SegLinks<'_>> {
        let h = self.header();
        RawPool {
            head: &h.free_head,
            allocated: &h.allocated,
            capacity: self.geo.capacity,
            links: SegLinks {
                region: self.seg.region(),
                geo: self.geo,
            },
        }
    }

    fn err(&self, f: PoolFault) -> PoolError {
        let capacity = self.geo.capacity;
        let cap = capacity as usize;
        let entry = || self.entry.name().to_string();
        match f {
            PoolFault::Exhausted => PoolError::Exhausted { capacity: cap },
            PoolFault::Contended { attempts } => PoolError::Stalled { attempts },
            PoolFault::OutOfRange { index } => PoolError::OutOfRange {
                index: index as usize,
                capacity: cap,
            },
            PoolFault::NotAllocated { index, found } => PoolError::NotAllocated {
                index: index as usize,
                next: found,
            },
            PoolFault::HeadIndex { found } => PoolError::Corrupt(Corruption::field(
                entry(),
                "free_head index",
                u64::from(found),
                format!("below the capacity {capacity}, or 0xFFFFFFFF"),
            )),
            PoolFault::NextIndex { node, found } => PoolError::Corrupt(Corruption::field(
                entry(),
                "next",
                u64::from(found),
                format!("a free-list link of node {node}: below {capacity}, or 0xFFFFFFFF"),
            )),
            PoolFault::Cycle => PoolError::Corrupt(Corruption::field(
                entry(),
                "free list",
                u64::from(capacity) + 1,
                format!("at most {capacity} nodes (the list has a cycle)"),
            )),
        }
    }

    /// Takes a free node; returns its index. The node's data is whatever its last holder
    /// left (as upstream).
    ///
    /// # Errors
    ///
    /// [`PoolError::Exhausted`] if no node is free; [`PoolError::Corrupt`] if the free list
    /// holds an index out of range.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::{Pool, pool::PoolError}};
    /// # let name = format!("/zeroipc-doc-pool-alloc-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let p: Pool<u32> = Pool::create(&seg, "p", 1)?;
    /// assert_eq!(p.allocate()?, 0);
    /// assert_eq!(p.allocate(), Err(PoolError::Exhausted { capacity: 1 }));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn allocate(&self) -> Result<usize, PoolError> {
        self.raw()
            .allocate()
            .map(|i| i as usize)
            .map_err(|f| self.err(f))
    }

    /// Returns node `index` to the pool.
    ///
    /// # Errors
    ///
    /// [`PoolError::OutOfRange`] for `index >= capacity()`; [`PoolError::NotAllocated`] for
    /// a node that is not currently allocated by zeroipc (double free, or never handed out).
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::{Pool, pool::PoolError}};
    /// # let name = format!("/zeroipc-doc-pool-free-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let p: Pool<u32> = Pool::create(&seg, "p", 2)?;
    /// let i = p.allocate()?;
    /// p.free(i)?;
    /// assert!(matches!(p.free(i), Err(PoolError::NotAllocated { .. })));
    /// assert!(matches!(p.free(7), Err(PoolError::OutOfRange { .. })));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn free(&self, index: usize) -> Result<(), PoolError> {
        let i = self.wire_index(index)?;
        self.raw().free(i).map_err(|f| self.err(f))
    }

    /// `index` as the wire's u32, if it is below the capacity.
    fn wire_index(&self, index: usize) -> Result<u32, PoolError> {
        match u32::try_from(index) {
            Ok(i) if i < self.geo.capacity => Ok(i),
            _ => Err(PoolError::OutOfRange {
                index,
                capacity: self.capacity(),
            }),
        }
    }

    fn data_at(&self, index: usize) -> Result<u64, PoolError> {
        let i = self.wire_index(index)?;
        Ok(self.geo.nodes + u64::from(i) * self.geo.node_size)
    }

    /// Copies node `index`'s data (Relaxed words; see the module docs).
    ///
    /// # Errors
    ///
    /// [`PoolError::OutOfRange`] for `index >= capacity()`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Pool};
    /// # let name = format!("/zeroipc-doc-pool-get-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let p: Pool<i64> = Pool::create(&seg, "p", 2)?;
    /// let i = p.allocate()?;
    /// p.set(i, -5)?;
    /// assert_eq!(p.get(i)?, -5);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get(&self, index: usize) -> Result<T, PoolError> {
        let at = self.data_at(index)?;
        pod::load(self.seg.region(), at).map_err(PoolError::Corrupt)
    }

    /// Stores `value` into node `index` (Relaxed words).
    ///
    /// # Errors
    ///
    /// [`PoolError::OutOfRange`] for `index >= capacity()`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Pool};
    /// # let name = format!("/zeroipc-doc-pool-set-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let p: Pool<u16> = Pool::create(&seg, "p", 4)?;
    /// let i = p.allocate()?;
    /// p.set(i, 44)?;
    /// assert_eq!((p.allocated(), p.capacity()), (1, 4));
    /// assert_eq!(p.free_head(), (1, 1)); // generation 1, next free node 1
    /// assert_eq!(p.free_list()?, vec![1, 2, 3]);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set(&self, index: usize, value: T) -> Result<(), PoolError> {
        let at = self.data_at(index)?;
        pod::store(self.seg.region(), at, &value).map_err(PoolError::Corrupt)
    }

    /// The `allocated` counter (a Relaxed statistic). The counter is written by peers (and
    /// not updated atomically with the free list by upstream): a value above the capacity
    /// is clamped to the capacity.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Pool};
    /// # let name = format!("/zeroipc-doc-pool-allocated-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let p: Pool<u8> = Pool::create(&seg, "p", 3)?;
    /// p.allocate()?;
    /// assert_eq!(p.allocated(), 1);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn allocated(&self) -> usize {
        // ORDERING: Relaxed — a statistic.
        let n = self.header().allocated.load(Relaxed);
        n.min(self.geo.capacity) as usize
    }

    /// Number of nodes.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Pool};
    /// # let name = format!("/zeroipc-doc-pool-capacity-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let p: Pool<u8> = Pool::create(&seg, "p", 3)?;
    /// assert_eq!(p.capacity(), 3);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.geo.capacity as usize
    }

    /// `(generation, index)` of the free-list head, the two halves of the raw `free_head`
    /// word, for inspection (`index` 0xFFFFFFFF: exhausted).
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Pool};
    /// # let name = format!("/zeroipc-doc-pool-free-head-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let p: Pool<u8> = Pool::create(&seg, "p", 1)?;
    /// assert_eq!(p.free_head(), (0, 0));
    /// p.allocate()?;
    /// assert_eq!(p.free_head(), (1, 0xFFFF_FFFF));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn free_head(&self) -> (u32, u32) {
        // ORDERING: Acquire — pairs with the Release CASes of `free_head`; inspection.
        unpack_head(self.header().free_head.load(Acquire))
    }

    /// The free list from its head, for inspection (a racy snapshot while others allocate
    /// and free).
    ///
    /// # Errors
    ///
    /// [`PoolError::Corrupt`] for a link out of range or a list longer than the capacity.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Pool};
    /// # let name = format!("/zeroipc-doc-pool-free-list-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let p: Pool<u8> = Pool::create(&seg, "p", 3)?;
    /// p.allocate()?;
    /// assert_eq!(p.free_list()?, vec![1, 2]);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn free_list(&self) -> Result<Vec<usize>, PoolError> {
        self.raw()
            .free_list()
            .map(|l| l.into_iter().map(|i| i as usize).collect())
            .map_err(|f| self.err(f))
    }

    /// Length of the free list (walked from the head, bounded by the capacity).
    ///
    /// # Errors
    ///
    /// As [`Pool::free_list`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Pool};
    /// # let name = format!("/zeroipc-doc-pool-free-len-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let p: Pool<u8> = Pool::create(&seg, "p", 3)?;
    /// p.allocate()?;
    /// assert_eq!(p.free_len()?, 2);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn free_len(&self) -> Result<usize, PoolError> {
        // At most `capacity` entries: `free_list` stops there.
        self.free_list().map(|l| l.len())
    }

    /// The table entry this pool lives in.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Pool};
    /// # let name = format!("/zeroipc-doc-pool-entry-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let p: Pool<u8> = Pool::create(&seg, "nodes", 3)?;
    /// assert_eq!(p.entry().name(), "nodes");
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// The segment this pool lives in.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Pool};
    /// # let name = format!("/zeroipc-doc-pool-segment-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let p: Pool<u8> = Pool::create(&seg, "nodes", 3)?;
    /// assert!(p.segment().find("nodes").is_ok());
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn segment(&self) -> &Segment {
        &self.seg
    }
}
