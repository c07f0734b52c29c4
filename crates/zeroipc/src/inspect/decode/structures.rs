//! Decoders of the data structures: Array, Queue, Stack, Ring, Pool, Map, Set.

#[allow(clippy::wildcard_imports)] // the decoder's shared vocabulary
use super::*;

impl Ctx<'_> {
    pub(super) fn array(
        &self,
        snap: &Snap,
        kind: &Kind,
        header: u64,
        capacity: u64,
        es: u64,
    ) -> Decoded {
        let mut d = Decoded::new(kind.clone());
        let stored = snap.u64(at!(ArrayHeader, capacity)).unwrap_or(0);
        if stored != capacity {
            d.problem(format!(
                "corrupt: capacity changed to {stored} (classified as {capacity})"
            ));
        }
        d.fill = Some(Fill {
            len: capacity,
            capacity,
        });
        let Some(t) = self.elem(&mut d, es) else {
            return d;
        };
        let mut items = Vec::new();
        for i in 0..capacity {
            let Some(v) = (i < MAX_ITEMS)
                .then(|| snap.read(&t, at(header, i, es)))
                .flatten()
            else {
                d.truncated = true;
                break;
            };
            items.push(Item {
                slot: i,
                key: None,
                value: v,
                state: SlotState::Ready,
            });
        }
        d.contents = Contents::Values(items);
        d
    }

    pub(super) fn queue(&self, snap: &Snap, capacity: u32, elem_size: u32) -> Decoded {
        let (head, tail) = (
            snap.u32(at!(QueueHeader, head)).unwrap_or(0),
            snap.u32(at!(QueueHeader, tail)).unwrap_or(0),
        );
        let mut d = Decoded::new(Kind::Queue {
            capacity,
            elem_size,
            head,
            tail,
        });
        let len = tail.wrapping_sub(head);
        if len > capacity {
            d.problem(format!(
                "corrupt: tail - head = {len} > capacity {capacity}"
            ));
        }
        let shown = len.min(capacity);
        d.fill = Some(Fill {
            len: shown.into(),
            capacity: capacity.into(),
        });
        let (cap, es) = (u64::from(capacity), u64::from(elem_size));
        let Some(t) = self.elem(&mut d, es) else {
            return d;
        };
        let Some(seq_at) = queue_seq_offset(cap, es) else {
            return d;
        };
        let mut items = Vec::new();
        for j in 0..shown {
            let p = head.wrapping_add(j);
            let slot = u64::from(p % capacity.max(1));
            let value = (u64::from(j) < MAX_ITEMS)
                .then(|| snap.read(&t, at(QUEUE_HEADER_LEN, slot, es)))
                .flatten();
            let (Some(value), Some(seq)) = (value, snap.u32(at(seq_at, slot, 4))) else {
                d.truncated = true;
                break;
            };
            let state = if seq == p.wrapping_add(1) {
                SlotState::Ready
            } else if seq == p {
                SlotState::Unpublished
            } else {
                SlotState::Corrupt(seq)
            };
            items.push(Item {
                slot,
                key: None,
                value,
                state,
            });
        }
        d.contents = Contents::Values(items);
        d
    }

    pub(super) fn stack(&self, snap: &Snap, capacity: u32, elem_size: u32) -> Decoded {
        let top = snap.i32(at!(StackHeader, top)).unwrap_or(-1);
        let mut d = Decoded::new(Kind::Stack {
            capacity,
            elem_size,
            top,
        });
        if top < -1 {
            d.problem(format!("corrupt: top {top} < -1"));
        } else if i64::from(top) >= i64::from(capacity) {
            d.problem(format!("corrupt: top {top} >= capacity {capacity}"));
        }
        // Slots 0..=top, clamped into the slots that exist.
        let len = u64::try_from(i64::from(top) + 1)
            .unwrap_or(0)
            .min(capacity.into());
        d.fill = Some(Fill {
            len,
            capacity: capacity.into(),
        });
        let (cap, es) = (u64::from(capacity), u64::from(elem_size));
        let Some(t) = self.elem(&mut d, es) else {
            return d;
        };
        let Some(states_at) = stack_state_offset(cap, es) else {
            return d;
        };
        let mut items = Vec::new();
        for (n, slot) in (0..len).rev().enumerate() {
            let value = (u64::try_from(n).unwrap_or(u64::MAX) < MAX_ITEMS)
                .then(|| snap.read(&t, at(STACK_HEADER_LEN, slot, es)))
                .flatten();
            let (Some(value), Some(state)) = (value, snap.u32(at(states_at, slot, 4))) else {
                d.truncated = true;
                break;
            };
            let state = match state {
                READY => SlotState::Ready,
                WRITING => SlotState::Writing,
                READING => SlotState::Reading,
                EMPTY => SlotState::Empty,
                other => SlotState::Corrupt(other),
            };
            items.push(Item {
                slot,
                key: None,
                value,
                state,
            });
        }
        d.contents = Contents::Values(items);
        d
    }

    pub(super) fn ring(&self, snap: &Snap, capacity: u32, elem_size: u32) -> Decoded {
        let (write_pos, read_pos) = (
            snap.u64(at!(RingHeader, write_pos)).unwrap_or(0),
            snap.u64(at!(RingHeader, read_pos)).unwrap_or(0),
        );
        let mut d = Decoded::new(Kind::Ring {
            capacity,
            elem_size,
            write_pos,
            read_pos,
        });
        let (cap, es) = (u64::from(capacity), u64::from(elem_size).max(1));
        let bytes = if read_pos > write_pos {
            d.problem(format!(
                "corrupt: read_pos {read_pos} > write_pos {write_pos}"
            ));
            0
        } else if write_pos - read_pos > cap {
            d.problem(format!(
                "corrupt: write_pos - read_pos = {} > capacity {cap} bytes",
                write_pos - read_pos
            ));
            cap
        } else {
            write_pos - read_pos
        };
        if bytes % es != 0 || read_pos % es != 0 {
            d.problem(format!(
                "corrupt: positions not multiples of elem_size {es}"
            ));
        }
        let len = bytes / es;
        d.fill = Some(Fill {
            len,
            capacity: cap / es,
        });
        let Some(t) = self.elem(&mut d, es) else {
            return d;
        };
        let mut items = Vec::new();
        let mut buf = Vec::with_capacity(usize::try_from(es).unwrap_or(8));
        for k in 0..len {
            if k >= MAX_ITEMS || cap == 0 {
                d.truncated = true;
                break;
            }
            let pos = read_pos.wrapping_add(k * es);
            buf.clear();
            for b in 0..es {
                match snap.get(RING_HEADER_LEN + pos.wrapping_add(b) % cap, 1) {
                    Some(x) => buf.extend_from_slice(x),
                    None => break,
                }
            }
            let Some(value) = t.read(&buf) else {
                d.truncated = true;
                break;
            };
            items.push(Item {
                slot: pos % cap,
                key: None,
                value,
                state: SlotState::Ready,
            });
        }
        d.contents = Contents::Values(items);
        d
    }

    pub(super) fn pool(
        &self,
        snap: &Snap,
        capacity: u32,
        elem_size: u32,
        node_size: u64,
    ) -> Decoded {
        let (free_head, allocated) = (
            snap.u64(at!(PoolHeader, free_head)).unwrap_or(0),
            snap.u32(at!(PoolHeader, allocated)).unwrap_or(0),
        );
        let mut d = Decoded::new(Kind::Pool {
            capacity,
            elem_size,
            allocated,
            node_size,
            free_head,
        });
        let cap = u64::from(capacity);
        if allocated > capacity {
            d.problem(format!(
                "corrupt: allocated {allocated} > capacity {capacity}"
            ));
        }
        d.fill = Some(Fill {
            len: u64::from(allocated.min(capacity)),
            capacity: cap,
        });
        // Walk the free list, bounded by the capacity: every index in range, no cycle.
        let next_off = node_layout(elem_size.into(), 1).map_or(0, |(off, _)| off);
        let (_, mut idx) = unpack_head(free_head);
        let mut list = Vec::new();
        let mut seen = HashSet::new();
        let complete = loop {
            if idx == NULL_INDEX {
                break true;
            }
            if idx >= capacity {
                d.problem(format!(
                    "corrupt: free list reaches index {idx} >= capacity {capacity} after {} nodes",
                    list.len()
                ));
                break false;
            }
            if !seen.insert(idx) {
                d.problem(format!(
                    "corrupt: free list cycles back to node {idx} after {} nodes",
                    list.len()
                ));
                break false;
            }
            list.push(u64::from(idx));
            if list.len() as u64 >= MAX_ITEMS {
                d.truncated = true;
                break false;
            }
            match snap.u32(at(POOL_HEADER_LEN, idx.into(), node_size).saturating_add(next_off)) {
                Some(next) => idx = next,
                None => {
                    d.truncated = true;
                    break false;
                }
            }
        };
        let free = list.len() as u64;
        d.push("free_list_len", FieldValue::Unsigned(free));
        if complete && free + u64::from(allocated) != cap {
            d.problem(format!(
                "inconsistent: {free} free + {allocated} allocated != capacity {capacity}"
            ));
        }
        d.free_list = Some(list);
        let Some(t) = self.elem(&mut d, elem_size.into()) else {
            return d;
        };
        if !complete {
            d.problem("allocated nodes not listed: the free list could not be walked".into());
            return d;
        }
        let mut items = Vec::new();
        for i in 0..cap.min(MAX_ITEMS) {
            if u32::try_from(i).is_ok_and(|i| seen.contains(&i)) {
                continue;
            }
            let Some(value) = snap.read(&t, at(POOL_HEADER_LEN, i, node_size)) else {
                d.truncated = true;
                break;
            };
            items.push(Item {
                slot: i,
                key: None,
                value,
                state: SlotState::Ready,
            });
        }
        d.contents = Contents::Values(items);
        d
    }

    /// Counts slot states of a Map or Set (and reports impossible ones).
    pub(super) fn slot_census(d: &mut Decoded, snap: &Snap, capacity: u32, stride: u64) {
        let (mut occupied, mut deleted, mut inserting, mut bad) = (0u64, 0u64, 0u64, 0u64);
        if u64::from(capacity) > MAX_ITEMS {
            d.truncated = true;
        }
        for i in 0..u64::from(capacity).min(MAX_ITEMS) {
            match snap.u32(at(MAP_HEADER_LEN, i, stride)) {
                Some(OCCUPIED) => occupied += 1,
                Some(DELETED) => deleted += 1,
                Some(INSERTING) => inserting += 1,
                Some(MAP_EMPTY) => {}
                Some(other) => {
                    if bad == 0 {
                        d.problem(format!("corrupt: slot {i} has state {other}"));
                    }
                    bad += 1;
                }
                None => {
                    d.truncated = true;
                    break;
                }
            }
        }
        d.push("occupied", FieldValue::Unsigned(occupied));
        d.push("deleted", FieldValue::Unsigned(deleted));
        d.push("inserting", FieldValue::Unsigned(inserting));
        if bad > 1 {
            d.problem(format!("corrupt: {bad} slots have impossible states"));
        }
    }

    pub(super) fn map(
        &self,
        snap: &Snap,
        flavor: Flavor,
        capacity: u32,
        key_size: u32,
        value_size: u32,
        entry_size: u64,
    ) -> Decoded {
        let len = snap.u32(at!(MapHeader, size)).unwrap_or(0);
        let mut d = Decoded::new(Kind::Map {
            flavor,
            capacity,
            key_size,
            value_size,
            len,
            entry_size,
        });
        if len > capacity {
            d.problem(format!("corrupt: size {len} > capacity {capacity}"));
        }
        d.fill = Some(Fill {
            len: len.min(capacity).into(),
            capacity: capacity.into(),
        });
        Self::slot_census(&mut d, snap, capacity, entry_size);
        let Some(spec) = &self.spec else {
            return d;
        };
        let Some(TypeSpec {
            elem: k,
            value: Some(v),
        }) = spec
            .as_pair(key_size.into(), value_size.into())
            // Two primitives of other sizes: still meant as a pair (the size check says why
            // they do not fit).
            .or_else(|| match spec.elem.fields() {
                [k, v] => Some(TypeSpec::pair(*k, *v)),
                _ => None,
            })
        else {
            d.type_error = Some(format!(
                "a map needs a key and a value type: --as KEY=VALUE (such as --as {}={})",
                int_name(key_size),
                int_name(value_size)
            ));
            return d;
        };
        if (k.size(), v.size()) != (key_size.into(), value_size.into()) {
            d.type_error = Some(format!(
                "the map's keys and values are {key_size} and {value_size} bytes, {k}={v} are {} and {}",
                k.size(),
                v.size()
            ));
            return d;
        }
        let cpp = slot_layout(k.size(), k.align(), v.size(), v.align())
            .filter(|l| l.stride == entry_size);
        let py = SlotLayout {
            key_off: 4,
            val_off: 4 + k.size(),
            stride: entry_size,
        };
        let layout = match (flavor, cpp) {
            (Flavor::Python, _) => (py, Flavor::Python),
            (Flavor::Cpp, Some(c)) => (c, Flavor::Cpp),
            (Flavor::CppOrPython, Some(c)) if c == py => (c, Flavor::CppOrPython),
            // Both layouts fit the size but put keys elsewhere: the one whose hash and
            // probing find every key wins (C++ when both or neither do).
            (Flavor::CppOrPython, Some(c)) => {
                if !probes_ok(snap, capacity, c, &k, Flavor::Cpp)
                    && probes_ok(snap, capacity, py, &k, Flavor::Python)
                {
                    (py, Flavor::Python)
                } else {
                    (c, Flavor::Cpp)
                }
            }
            _ => {
                d.type_error = Some(format!(
                    "{k}={v} in the C++ layout gives {}-byte slots, the map's are {entry_size}",
                    slot_layout(k.size(), k.align(), v.size(), v.align()).map_or(0, |l| l.stride)
                ));
                return d;
            }
        };
        d.push("decoded_layout", FieldValue::Text(layout.1.as_str()));
        let items = self.slots(&mut d, snap, capacity, layout.0, &k, Some(&v));
        d.contents = Contents::Pairs(items);
        d
    }

    pub(super) fn set(
        &self,
        snap: &Snap,
        flavor: Flavor,
        capacity: u32,
        elem_size: u32,
        entry_size: u64,
    ) -> Decoded {
        let len = snap.u32(at!(SetHeader, size)).unwrap_or(0);
        let mut d = Decoded::new(Kind::Set {
            flavor,
            capacity,
            elem_size,
            len,
            entry_size,
        });
        if len > capacity {
            d.problem(format!("corrupt: size {len} > capacity {capacity}"));
        }
        d.fill = Some(Fill {
            len: len.min(capacity).into(),
            capacity: capacity.into(),
        });
        Self::slot_census(&mut d, snap, capacity, entry_size);
        let Some(t) = self.elem(&mut d, elem_size.into()) else {
            return d;
        };
        let layout = if flavor == Flavor::Python {
            Some(SlotLayout {
                key_off: 4,
                val_off: 4 + t.size(),
                stride: entry_size,
            })
        } else {
            set_slot_layout(t.size(), t.align()).filter(|l| l.stride == entry_size)
        };
        let Some(layout) = layout else {
            d.type_error = Some(format!(
                "{t} in the C++ layout does not give the set's {entry_size}-byte slots"
            ));
            return d;
        };
        let items = self.slots(&mut d, snap, capacity, layout, &t, None);
        d.contents = Contents::Members(items);
        d
    }

    /// The OCCUPIED (and INSERTING, marked) slots of a Map or Set, in slot order.
    pub(super) fn slots(
        &self,
        d: &mut Decoded,
        snap: &Snap,
        capacity: u32,
        l: SlotLayout,
        k: &Elem,
        v: Option<&Elem>,
    ) -> Vec<Item> {
        let mut items = Vec::new();
        if u64::from(capacity) > MAX_ITEMS {
            d.truncated = true;
        }
        for i in 0..u64::from(capacity).min(MAX_ITEMS) {
            let base = at(MAP_HEADER_LEN, i, l.stride);
            let state = match snap.u32(base) {
                Some(OCCUPIED) => SlotState::Ready,
                Some(INSERTING) => SlotState::Inserting,
                Some(_) => continue,
                None => {
                    d.truncated = true;
                    break;
                }
            };
            if items.len() as u64 >= MAX_ITEMS {
                d.truncated = true;
                break;
            }
            let key = snap.read(k, base.saturating_add(l.key_off));
            let (key, value) = match v {
                Some(v) => (key, snap.read(v, base.saturating_add(l.val_off))),
                None => (None, key),
            };
            let Some(value) = value else {
                d.truncated = true;
                break;
            };
            items.push(Item {
                slot: i,
                key,
                value,
                state,
            });
        }
        items
    }

    // --- sync primitives ---------------------------------------------------------------
}
