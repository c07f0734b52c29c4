//! Crash injection points, compiled only with the `fault-injection` feature (issue #7).
//!
//! `crate::fault::point` marks a place between two steps of a multi-step protocol. With the
//! feature on and `ZEROIPC_CRASH_AT=<name>` in the environment, the process sends itself
//! `SIGKILL` when it reaches the point named `<name>`: the most faithful model of a peer that dies
//! there (no destructors, no unwinding, no flush). Without the feature, `point` is an empty
//! inline function and the names are not even in the binary.
//!
//! The feature is off by default. The crate's own tests turn it on through a self
//! dev-dependency in `crates/zeroipc/Cargo.toml`; dev-dependencies are not part of a
//! user's dependency graph, so release builds of users never contain the points. (Cargo
//! unifies features per build: whatever builds this crate's tests, benches or examples, or
//! a `cargo test --workspace` run, has the feature on; `cargo build` of a user, or of this
//! workspace without dev targets, has it off. With the feature on and the variable unset, a
//! point costs a call, one load of a `OnceLock` and a comparison: a third of a queue
//! push+pop. The benchmarks therefore live in their own package, `crates/zeroipc-bench`,
//! which depends on this crate without the feature.)
//!
//! `tests/crash_matrix.rs` kills a peer at each point and checks what survivors see; the
//! outcomes are listed in `docs/THREAT_MODEL.md` ("Crash matrix").
//!
//! # Points
//!
//! | name                            | where                                                        |
//! |---------------------------------|--------------------------------------------------------------|
//! | `queue.push.after_claim`        | `raw::vyukov` push: after the `tail` CAS, before the data write |
//! | `queue.push.before_publish`     | push: after the data write, before `seq[i] = pos + 1`        |
//! | `queue.pop.after_claim`         | pop: after the `head` CAS, before the data read              |
//! | `queue.pop.before_release`      | pop: after the data read, before `seq[i] = pos + cap`        |
//! | `stack.push.after_reserve`      | `raw::stack` push: after the `top` CAS, before the slot claim |
//! | `stack.push.after_claim`        | push: after `EMPTY → WRITING`, before the data write         |
//! | `stack.push.before_publish`     | push: after the data write, before `state = READY`           |
//! | `stack.pop.after_reserve`       | pop: after the `top` CAS, before the slot claim              |
//! | `stack.pop.after_claim`         | pop: after `READY → READING`, before the data read           |
//! | `stack.pop.before_release`      | pop: after the data read, before `state = EMPTY`             |
//! | `ring.write.before_publish`     | `raw::ring` write: after the copy, before `write_pos` store  |
//! | `ring.read.before_release`      | read: after the copy, before `read_pos` store                |
//! | `stream.emit.before_publish`    | `raw::ring::shared` append (Stream, emit lock held): after the copy and the `sequence` count, before `write_pos` store |
//! | `stream.take.before_claim`      | take (Stream reader): after the copy, before the `read_pos` CAS |
//! | `pool.allocate.before_cas`      | `raw::pool` allocate: after reading head and link, before the head CAS |
//! | `pool.allocate.after_cas`       | allocate: after the head CAS, before `allocated` and the mark |
//! | `pool.free.before_cas`          | free: after the node's `ALLOCATED → link` CAS, before the head CAS |
//! | `pool.free.after_cas`           | free: after the head CAS, before the `allocated` update      |
//! | `hash.insert.after_claim`       | `raw::open_addressing` insert (Map, Set): after `→ INSERTING`, before the key |
//! | `hash.insert.after_key`         | insert: after the key, before the value                      |
//! | `hash.insert.before_publish`    | insert: after the value, before `state = OCCUPIED`           |
//! | `hash.update.after_claim`       | insert of a present key: after `OCCUPIED → INSERTING`, before the new value |
//! | `hash.remove.after_claim`       | remove: after `OCCUPIED → INSERTING`, before `state = DELETED` |
//! | `mutex.lock.after_intent`      | `sync::mutex` lock: after the `owner` CAS 0 → pid (intent), before the `count` CAS |
//! | `mutex.lock.after_cas`          | lock: after the `count` CAS (the holder dies holding it, owner recorded) |
//! | `mutex.unlock.after_release`    | unlock: after the `count` CAS releases it, before `owner` is cleared |
//! | `rwlock.write.after_wmtx`       | `sync::rwlock` write lock: holding `wmtx`, before `rmtx`     |
//! | `rwlock.write.after_active`     | write lock: after `writer_active = 1` and `rmtx` release     |
//! | `once.call.after_intent`        | `sync::once`: after the pid word CAS 0 → pid, before `PENDING → EXECUTING` |
//! | `once.call.after_claim`         | once: after `PENDING → EXECUTING` (pid recorded), before the initialiser runs |
//! | `once.finish.after_done`        | once: after `state = DONE`, before the pid word is cleared    |
//! | `semaphore.acquire.after_intent` | `Semaphore` acquire (tracked): under the gate, after the slot's intent, before the `count` CAS |
//! | `semaphore.acquire.after_cas`   | acquire: after the `count` CAS, before the slot records it    |
//! | `semaphore.acquire.after_record` | acquire: after the slot records the permit, before the gate is left |
//! | `semaphore.release.after_cas`   | release (tracked): after the `count` CAS returns the permit, before the slot forgets it |
//! | `semaphore.reclaim.after_take`  | blocked acquirer: after taking a dead holder's slot (pid CAS), before giving its permits back |
//! | `semaphore.reclaim.after_give_back` | blocked acquirer: after the `count` CAS gave a dead holder's permits back, before the slot is cleared |
//! | `barrier.wait.after_arrive`     | `sync::barrier` wait: after the `arrived` increment (not last) |
//! | `barrier.wait.before_release`   | wait, last arriver: after `arrived = 0`, before the `generation` bump |
//! | `lazy.claim.after_intent`      | `codata::lazy` claim: after the owner word names us, before `NOT_COMPUTED → COMPUTING` |
//! | `lazy.claim.after_cas`         | claim: after `→ COMPUTING` (the computer dies computing)     |
//! | `lazy.finish.before_publish`   | force: after `cached_value`, before `state = COMPUTED`       |
//! | `lazy.finish.after_publish`    | force: after COMPUTED and the count, before the owner word is cleared |
//! | `lazy.fail.before_publish`     | force: after the error message, before `state = ERROR`       |
//! | `lazy.fail.after_publish`      | force: after ERROR, before the owner word is cleared         |
//! | `lazy.takeover.after_cas`      | a waiter: after the owner-word CAS that takes over from a dead computer |
//! | `future.claim.after_intent`    | `codata::future` claim: after `completion_time` names us, before `PENDING → COMPUTING` |
//! | `future.claim.after_cas`       | claim: after `→ COMPUTING` (the setter dies holding the promise) |
//! | `future.finish.after_tail`     | set: after the value and the finish owner word, before `completion_time` |
//! | `future.finish.before_publish` | set: after `completion_time`, before `state = READY/ERROR`   |
//! | `future.finish.after_publish`  | set: after READY/ERROR, before the finish owner word is cleared |
//! | `future.takeover.after_cas`    | claim: after the owner-word CAS that takes over from a dead setter |

/// The environment variable naming the point at which to die.
#[cfg(feature = "fault-injection")]
pub const CRASH_AT_ENV: &str = "ZEROIPC_CRASH_AT";

/// Every point name, in the order of the table above.
#[cfg(feature = "fault-injection")]
pub const POINTS: &[&str] = &[
    "queue.push.after_claim",
    "queue.push.before_publish",
    "queue.pop.after_claim",
    "queue.pop.before_release",
    "stack.push.after_reserve",
    "stack.push.after_claim",
    "stack.push.before_publish",
    "stack.pop.after_reserve",
    "stack.pop.after_claim",
    "stack.pop.before_release",
    "ring.write.before_publish",
    "ring.read.before_release",
    "stream.emit.before_publish",
    "stream.take.before_claim",
    "pool.allocate.before_cas",
    "pool.allocate.after_cas",
    "pool.free.before_cas",
    "pool.free.after_cas",
    "hash.insert.after_claim",
    "hash.insert.after_key",
    "hash.insert.before_publish",
    "hash.update.after_claim",
    "hash.remove.after_claim",
    "mutex.lock.after_intent",
    "mutex.lock.after_cas",
    "mutex.unlock.after_release",
    "rwlock.write.after_wmtx",
    "rwlock.write.after_active",
    "once.call.after_intent",
    "once.call.after_claim",
    "once.finish.after_done",
    "semaphore.acquire.after_intent",
    "semaphore.acquire.after_cas",
    "semaphore.acquire.after_record",
    "semaphore.release.after_cas",
    "semaphore.reclaim.after_take",
    "semaphore.reclaim.after_give_back",
    "barrier.wait.after_arrive",
    "barrier.wait.before_release",
    "lazy.claim.after_intent",
    "lazy.claim.after_cas",
    "lazy.finish.before_publish",
    "lazy.finish.after_publish",
    "lazy.fail.before_publish",
    "lazy.fail.after_publish",
    "lazy.takeover.after_cas",
    "future.claim.after_intent",
    "future.claim.after_cas",
    "future.finish.after_tail",
    "future.finish.before_publish",
    "future.finish.after_publish",
    "future.takeover.after_cas",
];

/// Dies by `SIGKILL` if `ZEROIPC_CRASH_AT` names this point.
#[cfg(all(feature = "fault-injection", not(loom)))]
#[inline(never)]
pub(crate) fn point(name: &'static str) {
    static TARGET: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let target = TARGET.get_or_init(|| std::env::var(CRASH_AT_ENV).ok());
    if target.as_deref() == Some(name) {
        debug_assert!(
            POINTS.contains(&name),
            "point {name} is not in fault::POINTS"
        );
        let _ =
            rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
        // SIGKILL cannot be caught; it is delivered before kill(2) returns to us.
        std::process::abort();
    }
}

/// Without the `fault-injection` feature (or under loom): nothing.
#[cfg(not(all(feature = "fault-injection", not(loom))))]
#[inline(always)]
pub(crate) fn point(_name: &'static str) {}
