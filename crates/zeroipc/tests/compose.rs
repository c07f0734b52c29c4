//! Futures that compose (issue #15 part 1): `map` / `then` stages and fork-join
//! (`join_all`, `select_first`) across processes: values, errors passed on, a dead stage
//! (the derived future stays pending and timeouts report it), a dead setter, the blocking,
//! `try_`, timeout, deadline and async forms.
//!
//! Children are this binary re-run with a role (`common::spawn_child`); every step that
//! must find a peer in some state waits for a handshake (a future the peer sets, a thread
//! seen asleep in the kernel), never for a sleep.

mod common;

use std::time::{Duration, Instant};

use common::{KillOnDrop, ShmName, child_role, spawn_blocked, spawn_child, spawn_child_with};
use zeroipc::codata::future::{
    Future, FutureState, GetError, GetTimeoutError, JoinError, JoinTimeoutError, SelectError,
    SelectTimeoutError, StageError, join_all, join_all_async, join_all_async_deadline,
    join_all_async_timeout, join_all_deadline, join_all_timeout, select_first, select_first_async,
    select_first_async_deadline, select_first_async_timeout, select_first_deadline,
    select_first_timeout, try_join_all, try_select_first,
};
use zeroipc::{Segment, SegmentOptions};

/// The bound of every wait that should succeed (never reached when the code works).
const WAIT: Duration = Duration::from_secs(30);
/// A wait that must time out.
const SHORT: Duration = Duration::from_millis(30);
/// Worker processes in the fork-join tests.
const WORKERS: usize = 4;

fn fresh(test: &str) -> (ShmName, Segment) {
    let name = ShmName::new(test);
    let seg = SegmentOptions::new()
        .size(256 * 1024)
        .create_new(name.as_str())
        .unwrap();
    (name, seg)
}

fn open<T: zeroipc::Element>(seg: &Segment, name: &str) -> Future<T> {
    Future::open(seg, name).unwrap()
}

/// `part0` .. `part{n-1}`.
fn parts(seg: &Segment, n: usize) -> Vec<Future<u64>> {
    (0..n)
        .map(|i| Future::create(seg, &format!("part{i}")).unwrap())
        .collect()
}

fn failed<T: std::fmt::Debug>(r: Result<T, GetTimeoutError>) -> String {
    match r {
        Err(GetTimeoutError::Failed { message }) => message,
        other => panic!("expected a failed future, got {other:?}"),
    }
}

/// A child process that stays alive until killed.
fn park_forever() -> ! {
    loop {
        std::thread::park();
    }
}

/// The worker of the fork-join tests: waits for `go`, then sets `part{index}` to
/// `(index + 1) * 100`, or to an error when `FAIL` names its index, or claims it and
/// hangs when `HANG` does (a setter that dies computing, once killed).
fn worker(name: &str) {
    let seg = Segment::open(name).unwrap();
    let index: usize = std::env::var("INDEX").unwrap().parse().unwrap();
    let part: Future<u64> = open(&seg, &format!("part{index}"));
    let go: Future<u32> = open(&seg, "go");
    let hang = std::env::var("HANG").ok() == Some(index.to_string());
    let fail = std::env::var("FAIL").ok() == Some(index.to_string());
    let skip = std::env::var("SKIP").ok() == Some(index.to_string());
    if hang {
        let _promise = part.claim().unwrap();
        let ready: Future<u32> = open(&seg, "ready");
        ready.set_value(1).unwrap();
        park_forever();
    }
    go.get_timeout(WAIT).unwrap();
    if skip {
        return;
    }
    if fail {
        part.set_error(&format!("worker {index} failed")).unwrap();
    } else {
        part.set_value((index as u64 + 1) * 100).unwrap();
    }
}

/// Starts `n` workers for `test`, with `env` for every one.
fn spawn_workers(test: &str, name: &ShmName, n: usize, env: &[(&str, &str)]) -> Vec<KillOnDrop> {
    (0..n)
        .map(|i| {
            let mut vars = vec![("INDEX", i.to_string())];
            vars.extend(env.iter().map(|(k, v)| (*k, (*v).to_string())));
            KillOnDrop(spawn_child_with(test, "worker", name, &vars))
        })
        .collect()
}

/// Waits for every child to exit successfully.
fn all_exit_ok(children: Vec<KillOnDrop>) {
    let deadline = Instant::now() + WAIT;
    for mut c in children {
        loop {
            if let Some(status) = c.0.try_wait().unwrap() {
                assert!(status.success(), "a child failed: {status}");
                break;
            }
            assert!(Instant::now() < deadline, "a child did not finish");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

fn current_thread_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// map / then

/// A stage in a child process sets the derived future from a value the parent sets; a
/// stage in the parent does the same from a value a child sets.
#[test]
fn map_and_then_run_across_processes() {
    if let Some(name) = child_role("stage") {
        let seg = Segment::open(&name).unwrap();
        let source: Future<u64> = open(&seg, "source");
        let stage = source.map("doubled", |v| v * 2).unwrap();
        open::<u32>(&seg, "ready").set_value(1).unwrap();
        stage.join().unwrap();
        return;
    }
    if let Some(name) = child_role("setter") {
        let seg = Segment::open(&name).unwrap();
        open::<u64>(&seg, "input").set_value(9).unwrap();
        return;
    }
    let test = "map_and_then_run_across_processes";
    let (name, seg) = fresh(test);
    let source: Future<u64> = Future::create(&seg, "source").unwrap();
    let ready: Future<u32> = Future::create(&seg, "ready").unwrap();
    let input: Future<u64> = Future::create(&seg, "input").unwrap();

    // The stage runs in the child.
    let child = KillOnDrop(spawn_child(test, "stage", &name));
    ready.get_timeout(WAIT).unwrap();
    let doubled: Future<u64> = open(&seg, "doubled");
    source.set_value(21).unwrap();
    assert_eq!(doubled.get_timeout(WAIT), Ok(42));

    // The stage runs here, the value comes from the child; `then` chains on `map`.
    let squared = input.map("squared", |v| v * v).unwrap();
    let checked = squared
        .output()
        .then("checked", |v| {
            if v > 50 {
                Ok(v as f64 / 2.0)
            } else {
                Err(format!("{v} is too small"))
            }
        })
        .unwrap();
    let setter = KillOnDrop(spawn_child(test, "setter", &name));
    assert_eq!(checked.output().get_timeout(WAIT), Ok(40.5));
    assert_eq!(squared.output().get_timeout(WAIT), Ok(81));
    squared.join().unwrap();
    checked.join().unwrap();
    all_exit_ok(vec![child, setter]);
}

/// An error set by another process passes on, with its text unchanged, through a chain of
/// `then` and `map`; a `then` whose function fails sets its own text.
#[test]
fn an_error_on_the_source_propagates_across_processes() {
    if let Some(name) = child_role("failer") {
        let seg = Segment::open(&name).unwrap();
        open::<u32>(&seg, "source")
            .set_error("disk full on worker")
            .unwrap();
        return;
    }
    let test = "an_error_on_the_source_propagates_across_processes";
    let (name, seg) = fresh(test);
    let source: Future<u32> = Future::create(&seg, "source").unwrap();
    let first = source.then("first", |v| Ok::<_, String>(v + 1)).unwrap();
    let second = first.output().map("second", |v| v * 2).unwrap();
    let child = KillOnDrop(spawn_child(test, "failer", &name));
    assert_eq!(
        failed(second.output().get_timeout(WAIT)),
        "disk full on worker"
    );
    assert_eq!(
        failed(first.output().get_timeout(WAIT)),
        "disk full on worker"
    );
    // Passing an error on is the stage doing its job.
    first.join().unwrap();
    second.join().unwrap();
    all_exit_ok(vec![child]);

    // The function's own failure.
    let n: Future<i32> = Future::create(&seg, "n").unwrap();
    let positive = n
        .then("positive", |v| {
            u32::try_from(v).map_err(|_| format!("{v} is negative"))
        })
        .unwrap();
    n.set_value(-3).unwrap();
    assert_eq!(
        failed(positive.output().get_timeout(WAIT)),
        "-3 is negative"
    );
}

/// The rule: a stage whose process dies leaves the derived future pending, and
/// the derived future's timeouts report it. The child runs the stage and is SIGKILLed
/// while it waits for its source; the source is set afterwards; `get_timeout` and a
/// timed join on the derived future time out, and anyone may still set it.
#[test]
fn a_dead_stage_leaves_the_derived_future_pending() {
    if let Some(name) = child_role("stage") {
        let seg = Segment::open(&name).unwrap();
        let source: Future<u64> = open(&seg, "source");
        let _stage = source.map("derived", |v| v + 1).unwrap();
        open::<u32>(&seg, "ready").set_value(1).unwrap();
        park_forever();
    }
    let test = "a_dead_stage_leaves_the_derived_future_pending";
    let (name, seg) = fresh(test);
    let source: Future<u64> = Future::create(&seg, "source").unwrap();
    let ready: Future<u32> = Future::create(&seg, "ready").unwrap();
    let child = KillOnDrop(spawn_child(test, "stage", &name));
    ready.get_timeout(WAIT).unwrap();
    let derived: Future<u64> = open(&seg, "derived");
    drop(child); // SIGKILL and reap
    source.set_value(1).unwrap();

    assert_eq!(derived.state(), Ok(FutureState::Pending));
    assert_eq!(derived.get_timeout(SHORT), Err(GetTimeoutError::Timeout));
    assert_eq!(
        derived.get_deadline(Instant::now() + SHORT),
        Err(GetTimeoutError::Timeout)
    );
    assert_eq!(
        join_all_timeout(&[&source, &derived], SHORT),
        Err(JoinTimeoutError::Timeout { unset: vec![1] })
    );
    let r = current_thread_rt().block_on(derived.get_async_timeout(SHORT));
    assert_eq!(r, Err(GetTimeoutError::Timeout));
    // Still an ordinary unset future: a survivor may set it.
    derived.set_value(2).unwrap();
    assert_eq!(join_all(&[&source, &derived]), Ok(vec![1, 2]));
}

/// A stage killed while its function runs (after it claimed the derived future) is a dead
/// setter: waiters see `SetterDead` with its pid, and a survivor can take over.
#[test]
fn a_stage_killed_in_its_function_is_a_dead_setter() {
    if let Some(name) = child_role("stage") {
        let seg = Segment::open(&name).unwrap();
        let source: Future<u64> = open(&seg, "source");
        let ready: Future<u32> = open(&seg, "ready");
        let _stage = source
            .map("derived", move |_| -> u64 {
                ready.set_value(1).unwrap();
                park_forever()
            })
            .unwrap();
        park_forever();
    }
    let test = "a_stage_killed_in_its_function_is_a_dead_setter";
    let (name, seg) = fresh(test);
    let source: Future<u64> = Future::create(&seg, "source").unwrap();
    let ready: Future<u32> = Future::create(&seg, "ready").unwrap();
    let child = KillOnDrop(spawn_child(test, "stage", &name));
    let pid = child.0.id();
    source.set_value(1).unwrap();
    ready.get_timeout(WAIT).unwrap(); // the function is running
    let derived: Future<u64> = open(&seg, "derived");
    assert_eq!(derived.state(), Ok(FutureState::Computing));
    drop(child);
    assert_eq!(
        derived.get_timeout(WAIT),
        Err(GetTimeoutError::SetterDead { pid })
    );
    derived.claim().unwrap().set_value(7).unwrap();
    assert_eq!(derived.get(), Ok(7));
}

/// A source whose zeroipc setter (another process) died computing: the stage passes the
/// death on as the derived future's error.
#[test]
fn a_dead_source_setter_becomes_the_derived_error() {
    if let Some(name) = child_role("setter") {
        let seg = Segment::open(&name).unwrap();
        let _promise = open::<u64>(&seg, "source").claim().unwrap();
        open::<u32>(&seg, "ready").set_value(1).unwrap();
        park_forever();
    }
    let test = "a_dead_source_setter_becomes_the_derived_error";
    let (name, seg) = fresh(test);
    let source: Future<u64> = Future::create(&seg, "source").unwrap();
    let ready: Future<u32> = Future::create(&seg, "ready").unwrap();
    let child = KillOnDrop(spawn_child(test, "setter", &name));
    let pid = child.0.id();
    ready.get_timeout(WAIT).unwrap();
    let stage = source.map("derived", |v| v).unwrap();
    drop(child);
    assert_eq!(
        failed(stage.output().get_timeout(WAIT)),
        format!("the setter (pid {pid}) died before setting the future")
    );
    stage.join().unwrap();
}

/// Stopping (or dropping) a stage that still waits sets the derived future to an error; a
/// panicking function is `Panicked` with an error set; a derived future set by someone
/// else is `AlreadySet`.
#[test]
fn stages_stop_panic_and_lose_races_with_errors() {
    let (_name, seg) = fresh("stages_stop_panic_and_lose_races_with_errors");
    let source: Future<u32> = Future::create(&seg, "source").unwrap();
    let stopped = source.map("stopped", |v| v).unwrap();
    let out = stopped.output().clone();
    stopped.stop();
    stopped.join().unwrap();
    let stopped_text = "the stage was stopped before its source was set";
    assert_eq!(failed(out.get_timeout(WAIT)), stopped_text);

    let dropped = source.map("dropped", |v| v).unwrap();
    let out = dropped.output().clone();
    drop(dropped);
    assert_eq!(failed(out.get_timeout(WAIT)), stopped_text);

    let panics = source.map("panics", |_| -> u32 { panic!("boom") }).unwrap();
    let raced = source.map("raced", |v| v).unwrap();
    raced.output().set_value(5).unwrap();
    source.set_value(1).unwrap();
    assert_eq!(
        failed(panics.output().get_timeout(WAIT)),
        "the stage's function panicked"
    );
    assert_eq!(panics.join(), Err(StageError::Panicked));
    assert_eq!(
        raced.join(),
        Err(StageError::AlreadySet {
            state: FutureState::Ready
        })
    );
    assert_eq!(open::<u32>(&seg, "raced").get(), Ok(5));
    // The name is taken: creating the stage fails before any thread starts.
    assert!(source.map("raced", |v| v).is_err());
}

/// The async stages: spawned on tokio, fed by another process; an error passes on; a
/// dropped task sets the stopped error.
#[test]
fn async_stages_run_on_tokio_across_processes() {
    if let Some(name) = child_role("setter") {
        let seg = Segment::open(&name).unwrap();
        open::<u32>(&seg, "go").get_timeout(WAIT).unwrap();
        open::<u64>(&seg, "a").set_value(6).unwrap();
        open::<u64>(&seg, "b").set_error("b broke").unwrap();
        return;
    }
    let test = "async_stages_run_on_tokio_across_processes";
    let (name, seg) = fresh(test);
    let a: Future<u64> = Future::create(&seg, "a").unwrap();
    let b: Future<u64> = Future::create(&seg, "b").unwrap();
    let go: Future<u32> = Future::create(&seg, "go").unwrap();
    let child = KillOnDrop(spawn_child(test, "setter", &name));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let tripled = a.map_async("tripled", |v| v * 3).unwrap();
    let tripled_out = tripled.output().clone();
    let from_b = b.then_async("from_b", Ok::<_, String>).unwrap();
    let from_b_out = from_b.output().clone();
    let (r1, r2) = rt.block_on(async {
        let t1 = tokio::spawn(tripled);
        let t2 = tokio::spawn(from_b);
        tokio::task::yield_now().await;
        go.set_value(1).unwrap();
        let r1 = tokio::time::timeout(WAIT, t1).await.unwrap().unwrap();
        let r2 = tokio::time::timeout(WAIT, t2).await.unwrap().unwrap();
        (r1, r2)
    });
    assert_eq!((r1, r2), (Ok(()), Ok(())));
    assert_eq!(tripled_out.get_timeout(WAIT), Ok(18));
    assert_eq!(failed(from_b_out.get_timeout(WAIT)), "b broke");
    all_exit_ok(vec![child]);

    let never: Future<u64> = Future::create(&seg, "never").unwrap();
    let task = never.map_async("never_out", |v| v).unwrap();
    let out = task.output().clone();
    drop(task);
    assert_eq!(
        failed(out.get_timeout(WAIT)),
        "the stage was stopped before its source was set"
    );
}

// ---------------------------------------------------------------------------------------
// join_all / select_first

/// Workers in four processes each set one part; `join_all`, blocked (asleep in the kernel)
/// until they do, returns the values in order; `try_join_all` agrees.
#[test]
fn join_all_collects_the_parts_of_worker_processes() {
    if let Some(name) = child_role("worker") {
        return worker(&name);
    }
    let test = "join_all_collects_the_parts_of_worker_processes";
    let (name, seg) = fresh(test);
    let parts = parts(&seg, WORKERS);
    let go: Future<u32> = Future::create(&seg, "go").unwrap();
    let children = spawn_workers(test, &name, WORKERS, &[]);
    assert_eq!(try_join_all(&parts), Ok(None));
    let joiner = {
        let parts = parts.clone();
        spawn_blocked("join_all to sleep", move || join_all(&parts))
    };
    go.set_value(1).unwrap();
    assert_eq!(joiner.join().unwrap(), Ok(vec![100, 200, 300, 400]));
    assert_eq!(try_join_all(&parts), Ok(Some(vec![100, 200, 300, 400])));
    let refs: Vec<&Future<u64>> = parts.iter().rev().collect();
    assert_eq!(join_all(&refs), Ok(vec![400, 300, 200, 100]));
    assert_eq!(join_all::<u64, Future<u64>>(&[]), Ok(vec![]));
    all_exit_ok(children);
}

/// The first error wins at once, while an earlier future is still unset: a blocked
/// `join_all` returns worker 2's error although worker 0 never sets its part.
#[test]
fn join_all_returns_the_first_error_while_others_are_unset() {
    if let Some(name) = child_role("worker") {
        return worker(&name);
    }
    let test = "join_all_returns_the_first_error_while_others_are_unset";
    let (name, seg) = fresh(test);
    let parts = parts(&seg, 3);
    let go: Future<u32> = Future::create(&seg, "go").unwrap();
    let children = spawn_workers(test, &name, 3, &[("SKIP", "0"), ("FAIL", "2")]);
    // The timed form, so that a join that waits for part 0 first fails the test (with
    // `Timeout { unset: [0] }`) instead of hanging it.
    let joiner = {
        let parts = parts.clone();
        spawn_blocked("join_all_timeout to sleep", move || {
            join_all_timeout(&parts, WAIT)
        })
    };
    go.set_value(1).unwrap();
    let want = JoinError::Failed {
        index: 2,
        error: GetError::Failed {
            message: "worker 2 failed".into(),
        },
    };
    assert_eq!(joiner.join().unwrap(), Err(want.clone().into()));
    assert_eq!(parts[0].state(), Ok(FutureState::Pending));
    assert_eq!(try_join_all(&parts), Err(want.clone()));
    assert_eq!(join_all(&parts), Err(want.clone()));
    assert_eq!(
        want.to_string(),
        "future 2 of the join: the future failed: worker 2 failed"
    );
    all_exit_ok(children);
}

/// A worker killed while computing its part: the join fails with `SetterDead` and the
/// dead worker's pid, instead of waiting.
#[test]
fn join_all_reports_a_dead_worker() {
    if let Some(name) = child_role("worker") {
        return worker(&name);
    }
    let test = "join_all_reports_a_dead_worker";
    let (name, seg) = fresh(test);
    let parts = parts(&seg, 2);
    let go: Future<u32> = Future::create(&seg, "go").unwrap();
    let ready: Future<u32> = Future::create(&seg, "ready").unwrap();
    let mut children = spawn_workers(test, &name, 2, &[("HANG", "1")]);
    ready.get_timeout(WAIT).unwrap();
    let dead = children.pop().unwrap();
    let pid = dead.0.id();
    drop(dead);
    go.set_value(1).unwrap();
    assert_eq!(
        join_all(&parts),
        Err(JoinError::Failed {
            index: 1,
            error: GetError::SetterDead { pid }
        })
    );
    all_exit_ok(children);
}

/// The timed forms: futures still unset at the deadline are listed; a deadline in the
/// past still returns values that are already there.
#[test]
fn join_all_timeout_and_deadline_list_the_unset_futures() {
    let (_name, seg) = fresh("join_all_timeout_and_deadline_list_the_unset_futures");
    let parts = parts(&seg, 4);
    parts[1].set_value(1).unwrap();
    parts[2].claim().map(std::mem::forget).unwrap(); // computing, by us (alive)
    assert_eq!(
        join_all_timeout(&parts, SHORT),
        Err(JoinTimeoutError::Timeout {
            unset: vec![0, 2, 3]
        })
    );
    let t0 = Instant::now();
    assert_eq!(
        join_all_deadline(&parts, t0 + SHORT),
        Err(JoinTimeoutError::Timeout {
            unset: vec![0, 2, 3]
        })
    );
    assert!(t0.elapsed() >= SHORT, "returned before its deadline");
    let done = &parts[1..2];
    assert_eq!(join_all_deadline(done, Instant::now()), Ok(vec![1]));
    assert_eq!(
        JoinTimeoutError::Timeout { unset: vec![0, 2] }.to_string(),
        "timed out: futures [0, 2] of the join are still unset at the deadline"
    );
}

/// `select_first`, blocked until then, returns the one part a worker process sets (which
/// index, its value); an error as the first final future is that future's failure.
#[test]
fn select_first_returns_the_first_worker_to_finish() {
    if let Some(name) = child_role("worker") {
        return worker(&name);
    }
    let test = "select_first_returns_the_first_worker_to_finish";
    let (name, seg) = fresh(test);
    let parts = parts(&seg, 3);
    let go: Future<u32> = Future::create(&seg, "go").unwrap();
    // Only worker 2 runs.
    let child = KillOnDrop(spawn_child_with(
        test,
        "worker",
        &name,
        &[("INDEX", "2".into())],
    ));
    assert_eq!(try_select_first(&parts), Ok(None));
    let selector = {
        let parts = parts.clone();
        spawn_blocked("select_first to sleep", move || select_first(&parts))
    };
    go.set_value(1).unwrap();
    assert_eq!(selector.join().unwrap(), Ok((2, 300)));
    assert_eq!(try_select_first(&parts), Ok(Some((2, 300))));
    all_exit_ok(vec![child]);

    parts[0].set_error("zero broke").unwrap();
    let want = SelectError::Failed {
        index: 0,
        error: GetError::Failed {
            message: "zero broke".into(),
        },
    };
    assert_eq!(select_first(&parts), Err(want.clone()));
    assert_eq!(select_first_timeout(&parts, WAIT), Err(want.into()));
}

#[test]
fn select_first_timeout_and_deadline_time_out() {
    let (_name, seg) = fresh("select_first_timeout_and_deadline_time_out");
    let parts = parts(&seg, 3);
    assert_eq!(
        select_first_timeout(&parts, SHORT),
        Err(SelectTimeoutError::Timeout)
    );
    let t0 = Instant::now();
    assert_eq!(
        select_first_deadline(&parts, t0 + SHORT),
        Err(SelectTimeoutError::Timeout)
    );
    assert!(t0.elapsed() >= SHORT, "returned before its deadline");
    assert_eq!(
        select_first_timeout::<u64, Future<u64>>(&[], SHORT),
        Err(SelectTimeoutError::Timeout)
    );
    // A future set by another thread while the select sleeps on a different one.
    let p0 = parts[0].clone();
    let selector = {
        let parts = parts.clone();
        spawn_blocked("select_first_timeout to sleep", move || {
            select_first_timeout(&parts, WAIT)
        })
    };
    parts[2].set_value(5).unwrap();
    assert_eq!(selector.join().unwrap(), Ok((2, 5)));
    p0.set_value(4).unwrap();
    assert_eq!(select_first_deadline(&parts, Instant::now()), Ok((0, 4)));
}

#[test]
#[should_panic(expected = "select_first over no futures would wait forever")]
fn select_first_over_nothing_panics() {
    let _ = select_first::<u64, Future<u64>>(&[]);
}

/// The async forms under tokio: workers in other processes set the parts after the
/// awaits started; the first error wins; select gives the first.
#[test]
fn join_and_select_async_across_processes() {
    if let Some(name) = child_role("worker") {
        return worker(&name);
    }
    let test = "join_and_select_async_across_processes";
    let (name, seg) = fresh(test);
    let parts = parts(&seg, WORKERS);
    let go: Future<u32> = Future::create(&seg, "go").unwrap();
    let children = spawn_workers(test, &name, WORKERS, &[]);
    let rt = current_thread_rt();
    let (joined, selected) = rt.block_on(async {
        let join = tokio::spawn(join_all_async(&parts));
        let select = tokio::spawn(select_first_async(&parts));
        tokio::task::yield_now().await;
        go.set_value(1).unwrap();
        let joined = tokio::time::timeout(WAIT, join).await.unwrap().unwrap();
        let selected = tokio::time::timeout(WAIT, select).await.unwrap().unwrap();
        (joined, selected)
    });
    assert_eq!(joined, Ok(vec![100, 200, 300, 400]));
    let (index, value) = selected.unwrap();
    assert_eq!(value, (index as u64 + 1) * 100);
    all_exit_ok(children);

    let more = (0..2)
        .map(|i| Future::create(&seg, &format!("more{i}")).unwrap())
        .collect::<Vec<Future<u64>>>();
    more[1].set_error("one broke").unwrap();
    let failed_one = GetError::Failed {
        message: "one broke".into(),
    };
    let r = rt.block_on(async { tokio::time::timeout(WAIT, join_all_async(&more)).await });
    assert_eq!(
        r.unwrap(),
        Err(JoinError::Failed {
            index: 1,
            error: failed_one.clone()
        })
    );
    let r = rt.block_on(async { tokio::time::timeout(WAIT, select_first_async(&more)).await });
    assert_eq!(
        r.unwrap(),
        Err(SelectError::Failed {
            index: 1,
            error: failed_one
        })
    );
}

/// The async timed forms: a worker process sets its part while the awaits are pending;
/// the parts nobody sets are listed at the deadline; a failure wins over the deadline;
/// select returns the set part, or times out when none is.
#[test]
fn async_timed_forms_report_unset_futures_across_processes() {
    if let Some(name) = child_role("worker") {
        return worker(&name);
    }
    let test = "async_timed_forms_report_unset_futures_across_processes";
    let (name, seg) = fresh(test);
    let parts = parts(&seg, 3);
    let go: Future<u32> = Future::create(&seg, "go").unwrap();
    // Only worker 1 runs.
    let child = KillOnDrop(spawn_child_with(
        test,
        "worker",
        &name,
        &[("INDEX", "1".into())],
    ));
    let rt = current_thread_rt();
    let (selected, joined) = rt.block_on(async {
        let select = tokio::spawn(select_first_async_timeout(&parts, WAIT));
        tokio::task::yield_now().await;
        go.set_value(1).unwrap();
        let selected = tokio::time::timeout(WAIT, select).await.unwrap().unwrap();
        // Part 1 is set now (the select saw it); parts 0 and 2 never will be.
        let join = join_all_async_deadline(&parts, Instant::now() + SHORT);
        let joined = tokio::time::timeout(WAIT, join).await.unwrap();
        (selected, joined)
    });
    assert_eq!(selected, Ok((1, 200)));
    assert_eq!(joined, Err(JoinTimeoutError::Timeout { unset: vec![0, 2] }));
    all_exit_ok(vec![child]);

    let (r1, r2, r3) = rt.block_on(async {
        let r1 = join_all_async_timeout(&parts[1..2], SHORT).await;
        let r2 = select_first_async_deadline(&[&parts[0], &parts[2]], Instant::now() + SHORT).await;
        parts[2].set_error("two broke").unwrap();
        let r3 = join_all_async_timeout(&parts, WAIT).await;
        (r1, r2, r3)
    });
    assert_eq!(r1, Ok(vec![200]));
    assert_eq!(r2, Err(SelectTimeoutError::Timeout));
    assert_eq!(
        r3,
        Err(JoinTimeoutError::Failed {
            index: 2,
            error: GetError::Failed {
                message: "two broke".into()
            }
        })
    );
}

/// A setter that never wakes anyone (C++ and Python write the bytes and poll): a blocked
/// join and a blocked select still see it (each re-checks every future within its 1 ms
/// slice), and both count themselves in every future's `waiters` while they wait.
#[test]
fn join_and_select_see_a_setter_that_never_wakes() {
    let (name, seg) = fresh("join_and_select_see_a_setter_that_never_wakes");
    let parts = parts(&seg, 3);
    let set_quietly = |i: usize, v: u64| {
        // Through the file, like a foreign process: the value, then READY. No FUTEX_WAKE.
        let at = parts[i].entry().offset();
        common::poke(&name, at + 16, &v.to_le_bytes());
        common::poke(&name, at, &2u32.to_le_bytes());
    };
    let selector = {
        let parts = parts.clone();
        spawn_blocked("select_first to sleep", move || {
            select_first_timeout(&parts, WAIT)
        })
    };
    assert_eq!(parts.iter().map(|p| p.waiters().unwrap()).sum::<usize>(), 3);
    set_quietly(2, 77);
    assert_eq!(selector.join().unwrap(), Ok((2, 77)));

    let joiner = {
        let parts = parts.clone();
        spawn_blocked("join_all to sleep", move || join_all_timeout(&parts, WAIT))
    };
    assert_eq!(parts.iter().map(|p| p.waiters().unwrap()).sum::<usize>(), 3);
    set_quietly(1, 66);
    set_quietly(0, 55);
    assert_eq!(joiner.join().unwrap(), Ok(vec![55, 66, 77]));
    assert_eq!(parts.iter().map(|p| p.waiters().unwrap()).sum::<usize>(), 0);
}
