//! Decoders of the synchronization primitives: Semaphore, Mutex, Once, Event and the
//! composites (RwLock, Monitor, Signal).

#[allow(clippy::wildcard_imports)] // the decoder's shared vocabulary
use super::*;

impl Ctx<'_> {
    pub(super) fn holder(d: &mut Decoded, pid: u32, names: (&'static str, &'static str)) {
        if pid != 0 {
            d.push(names.0, FieldValue::Unsigned(pid.into()));
            d.push(names.1, FieldValue::Bool(pid_alive(pid)));
        }
    }

    pub(super) fn semaphore(&self, d: &mut Decoded, snap: &Snap) {
        let count = snap.i32(at!(SemaphoreHeader, count)).unwrap_or(0);
        let waiting = snap.i32(at!(SemaphoreHeader, waiting)).unwrap_or(0);
        let max_count = snap.i32(at!(SemaphoreHeader, max_count)).unwrap_or(0);
        d.fields.extend(
            Kind::Semaphore {
                count,
                waiting,
                max_count,
            }
            .fields(),
        );
        Self::sem_problems(d, count, waiting, max_count);
        Self::holder(
            d,
            snap.u32(at!(SemaphoreHeader, owner)).unwrap_or(0),
            ("holder_pid", "holder_alive"),
        );
    }

    pub(super) fn sem_problems(d: &mut Decoded, count: i32, waiting: i32, max_count: i32) {
        if count < 0 || (max_count > 0 && count > max_count) {
            d.problem(format!(
                "corrupt: count {count} outside 0..=max_count {max_count}"
            ));
        }
        if waiting < 0 || max_count < 0 {
            d.problem(format!(
                "corrupt: waiting {waiting}, max_count {max_count} (negative)"
            ));
        }
    }

    pub(super) fn mutex(&self, d: &mut Decoded, snap: &Snap) {
        let count = snap.i32(at!(SemaphoreHeader, count)).unwrap_or(0);
        let waiting = snap.i32(at!(SemaphoreHeader, waiting)).unwrap_or(0);
        let max_count = snap.i32(at!(SemaphoreHeader, max_count)).unwrap_or(0);
        d.push("locked", FieldValue::Bool(count == 0));
        d.push("count", FieldValue::Signed(count.into()));
        d.push("waiting", FieldValue::Signed(waiting.into()));
        d.push("max_count", FieldValue::Signed(max_count.into()));
        if !(0..=1).contains(&count) || max_count != 1 {
            d.problem(format!(
                "corrupt: count {count}, max_count {max_count} (a mutex has 0 or 1, and 1)"
            ));
        }
        Self::holder(
            d,
            snap.u32(at!(SemaphoreHeader, owner)).unwrap_or(0),
            ("holder_pid", "holder_alive"),
        );
    }

    /// A composite's Mutex part, as prefixed fields.
    pub(super) fn mutex_part(&self, d: &mut Decoded, base: &str, n: &MutexNames) {
        let Some(snap) = self.part(d, base, n.suffix, SEMAPHORE_LEN) else {
            return;
        };
        let count = snap.i32(at!(SemaphoreHeader, count)).unwrap_or(0);
        let max_count = snap.u32(at!(SemaphoreHeader, max_count)).unwrap_or(0);
        d.push(n.locked, FieldValue::Bool(count == 0));
        d.push(n.count, FieldValue::Signed(count.into()));
        d.push(
            n.waiting,
            FieldValue::Signed(snap.i32(at!(SemaphoreHeader, waiting)).unwrap_or(0).into()),
        );
        if !(0..=1).contains(&count) || max_count != MUTEX_MAX {
            d.problem(format!(
                "corrupt: {base}{} count {count}, max_count {max_count}",
                n.suffix
            ));
        }
        Self::holder(
            d,
            snap.u32(at!(SemaphoreHeader, owner)).unwrap_or(0),
            (n.pid, n.alive),
        );
    }

    /// A composite's Semaphore part, as prefixed fields.
    pub(super) fn sem_part(&self, d: &mut Decoded, base: &str, n: SemNames) {
        let Some(snap) = self.part(d, base, n.0, SEMAPHORE_LEN) else {
            return;
        };
        let (count, waiting, max) = (
            snap.i32(at!(SemaphoreHeader, count)).unwrap_or(0),
            snap.i32(at!(SemaphoreHeader, waiting)).unwrap_or(0),
            snap.i32(at!(SemaphoreHeader, max_count)).unwrap_or(0),
        );
        d.push(n.1, FieldValue::Signed(count.into()));
        d.push(n.2, FieldValue::Signed(waiting.into()));
        d.push(n.3, FieldValue::Signed(max.into()));
        Self::sem_problems(d, count, waiting, max);
    }

    pub(super) fn once(&self, snap: &Snap) -> Decoded {
        let state = snap.u32(0).unwrap_or(0);
        let mut d = Decoded::new(Kind::Once {
            state: state.min(DONE),
        });
        d.fields.clear();
        d.push("state_code", FieldValue::Unsigned(state.into()));
        d.fields.extend(Kind::Once { state }.fields());
        if state > DONE {
            d.problem(format!(
                "corrupt: state {state} (0 pending, 1 executing, 2 done)"
            ));
        }
        // The pid lives in the 4 bytes after the entry (inside the mapping only).
        if self.entry.size() == ONCE_LEN {
            let pid = self
                .seg
                .read_bytes(self.entry.offset().saturating_add(ONCE_PID_OFFSET), 4)
                .ok()
                .and_then(|b| Some(u32::from_le_bytes(b.try_into().ok()?)))
                .unwrap_or(0);
            Self::holder(&mut d, pid, ("initialiser_pid", "initialiser_alive"));
        }
        no_values(&mut d, self.spec.as_ref());
        d
    }

    pub(super) fn event(&self, snap: &Snap) -> Decoded {
        let signaled = snap.u32(at!(EventHeader, signaled)).unwrap_or(0);
        let mode = snap.u32(at!(EventHeader, mode)).unwrap_or(0);
        let waiting = snap.u32(at!(EventHeader, waiting)).unwrap_or(0);
        let mut d = Decoded::new(Kind::Event {
            signaled,
            mode,
            waiting,
        });
        if signaled > 1 || mode > 1 {
            d.problem(format!(
                "corrupt: signaled {signaled}, mode {mode} (each 0 or 1)"
            ));
        }
        let base = self.entry.name().to_string();
        self.sem_part(&mut d, &base, SEM);
        no_values(&mut d, self.spec.as_ref());
        d
    }

    pub(super) fn composite(name: &'static str, kind: Kind) -> Decoded {
        let mut d = Decoded::new(kind);
        d.name = name;
        d.fields.clear();
        d
    }

    pub(super) fn rwlock(&self, base: String) -> Decoded {
        let mut d = Self::composite(
            "rwlock",
            Kind::Marker {
                of: Composite::RwLock,
            },
        );
        if let Some(s) = self.part(&mut d, &base, "_state", 8) {
            let (readers, writer_active) = (s.i32(0).unwrap_or(0), s.i32(4).unwrap_or(0));
            d.fields.extend(
                Kind::RwLockState {
                    readers,
                    writer_active,
                }
                .fields(),
            );
            if readers < 0 || !(0..=1).contains(&writer_active) {
                d.problem(format!(
                    "corrupt: readers {readers}, writer_active {writer_active}"
                ));
            }
        }
        self.mutex_part(&mut d, &base, &RMTX);
        self.mutex_part(&mut d, &base, &WMTX);
        no_values(&mut d, self.spec.as_ref());
        d
    }

    pub(super) fn monitor(&self, base: String) -> Decoded {
        let mut d = Self::composite(
            "monitor",
            Kind::Marker {
                of: Composite::Monitor,
            },
        );
        if let Some(s) = self.part(&mut d, &base, "_count", 4) {
            d.push(
                "waiting",
                FieldValue::Unsigned(s.u32(0).unwrap_or(0).into()),
            );
        }
        self.mutex_part(&mut d, &base, &MTX);
        self.sem_part(&mut d, &base, COND);
        no_values(&mut d, self.spec.as_ref());
        d
    }

    pub(super) fn signal(&self, base: String) -> Decoded {
        let mut d = Self::composite(
            "signal",
            Kind::Marker {
                of: Composite::Signal,
            },
        );
        if let Some(s) = self.part(&mut d, &base, "_state", 0) {
            d.push("version", FieldValue::Unsigned(s.u64(0).unwrap_or(0)));
            let value_max = s.size.saturating_sub(8);
            d.push("value_size_max", FieldValue::Unsigned(value_max));
            match &self.spec {
                Some(spec) if spec.value.is_some() => {
                    d.type_error = Some(format!("--as {spec}: a signal holds one value"));
                }
                // C++ pads the state to align8(8 + size): the value is at most 7 bytes
                // shorter than the space after the version; Python stores it unpadded.
                Some(spec) if spec.elem.size() > value_max || spec.elem.size() + 8 <= value_max => {
                    d.type_error = Some(format!(
                        "the signal's value is {} to {value_max} bytes, {} is {}",
                        value_max.saturating_sub(7).max(1),
                        spec.elem,
                        spec.elem.size()
                    ));
                }
                Some(spec) => match s.read(&spec.elem, 8) {
                    Some(v) => d.contents = Contents::Value(v),
                    None => d.truncated = true,
                },
                None => {}
            }
        }
        self.mutex_part(&mut d, &base, &MTX);
        d
    }
}
