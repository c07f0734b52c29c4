//! The reactor's registration protocol, over views: the registry, the bell and one pass.
//! [`super::reactor`] runs it on a thread with `futex_waitv`; the loom model below runs it
//! against the futex model, where a lost wake-up is a deadlock.
//!
//! # Synchronization
//!
//! - An arm inserts under the registry mutex, then bumps the bell (Release) and wakes it.
//! - A pass reads the bell (Acquire) **before** taking the mutex, removes every due registration, and
//!   lists the others for the wait, which includes the bell with the value read: an arm the
//!   pass did not see bumped the bell after that read, so the wait returns at once.
//! - A registration is due once its word no longer holds the value its task read before the
//!   failed attempt: a change after that read either is seen by a pass, or makes the wait
//!   (which compares the word in the kernel, atomically with queueing) return, or wakes it.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::loom::AtomicU32;
use crate::loom::Ordering::{Acquire, Relaxed, Release};
use crate::sys::futex;

#[cfg(loom)]
use loom::sync::{Mutex, MutexGuard};
#[cfg(not(loom))]
use std::sync::{Mutex, MutexGuard};

/// What a registration watches.
pub(crate) trait Watch {
    /// The word, or `None` if it cannot be reached any more (then it fires).
    fn word(&self) -> Option<&AtomicU32>;
    /// The value the task read before its failed attempt.
    fn expected(&self) -> u32;
    /// Another reason to fire at `now` (a deadline, a changed fingerprint).
    fn due_anyway(&self, now: Instant) -> bool;
}

/// Whether `w` should fire.
fn due<R: Watch>(w: &R, now: Instant) -> bool {
    w.word().is_none_or(|word| {
        // ORDERING: Relaxed — only "look again": the woken task's own attempt does the
        // Acquire that synchronises with the setter.
        word.load(Relaxed) != w.expected()
    }) || w.due_anyway(now)
}

struct Registry<R> {
    regs: BTreeMap<u64, R>,
    next_id: u64,
    /// The last id listed by the previous pass (round robin when there are more than fit).
    cursor: u64,
}

/// The registry and the bell.
pub(crate) struct Core<R> {
    registry: Mutex<Registry<R>>,
    /// Bumped by every arm and disarm; always in the reactor's wait set.
    pub(crate) bell: AtomicU32,
}

/// What one [`Core::pass`] saw.
pub(crate) struct Pass {
    /// The bell, read before the registry: the value to wait on.
    pub(crate) bell: u32,
    /// No registration is left.
    pub(crate) empty: bool,
}

impl<R: Watch> Core<R> {
    pub(crate) fn new() -> Self {
        Self {
            registry: Mutex::new(Registry {
                regs: BTreeMap::new(),
                next_id: 0,
                cursor: 0,
            }),
            bell: AtomicU32::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Registry<R>> {
        self.registry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Makes the reactor's current wait return.
    pub(crate) fn ring(&self) {
        // ORDERING: Release pairs with the Acquire bell load in `pass`: the pass that reads
        // this bump sees everything the ringer did before (its registry change included).
        self.bell.fetch_add(1, Release);
        futex::wake_all(&self.bell);
    }

    /// Registers `reg` (replacing registration `old`, if it is still there) and rings the
    /// bell; returns the new id and the replaced registration (drop it outside any lock).
    pub(crate) fn arm(&self, old: Option<u64>, reg: R) -> (u64, Option<R>) {
        let (id, replaced) = {
            let mut r = self.lock();
            let replaced = old.and_then(|id| r.regs.remove(&id));
            let id = r.next_id;
            r.next_id += 1;
            r.regs.insert(id, reg);
            (id, replaced)
        };
        self.ring();
        (id, replaced)
    }

    /// Withdraws registration `id` if it has not fired (then rings the bell).
    pub(crate) fn disarm(&self, id: u64) -> Option<R> {
        let removed = self.lock().regs.remove(&id);
        if removed.is_some() {
            self.ring();
        }
        removed
    }

    /// How many registrations are armed.
    pub(crate) fn len(&self) -> usize {
        self.lock().regs.len()
    }

    /// One pass: reads the bell, then (under the registry lock) moves every due
    /// registration into `fired` and calls `listed` on up to `max` of the others, the next
    /// ones after the previous pass's (round robin).
    pub(crate) fn pass(&self, max: usize, fired: &mut Vec<R>, mut listed: impl FnMut(&R)) -> Pass {
        // ORDERING: Acquire pairs with the Release bump in `ring`: what a ringer did before
        // ringing (an arm, a disarm, or anything else a caller of `ring` publishes) is
        // visible to this pass; a ring after this read changes the value the wait compares.
        let bell = self.bell.load(Acquire);
        let now = Instant::now();
        let mut r = self.lock();
        let due_ids: Vec<u64> = r
            .regs
            .iter()
            .filter(|(_, g)| due(*g, now))
            .map(|(&id, _)| id)
            .collect();
        for id in due_ids {
            if let Some(g) = r.regs.remove(&id) {
                fired.push(g);
            }
        }
        let cursor = r.cursor;
        let mut last = cursor;
        let after = r.regs.range(cursor.saturating_add(1)..);
        let before = r.regs.range(..=cursor);
        for (&id, g) in after.chain(before).take(max) {
            listed(g);
            last = id;
        }
        r.cursor = last;
        Pass {
            bell,
            empty: r.regs.is_empty(),
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use loom::sync::Arc;
    use loom::sync::atomic::AtomicBool;
    use loom::thread;

    use super::*;
    use crate::loom::Ordering::SeqCst;

    struct Reg {
        word: Arc<AtomicU32>,
        expected: u32,
    }

    impl Watch for Reg {
        fn word(&self) -> Option<&AtomicU32> {
            Some(&self.word)
        }
        fn expected(&self) -> u32 {
            self.expected
        }
        fn due_anyway(&self, _now: Instant) -> bool {
            false
        }
    }

    /// A task reads its word and arms; a setter stores and wakes; the reactor passes and
    /// waits (untimed, on the bell and the listed words). Whatever the interleaving, the
    /// task's registration fires: a lost wake-up would leave the reactor blocked forever,
    /// which loom reports as a deadlock.
    #[test]
    fn loom_an_armed_task_is_always_fired() {
        loom::model(|| {
            let core = Arc::new(Core::<Reg>::new());
            let word = Arc::new(AtomicU32::new(0));
            let skipped = Arc::new(AtomicBool::new(false));
            let task = {
                let (core, word, skipped) = (core.clone(), word.clone(), skipped.clone());
                thread::spawn(move || {
                    // ORDERING: Acquire pairs with the setter's Release store.
                    let seen = word.load(Acquire);
                    if seen == 0 {
                        let _ = core.arm(
                            None,
                            Reg {
                                word,
                                expected: seen,
                            },
                        );
                    } else {
                        // Nothing to wait for: tell the reactor to stop.
                        skipped.store(true, SeqCst);
                        core.ring();
                    }
                })
            };
            let setter = {
                let word = word.clone();
                thread::spawn(move || {
                    // ORDERING: Release pairs with the task's Acquire load.
                    word.store(1, Release);
                    futex::wake_all(&word);
                })
            };
            loop {
                let mut fired = Vec::new();
                let mut listed = Vec::new();
                let pass = core.pass(127, &mut fired, |g| {
                    listed.push((g.word.clone(), g.expected));
                });
                if !fired.is_empty() || skipped.load(SeqCst) {
                    break;
                }
                let mut set: Vec<(&AtomicU32, u32)> = vec![(&core.bell, pass.bell)];
                set.extend(listed.iter().map(|(w, e)| (&**w, *e)));
                futex::waitv(&set);
            }
            task.join().unwrap();
            setter.join().unwrap();
        });
    }
}
