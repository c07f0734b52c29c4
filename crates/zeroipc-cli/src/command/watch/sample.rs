//! Sampling for `zeroipc watch`, without a terminal: a [`Snapshot`] of the segment, and the
//! table [`Row`]s (fill levels, rates, waiters) computed from two consecutive snapshots.
//!
//! # Which counters give a rate
//!
//! A rate is the change of a counter between two snapshots divided by the time between them.
//! Only counters the format stores can be used:
//!
//! | kind            | counter                     | shown as                          |
//! |-----------------|-----------------------------|-----------------------------------|
//! | queue           | `tail`, `head` (u32, wrap)  | pushes/s and pops/s               |
//! | ring            | `write_pos`, `read_pos`     | bytes written/s and read/s        |
//! | stream_header   | `sequence`                  | events/s                          |
//! | stream_void     | `event_count`               | events/s                          |
//! | signal_state    | `version`                   | updates/s                         |
//! | barrier         | `generation` (i32, wrap)    | generations/s                     |
//! | stack           | `top`                       | net change of len/s (lower bound) |
//! | pool            | `allocated`                 | net change of len/s (lower bound) |
//! | map, set        | `len`                       | net change of len/s (lower bound) |
//!
//! A push and a pop between two samples cancel out in a length, so the last four are
//! lower bounds of the real operation rate. Arrays and the sync kinds store no counter.

use std::time::{Duration, Instant};

use zeroipc::inspect::{Kind, classify_all};
use zeroipc::{OpenError, Segment};

use crate::command::{display_name, printable};

/// One table entry as sampled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct EntrySample {
    pub(crate) index: u32,
    pub(crate) name: String,
    pub(crate) offset: u64,
    pub(crate) size: u64,
    pub(crate) kind: Kind,
}

/// What one refresh saw.
#[derive(Clone, Debug)]
pub(crate) enum Sample {
    /// A valid segment, its header and every entry.
    Ok {
        header: Header,
        entries: Vec<EntrySample>,
    },
    /// The name no longer exists.
    Gone,
    /// The segment (or its table) is not valid, or could not be opened; the text says why.
    Broken(String),
}

/// The header fields the view shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    /// The mapped size.
    pub(crate) size: u64,
    pub(crate) entry_count: u32,
    pub(crate) max_entries: u32,
    /// `next_offset`: bytes in use, table included.
    pub(crate) used: u64,
    pub(crate) memory_size: u64,
}

/// A [`Sample`] and when it was taken.
#[derive(Clone, Debug)]
pub(crate) struct Snapshot {
    pub(crate) name: String,
    pub(crate) at: Instant,
    pub(crate) sample: Sample,
}

impl Snapshot {
    /// Opens `name` read-only afresh and reads its header and table. A fresh mapping each
    /// time: an unlinked segment is seen as gone (an old mapping would still read fine), a
    /// replaced one as the new one, and a resized one at its new size.
    pub(crate) fn take(name: &str) -> Self {
        let at = Instant::now();
        let sample = match Segment::open_read_only(name) {
            Ok(seg) => match (seg.header(), classify_all(&seg)) {
                (Ok(h), Ok(entries)) => Sample::Ok {
                    header: Header {
                        size: seg.size(),
                        entry_count: h.entry_count,
                        max_entries: h.max_entries,
                        used: h.next_offset,
                        memory_size: h.memory_size,
                    },
                    entries: entries
                        .into_iter()
                        .map(|(e, kind)| EntrySample {
                            index: e.index(),
                            name: printable(&e.name().to_string()),
                            offset: e.offset(),
                            size: e.size(),
                            kind,
                        })
                        .collect(),
                },
                (Err(c), _) | (_, Err(c)) => Sample::Broken(format!("corrupt segment: {c}")),
            },
            Err(OpenError::NotFound { .. }) => Sample::Gone,
            Err(e) => Sample::Broken(e.to_string()),
        };
        Self {
            name: display_name(name),
            at,
            sample,
        }
    }
}

/// How full a structure is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fill {
    pub(crate) len: u64,
    /// `None` where the kind has no fixed capacity to compare with.
    pub(crate) capacity: Option<u64>,
}

impl Fill {
    /// `len / capacity` in 0.0..=1.0, if there is a capacity.
    pub(crate) fn ratio(self) -> Option<f64> {
        let cap = self.capacity.filter(|&c| c > 0)?;
        // Display precision only.
        #[allow(clippy::cast_precision_loss)]
        let r = self.len.min(cap) as f64 / cap as f64;
        Some(r)
    }
}

/// One rate: a label and events per second.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Rate {
    pub(crate) label: &'static str,
    pub(crate) per_sec: f64,
}

/// One line of the table.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Row {
    pub(crate) index: u32,
    pub(crate) name: String,
    /// `"queue"`, or `"ambiguous (semaphore | barrier)"`.
    pub(crate) kind: String,
    pub(crate) offset: u64,
    pub(crate) size: u64,
    pub(crate) fill: Option<Fill>,
    /// Empty before the second sample, and for kinds without counters.
    pub(crate) rates: Vec<Rate>,
    /// Waiters, holders and similar state of sync kinds (`"waiting 2, count 0/1"`).
    pub(crate) waiters: Option<String>,
}

/// The fill level of `kind`, where it has one.
pub(crate) fn fill(kind: &Kind) -> Option<Fill> {
    let f = |len: u64, cap: u64| {
        Some(Fill {
            len,
            capacity: Some(cap),
        })
    };
    match *kind {
        Kind::Queue {
            capacity,
            head,
            tail,
            ..
        } => f(tail.wrapping_sub(head).into(), capacity.into()),
        Kind::Stack { capacity, top, .. } => f(
            u64::try_from(i64::from(top) + 1).unwrap_or(0),
            capacity.into(),
        ),
        Kind::Ring {
            capacity,
            write_pos,
            read_pos,
            ..
        } => f(write_pos.wrapping_sub(read_pos), capacity.into()),
        Kind::Pool {
            capacity,
            allocated,
            ..
        } => f(allocated.into(), capacity.into()),
        Kind::Map { capacity, len, .. } | Kind::Set { capacity, len, .. } => {
            f(len.into(), capacity.into())
        }
        _ => None,
    }
}

/// The counters of `kind` that give a rate, with their labels (see the module docs).
/// `wrap` is the counter's width in bits: deltas are taken modulo `2^wrap`.
fn counters(kind: &Kind) -> Vec<(&'static str, u64, u32)> {
    let len = |n: u64| vec![("Δlen", n, 64)];
    match *kind {
        Kind::Queue { head, tail, .. } => {
            vec![("push", tail.into(), 32), ("pop", head.into(), 32)]
        }
        Kind::Ring {
            write_pos,
            read_pos,
            ..
        } => vec![("B in", write_pos, 64), ("B out", read_pos, 64)],
        Kind::StreamHeader { sequence, .. } => vec![("events", sequence, 64)],
        Kind::StreamVoid { event_count, .. } => vec![("events", event_count, 64)],
        Kind::SignalState { version, .. } => vec![("updates", version, 64)],
        Kind::Barrier { generation, .. } => {
            vec![(
                "gens",
                u64::from(u32::from_ne_bytes(generation.to_ne_bytes())),
                32,
            )]
        }
        Kind::Stack { top, .. } => len(u64::from_ne_bytes(i64::from(top).to_ne_bytes())),
        Kind::Pool { allocated, .. } => len(allocated.into()),
        Kind::Map { len: n, .. } | Kind::Set { len: n, .. } => len(n.into()),
        _ => Vec::new(),
    }
}

/// Whether a counter is a length (its change may be negative) rather than a monotonic count.
fn is_net(label: &str) -> bool {
    label == "Δlen"
}

/// Rates between `prev` and `cur` of one entry over `dt`; empty if the kinds differ. A
/// monotonic counter that went backwards (by more than half its range: less is a wrap) was
/// reset, and gives no rate.
pub(crate) fn rates(prev: &Kind, cur: &Kind, dt: Duration) -> Vec<Rate> {
    let secs = dt.as_secs_f64();
    if secs <= 0.0 || prev.name() != cur.name() {
        return Vec::new();
    }
    let before = counters(prev);
    counters(cur)
        .into_iter()
        .zip(before)
        .filter_map(|((label, now, bits), (_, then, _))| {
            let mask = if bits >= 64 {
                u64::MAX
            } else {
                (1 << bits) - 1
            };
            let delta = now.wrapping_sub(then) & mask;
            // A length may shrink: read the wrapped difference as signed.
            #[allow(clippy::cast_precision_loss)]
            let d = if is_net(label) {
                i64::from_ne_bytes(delta.to_ne_bytes()) as f64
            } else if delta > mask / 2 {
                // A count that went backwards was reset (the structure recreated under the
                // same name): no rate this time, rather than a huge one.
                return None;
            } else {
                delta as f64
            };
            Some(Rate {
                label,
                per_sec: d / secs,
            })
        })
        .collect()
}

/// Waiters and holders, for the kinds that store them.
pub(crate) fn waiters(kind: &Kind) -> Option<String> {
    Some(match *kind {
        Kind::Semaphore {
            count,
            waiting,
            max_count,
        } => {
            let max = if max_count == 0 {
                "∞".to_owned()
            } else {
                max_count.to_string()
            };
            format!("waiting {waiting}, count {count}/{max}")
        }
        Kind::Mutex { count, waiting } => {
            let state = if count == 0 { "locked" } else { "free" };
            format!("{state}, waiting {waiting}")
        }
        Kind::Barrier {
            arrived,
            participants,
            generation,
        } => format!("arrived {arrived}/{participants}, gen {generation}"),
        Kind::Latch {
            count,
            initial_count,
        } => format!("count {count}/{initial_count}"),
        Kind::Once { state } => match state {
            0 => "pending".to_owned(),
            1 => "executing".to_owned(),
            2 => "done".to_owned(),
            s => format!("state {s}"),
        },
        Kind::Event {
            signaled, waiting, ..
        } => format!(
            "{}, waiting {waiting}",
            if signaled == 0 { "clear" } else { "signaled" }
        ),
        Kind::RwLockState {
            readers,
            writer_active,
        } => format!(
            "readers {readers}, writer {}",
            if writer_active == 0 { "no" } else { "yes" }
        ),
        Kind::MonitorCount { waiting } => format!("waiting {waiting}"),
        Kind::Future { state, waiters, .. } => {
            let s = match state {
                0 => "pending",
                1 => "computing",
                2 => "ready",
                3 => "error",
                _ => "?",
            };
            format!("{s}, waiting {waiters}")
        }
        Kind::ChannelHeader {
            senders,
            receivers,
            closed,
            ..
        } => format!(
            "senders {senders}, receivers {receivers}{}",
            if closed == 0 { "" } else { ", closed" }
        ),
        Kind::ChannelSync {
            sender_waiting,
            receiver_waiting,
            ..
        } => format!("senders waiting {sender_waiting}, receivers waiting {receiver_waiting}"),
        Kind::StreamHeader { subscribers, .. } => format!("subscribers {subscribers}"),
        _ => return None,
    })
}

/// The kind as shown in the table: its name, the candidates when ambiguous, and what a
/// composite's marker entry marks.
pub(crate) fn kind_label(kind: &Kind) -> String {
    match kind {
        Kind::Marker { of } => format!("marker ({})", of.as_str()),
        Kind::Ambiguous(candidates) => {
            let names: Vec<&str> = candidates.iter().map(Kind::name).collect();
            format!("ambiguous ({})", names.join(" | "))
        }
        k => k.name().to_owned(),
    }
}

/// The table rows of `cur`, with rates against `prev` where the same entry (same index,
/// name and offset) was seen there. Empty unless `cur` is [`Sample::Ok`].
pub(crate) fn rows(prev: Option<&Snapshot>, cur: &Snapshot) -> Vec<Row> {
    let Sample::Ok { entries, .. } = &cur.sample else {
        return Vec::new();
    };
    let before = prev.and_then(|p| match &p.sample {
        Sample::Ok { entries, .. } if p.name == cur.name => {
            Some((entries, cur.at.saturating_duration_since(p.at)))
        }
        _ => None,
    });
    entries
        .iter()
        .map(|e| {
            let rates = before
                .and_then(|(old, dt)| {
                    old.iter()
                        .find(|o| o.index == e.index && o.name == e.name && o.offset == e.offset)
                        .map(|o| rates(&o.kind, &e.kind, dt))
                })
                .unwrap_or_default();
            Row {
                index: e.index,
                name: e.name.clone(),
                kind: kind_label(&e.kind),
                offset: e.offset,
                size: e.size,
                fill: fill(&e.kind),
                rates,
                waiters: waiters(&e.kind),
            }
        })
        .collect()
}

/// What the view shows: the last good sample's header and rows, and what is wrong now, if
/// anything. Fed one [`Snapshot`] per refresh.
#[derive(Debug)]
pub(crate) struct Watcher {
    pub(crate) name: String,
    /// The last valid sample (rates are computed against it).
    last_good: Option<Snapshot>,
    pub(crate) header: Option<Header>,
    pub(crate) rows: Vec<Row>,
    /// Why the rows are stale (the last good sample's): the segment was removed, or is
    /// corrupt or unreadable.
    pub(crate) problem: Option<String>,
    pub(crate) refreshes: u64,
}

impl Watcher {
    pub(crate) fn new(name: &str) -> Self {
        Self {
            name: display_name(name),
            last_good: None,
            header: None,
            rows: Vec::new(),
            problem: None,
            refreshes: 0,
        }
    }

    pub(crate) fn update(&mut self, snap: Snapshot) {
        self.refreshes += 1;
        match &snap.sample {
            Sample::Ok { header, .. } => {
                self.rows = rows(self.last_good.as_ref(), &snap);
                self.header = Some(*header);
                self.problem = None;
                self.last_good = Some(snap);
            }
            Sample::Gone => {
                self.problem = Some(format!("{} no longer exists (removed)", self.name));
            }
            Sample::Broken(why) => {
                self.problem = Some(why.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(head: u32, tail: u32) -> Kind {
        Kind::Queue {
            capacity: 8,
            elem_size: 4,
            head,
            tail,
        }
    }

    fn entry(index: u32, name: &str, kind: Kind) -> EntrySample {
        EntrySample {
            index,
            name: name.to_owned(),
            offset: 3104 + 64 * u64::from(index),
            size: 64,
            kind,
        }
    }

    fn snapshot(at: Instant, entries: Vec<EntrySample>) -> Snapshot {
        let header = Header {
            size: 65536,
            entry_count: u32::try_from(entries.len()).unwrap(),
            max_entries: 64,
            used: 4096,
            memory_size: 65536,
        };
        Snapshot {
            name: "/w".to_owned(),
            at,
            sample: Sample::Ok { header, entries },
        }
    }

    /// A unique segment name, unlinked on drop (also when the test panics).
    struct Name(String);

    impl Name {
        fn new(test: &str) -> Self {
            Self(format!(
                "/zeroipc-test-{}-cli-unit-{test}",
                std::process::id()
            ))
        }
    }

    impl Drop for Name {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(format!("/dev/shm{}", self.0));
        }
    }

    #[test]
    fn queue_rates_come_from_head_and_tail_deltas() {
        let t0 = Instant::now();
        let a = snapshot(t0, vec![entry(0, "q", queue(10, 12))]);
        let b = snapshot(
            t0 + Duration::from_millis(500),
            vec![entry(0, "q", queue(13, 17))],
        );
        let first = rows(None, &a);
        assert!(first[0].rates.is_empty(), "no rate before a second sample");
        assert_eq!(
            first[0].fill,
            Some(Fill {
                len: 2,
                capacity: Some(8)
            })
        );
        let r = rows(Some(&a), &b);
        assert_eq!(r[0].kind, "queue");
        assert_eq!(
            r[0].rates,
            vec![
                Rate {
                    label: "push",
                    per_sec: 10.0
                },
                Rate {
                    label: "pop",
                    per_sec: 6.0
                }
            ]
        );
        assert_eq!(r[0].fill.unwrap().len, 4);
        assert_eq!(r[0].fill.unwrap().ratio(), Some(0.5));
    }

    #[test]
    fn queue_counters_wrap_at_32_bits() {
        let r = rates(
            &queue(u32::MAX - 1, u32::MAX),
            &queue(1, 3),
            Duration::from_secs(1),
        );
        assert_eq!(r[0].per_sec, 4.0);
        assert_eq!(r[1].per_sec, 3.0);
    }

    #[test]
    fn a_counter_that_went_backwards_was_reset_and_gives_no_rate() {
        let ring = |w, r| Kind::Ring {
            capacity: 1024,
            elem_size: 8,
            write_pos: w,
            read_pos: r,
        };
        assert!(rates(&ring(4096, 4000), &ring(16, 8), Duration::from_secs(1)).is_empty());
        let r = rates(&queue(100, 200), &queue(0, 210), Duration::from_secs(1));
        assert_eq!(
            r,
            vec![Rate {
                label: "push",
                per_sec: 10.0
            }]
        );
    }

    #[test]
    fn lengths_give_signed_net_rates() {
        let stack = |top| Kind::Stack {
            capacity: 16,
            elem_size: 8,
            top,
        };
        let r = rates(&stack(9), &stack(-1), Duration::from_secs(2));
        assert_eq!(
            r,
            vec![Rate {
                label: "Δlen",
                per_sec: -5.0
            }]
        );
        assert_eq!(
            fill(&stack(-1)),
            Some(Fill {
                len: 0,
                capacity: Some(16)
            })
        );
    }

    #[test]
    fn ring_rates_are_bytes_and_its_fill_is_unread_bytes() {
        let ring = |w, r| Kind::Ring {
            capacity: 1024,
            elem_size: 8,
            write_pos: w,
            read_pos: r,
        };
        let r = rates(&ring(0, 0), &ring(800, 400), Duration::from_millis(250));
        assert_eq!(r[0].per_sec, 3200.0);
        assert_eq!(r[1].per_sec, 1600.0);
        assert_eq!(fill(&ring(800, 400)).unwrap().len, 400);
    }

    #[test]
    fn a_changed_kind_or_a_different_entry_gives_no_rate() {
        let t0 = Instant::now();
        let a = snapshot(t0, vec![entry(0, "q", queue(0, 0))]);
        let b = snapshot(
            t0 + Duration::from_secs(1),
            vec![entry(0, "other", queue(5, 9))],
        );
        assert!(rows(Some(&a), &b)[0].rates.is_empty());
        assert!(
            rates(
                &queue(0, 0),
                &Kind::Once { state: 2 },
                Duration::from_secs(1)
            )
            .is_empty()
        );
        assert!(rates(&queue(0, 0), &queue(1, 1), Duration::ZERO).is_empty());
    }

    #[test]
    fn the_watcher_keeps_the_last_good_rows_when_the_segment_goes() {
        let t0 = Instant::now();
        let mut w = Watcher::new("w");
        w.update(snapshot(t0, vec![entry(0, "q", queue(0, 2))]));
        w.update(snapshot(
            t0 + Duration::from_secs(1),
            vec![entry(0, "q", queue(1, 4))],
        ));
        assert_eq!(w.rows[0].rates[0].per_sec, 2.0);
        assert!(w.problem.is_none());
        w.update(Snapshot {
            name: "/w".to_owned(),
            at: t0 + Duration::from_secs(2),
            sample: Sample::Gone,
        });
        assert!(
            w.problem
                .as_deref()
                .unwrap()
                .contains("/w no longer exists")
        );
        assert_eq!(w.rows.len(), 1, "the last rows stay visible");
        w.update(Snapshot {
            name: "/w".to_owned(),
            at: t0 + Duration::from_secs(3),
            sample: Sample::Broken("bad magic".to_owned()),
        });
        assert!(w.problem.as_deref().unwrap().contains("bad magic"));
        // Back again: rates against the last good sample, problem cleared.
        w.update(snapshot(
            t0 + Duration::from_secs(5),
            vec![entry(0, "q", queue(1, 10))],
        ));
        assert!(w.problem.is_none());
        assert_eq!(w.rows[0].rates[0].per_sec, 1.5);
        assert_eq!(w.refreshes, 5);
    }

    #[test]
    fn sync_kinds_show_waiters_and_arrays_show_nothing_extra() {
        let sem = Kind::Semaphore {
            count: 0,
            waiting: 3,
            max_count: 1,
        };
        assert_eq!(waiters(&sem).unwrap(), "waiting 3, count 0/1");
        assert_eq!(
            waiters(&Kind::Mutex {
                count: 0,
                waiting: 1
            })
            .unwrap(),
            "locked, waiting 1"
        );
        let arr = Kind::Array {
            capacity: 4,
            elem_size: 4,
        };
        assert_eq!(waiters(&arr), None);
        assert_eq!(fill(&arr), None);
        assert_eq!(
            kind_label(&Kind::Ambiguous(vec![
                sem,
                Kind::Latch {
                    count: 1,
                    initial_count: 1
                }
            ])),
            "ambiguous (semaphore | latch)"
        );
    }

    #[test]
    fn a_missing_segment_is_gone_and_a_foreign_object_is_broken() {
        let name = Name::new("gone");
        let snap = Snapshot::take(&name.0);
        assert!(matches!(snap.sample, Sample::Gone), "{:?}", snap.sample);
        assert!(rows(None, &snap).is_empty());

        std::fs::write(format!("/dev/shm{}", name.0), [0x5a; 4096]).unwrap();
        let snap = Snapshot::take(&name.0);
        assert!(
            matches!(snap.sample, Sample::Broken(_)),
            "{:?}",
            snap.sample
        );
    }

    #[test]
    fn a_real_segment_samples_its_arrays() {
        let name = Name::new("arrays");
        let seg = zeroipc::SegmentOptions::new()
            .size(64 * 1024)
            .catalog(false)
            .create_new(&name.0)
            .unwrap();
        zeroipc::structures::Array::<u32>::create(&seg, "ids", 7).unwrap();
        let snap = Snapshot::take(&name.0);
        let r = rows(None, &snap);
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].name.as_str(), r[0].kind.as_str()), ("ids", "array"));
        assert_eq!(r[0].size, 8 + 7 * 4);
    }
}
