//! Futures that compose: [`Future::map`] and [`Future::then`] make a *derived* future in the
//! same segment, set from this one's value by a function, run by a stage the caller owns —
//! a thread ([`Stage`]) or a task the caller awaits or spawns ([`StageTask`], from
//! [`Future::map_async`] / [`Future::then_async`]).
//!
//! # Layout
//!
//! Nothing of its own: the derived future is an ordinary `Future<U>` entry (FORMAT.md §6.1)
//! created under the name the caller gives. C++ and Python peers see a plain future and may
//! wait for it; the function runs only in the process that owns the stage (as C++'s `then`
//! and Python's `then(cb)`, which are process-local too).
//!
//! # Synchronization
//!
//! The stage is a reader of the source (it waits as [`Future::get`] does: futex on the
//! source's `state`) and a setter of the derived future. It claims the derived future only
//! once the source is final, right before it runs the function: until then the derived
//! future stays PENDING (and another setter may still set it; the stage then ends with
//! [`StageError::AlreadySet`]). All the ordering is the Future's own (its module docs): the
//! Acquire of the source's final state, then the derived's claim CAS and Release publish.
//!
//! | the source ends as                     | the derived future is set to                      |
//! |----------------------------------------|---------------------------------------------------|
//! | READY `v`                              | `f(v)` (`map`), or `f(v)`'s `Ok` / `Err` text (`then`) |
//! | ERROR with a message                   | ERROR with the same message (so chains keep the first text) |
//! | COMPUTING under a dead zeroipc setter  | ERROR "the setter (pid N) died before setting the future" |
//! | corrupt bytes                          | ERROR "corrupt future: …" (the [`Corruption`]'s text) |
//! | (the stage is stopped or dropped first) | ERROR "the stage was stopped before its source was set" |
//! | (the function panics)                  | ERROR "the stage's function panicked"            |
//!
//! # Process death
//!
//! - The stage's process dies **while waiting for the source**: the derived future stays
//!   PENDING, exactly like a future nobody has set yet. Waiters see
//!   [`GetTimeoutError::Timeout`] from `get_timeout` /
//!   `get_deadline` (an untimed `get` waits on, as for any unset future); anyone may still set
//!   it, or run a new stage into it.
//! - It dies **while running the function** (after its claim): the derived future is
//!   COMPUTING under the stage's pid; waiters see
//!   [`GetError::SetterDead`] and [`Future::claim`] takes over.
//! - The **source's** setter dies: the stage sees it and sets the derived future to an error
//!   naming that setter.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use zeroipc::{Segment, SegmentOptions, codata::Future};
//! # let name = format!("/zeroipc-doc-compose-{}", std::process::id());
//! let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
//! let celsius: Future<f64> = Future::create(&seg, "celsius")?;
//! let stage = celsius.map("fahrenheit", |c| c * 1.8 + 32.0)?; // a thread we own
//! celsius.set_value(100.0)?;
//! assert_eq!(stage.output().get_timeout(Duration::from_secs(10))?, 212.0);
//! stage.join()?;
//! # Segment::unlink(&name)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::error::Error;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::{Future, FutureState, GetError, GetTimeoutError, SetError};
use crate::Element;
use crate::error::{Corruption, StructureError};
use crate::loom::{Ordering::Relaxed, ProcessAtomicBool};

/// How often a stage thread re-checks its stop flag while the source is unset (as a
/// Stream stage does). The wait itself sleeps on the source's futex in between.
const STAGE_POLL: Duration = Duration::from_millis(10);

/// The derived future's error when the stage stopped before the source was set.
const STOPPED: &str = "the stage was stopped before its source was set";
/// The derived future's error when the function panicked.
const PANICKED: &str = "the stage's function panicked";

/// Why a stage ([`Stage::join`], a [`StageTask`]) could not set its derived future. An
/// error of the *source* is not one: it is passed on to the derived future, and the stage
/// succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StageError {
    /// Someone else claimed or set the derived future before the stage could (the state
    /// found).
    AlreadySet {
        /// The derived future's state: `Computing`, `Ready` or `Error`.
        state: FutureState,
    },
    /// The function panicked; the derived future holds the error "the stage's function
    /// panicked".
    Panicked,
    /// The derived future's bytes break the format.
    Corrupt(Corruption),
}

impl fmt::Display for StageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AlreadySet { state } => write!(
                f,
                "the derived future was set by someone else (found it {state:?}, expected it pending)"
            ),
            Self::Panicked => f.write_str(PANICKED),
            Self::Corrupt(c) => write!(f, "corrupt derived future: {c}"),
        }
    }
}

impl Error for StageError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Corrupt(c) => Some(c),
            _ => None,
        }
    }
}

impl From<SetError> for StageError {
    fn from(e: SetError) -> Self {
        match e {
            SetError::AlreadySet { state } => Self::AlreadySet { state },
            SetError::Corrupt(c) => Self::Corrupt(c),
        }
    }
}

/// The text a source's failure passes on to the derived future: a setter's message
/// verbatim (so a chain keeps the first text), else the error's description.
fn propagated(e: &GetError) -> String {
    match e {
        GetError::Failed { message } => message.clone(),
        other => other.to_string(),
    }
}

/// A wait's error as [`GetError`], `None` for a timeout (which a polling stage and the
/// async fork-join forms handle themselves).
pub(super) fn not_timeout(e: GetTimeoutError) -> Option<GetError> {
    match e {
        GetTimeoutError::Failed { message } => Some(GetError::Failed { message }),
        GetTimeoutError::SetterDead { pid } => Some(GetError::SetterDead { pid }),
        GetTimeoutError::Corrupt(c) => Some(GetError::Corrupt(c)),
        GetTimeoutError::Timeout => None,
    }
}

/// The function of a stage, with `map`'s infallible form folded into `then`'s.
type Step<T, U> = Box<dyn FnOnce(T) -> Result<U, String> + Send>;

/// Sets `out` from the source's outcome: claims it, runs `f` (catching a panic), publishes.
fn settle<T: Element, U: Element>(
    out: &Future<U>,
    got: Result<T, GetError>,
    f: Step<T, U>,
) -> Result<(), StageError> {
    match got {
        Ok(v) => {
            let promise = out.claim()?;
            match catch_unwind(AssertUnwindSafe(|| f(v))) {
                Ok(Ok(u)) => promise.set_value(u)?,
                Ok(Err(message)) => promise.set_error(&message)?,
                Err(_) => {
                    promise.set_error(PANICKED)?;
                    return Err(StageError::Panicked);
                }
            }
        }
        Err(e) => out.set_error(&propagated(&e))?,
    }
    Ok(())
}

/// Sets `out` to the "stopped" error unless someone set it meanwhile.
fn abandon<U: Element>(out: &Future<U>) -> Result<(), StageError> {
    match out.set_error(STOPPED) {
        Ok(()) | Err(SetError::AlreadySet { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

impl<T: Element> Future<T> {
    /// A new future `out` in this segment, set to `f(value)` once this one is set, by a
    /// stage thread the returned [`Stage`] owns. An error of this future (a message, a dead
    /// setter, corrupt bytes) becomes `out`'s error, with this future's message as it is.
    /// See the [`compose` docs](self#synchronization) for every outcome, and what a dead
    /// stage leaves.
    ///
    /// Dropping the [`Stage`] stops it (and sets `out` to an error if it was still waiting);
    /// keep it as long as `out` should be filled in.
    ///
    /// # Errors
    ///
    /// Creating `out` failed ([`Future::create`]: the name is taken, no room).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use zeroipc::{Segment, SegmentOptions, codata::future::{Future, GetTimeoutError}};
    /// # let name = format!("/zeroipc-doc-future-map-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let reading: Future<u32> = Future::create(&seg, "reading")?;
    /// let doubled = reading.map("doubled", |v| u64::from(v) * 2)?;
    /// let failing: Future<u32> = Future::create(&seg, "failing")?;
    /// let never = failing.map("never", |v| v + 1)?;
    ///
    /// reading.set_value(21)?;
    /// failing.set_error("sensor offline")?;
    /// assert_eq!(doubled.output().get_timeout(Duration::from_secs(10))?, 42);
    /// assert_eq!(
    ///     never.output().get_timeout(Duration::from_secs(10)),
    ///     Err(GetTimeoutError::Failed { message: "sensor offline".into() })
    /// );
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn map<U: Element>(
        &self,
        out: &str,
        f: impl FnOnce(T) -> U + Send + 'static,
    ) -> Result<Stage<U>, StructureError> {
        self.stage(out, Box::new(move |v| Ok(f(v))))
    }

    /// As [`Future::map`] with a function that may fail: `Ok(u)` sets `out` to `u`, `Err(e)`
    /// sets it to the error `e.to_string()` (cut to 240 bytes). This is C++'s `then`, whose
    /// function may throw.
    ///
    /// # Errors
    ///
    /// Creating `out` failed ([`Future::create`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use zeroipc::{Segment, SegmentOptions, codata::future::{Future, GetTimeoutError}};
    /// # let name = format!("/zeroipc-doc-future-then-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let input: Future<i64> = Future::create(&seg, "input")?;
    /// let root = input.then("root", |v| {
    ///     if v < 0 { Err(format!("no real root of {v}")) } else { Ok((v as f64).sqrt()) }
    /// })?;
    /// input.set_value(-4)?;
    /// assert_eq!(
    ///     root.output().get_timeout(Duration::from_secs(10)),
    ///     Err(GetTimeoutError::Failed { message: "no real root of -4".into() })
    /// );
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn then<U: Element, E: fmt::Display>(
        &self,
        out: &str,
        f: impl FnOnce(T) -> Result<U, E> + Send + 'static,
    ) -> Result<Stage<U>, StructureError> {
        self.stage(out, Box::new(move |v| f(v).map_err(|e| e.to_string())))
    }

    /// As [`Future::map`], but the stage is a task: `.await` the returned [`StageTask`] or
    /// spawn it on any executor. It waits with [`Future::get_async`], so it never blocks a
    /// worker thread. Dropping it unfinished sets `out` to an error, as dropping a [`Stage`]
    /// does.
    ///
    /// # Errors
    ///
    /// Creating `out` failed ([`Future::create`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use zeroipc::{Segment, SegmentOptions, codata::Future};
    /// # let name = format!("/zeroipc-doc-future-map-async-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let n: Future<u32> = Future::create(&seg, "n")?;
    /// let task = n.map_async("square", |v| v * v)?;
    /// let square = task.output().clone();
    /// n.set_value(12)?;
    /// block_on(task)?; // or tokio::spawn(task)
    /// assert_eq!(square.try_get()?, Some(144));
    /// # fn block_on<F: core::future::Future>(fut: F) -> F::Output {
    /// #     use std::task::{Context, Poll, Wake, Waker};
    /// #     use std::sync::Arc;
    /// #     struct T(std::thread::Thread);
    /// #     impl Wake for T { fn wake(self: Arc<Self>) { self.0.unpark() } }
    /// #     let waker = Waker::from(Arc::new(T(std::thread::current())));
    /// #     let mut cx = Context::from_waker(&waker);
    /// #     let mut fut = std::pin::pin!(fut);
    /// #     loop {
    /// #         if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) { return v; }
    /// #         std::thread::park();
    /// #     }
    /// # }
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn map_async<U: Element>(
        &self,
        out: &str,
        f: impl FnOnce(T) -> U + Send + 'static,
    ) -> Result<StageTask<U>, StructureError> {
        self.task(out, Box::new(move |v| Ok(f(v))))
    }

    /// As [`Future::then`], as a task ([`Future::map_async`]).
    ///
    /// # Errors
    ///
    /// Creating `out` failed ([`Future::create`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use zeroipc::{Segment, SegmentOptions, codata::future::{Future, GetError}};
    /// # let name = format!("/zeroipc-doc-future-then-async-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let n: Future<u32> = Future::create(&seg, "n")?;
    /// let task = n.then_async("checked", |v| v.checked_mul(1 << 31).ok_or("overflow"))?;
    /// let checked = task.output().clone();
    /// n.set_value(3)?;
    /// block_on(task)?;
    /// assert_eq!(checked.try_get(), Err(GetError::Failed { message: "overflow".into() }));
    /// # fn block_on<F: core::future::Future>(fut: F) -> F::Output {
    /// #     use std::task::{Context, Poll, Wake, Waker};
    /// #     use std::sync::Arc;
    /// #     struct T(std::thread::Thread);
    /// #     impl Wake for T { fn wake(self: Arc<Self>) { self.0.unpark() } }
    /// #     let waker = Waker::from(Arc::new(T(std::thread::current())));
    /// #     let mut cx = Context::from_waker(&waker);
    /// #     let mut fut = std::pin::pin!(fut);
    /// #     loop {
    /// #         if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) { return v; }
    /// #         std::thread::park();
    /// #     }
    /// # }
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn then_async<U: Element, E: fmt::Display>(
        &self,
        out: &str,
        f: impl FnOnce(T) -> Result<U, E> + Send + 'static,
    ) -> Result<StageTask<U>, StructureError> {
        self.task(out, Box::new(move |v| f(v).map_err(|e| e.to_string())))
    }

    /// Creates `out` and starts the stage thread.
    fn stage<U: Element>(&self, out: &str, f: Step<T, U>) -> Result<Stage<U>, StructureError> {
        let output = Future::<U>::create(self.segment(), out)?;
        let stop = Arc::new(ProcessAtomicBool::new(false));
        let (source, tx, flag) = (self.clone(), output.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            let got = loop {
                // ORDERING: Relaxed — a process-local flag; seen within one poll.
                if flag.load(Relaxed) {
                    return abandon(&tx);
                }
                match source.get_timeout(STAGE_POLL) {
                    Ok(v) => break Ok(v),
                    Err(e) => {
                        if let Some(e) = not_timeout(e) {
                            break Err(e);
                        }
                    }
                }
            };
            settle(&tx, got, f)
        });
        Ok(Stage {
            output,
            stop,
            handle: Some(handle),
        })
    }

    /// Creates `out` and builds the stage task.
    fn task<U: Element>(&self, out: &str, f: Step<T, U>) -> Result<StageTask<U>, StructureError> {
        let output = Future::<U>::create(self.segment(), out)?;
        let wait = self.get_async();
        let tx = output.clone();
        let run = async move { settle(&tx, wait.await, f) };
        Ok(StageTask {
            output,
            run: Some(Box::pin(run)),
        })
    }
}

/// A running [`Future::map`] / [`Future::then`] stage: the derived future and the thread
/// that will set it. Dropping it stops and joins the thread.
///
/// # Examples
///
/// ```
/// use zeroipc::{Segment, SegmentOptions, codata::future::{Future, GetError}};
/// # let name = format!("/zeroipc-doc-future-stage-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let f: Future<u8> = Future::create(&seg, "f")?;
/// let stage = f.map("g", |v| v + 1)?;
/// let g = stage.output().clone();
/// drop(stage); // stops it: nobody will set `f` here
/// assert_eq!(
///     g.try_get(),
///     Err(GetError::Failed { message: "the stage was stopped before its source was set".into() })
/// );
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Stage<U: Element> {
    output: Future<U>,
    stop: Arc<ProcessAtomicBool>,
    handle: Option<JoinHandle<Result<(), StageError>>>,
}

impl<U: Element> fmt::Debug for Stage<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stage")
            .field("output", &self.output)
            // ORDERING: Relaxed — a process-local flag, for display only.
            .field("stopped", &self.stop.load(Relaxed))
            .field("joined", &self.handle.is_none())
            .finish()
    }
}

impl<U: Element> Stage<U> {
    /// The derived future.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, codata::Future};
    /// # let name = format!("/zeroipc-doc-future-stage-output-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let f: Future<u8> = Future::create(&seg, "f")?;
    /// let stage = f.map("g", |v| v + 1)?;
    /// assert_eq!(stage.output().entry().name(), "g");
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn output(&self) -> &Future<U> {
        &self.output
    }

    /// Asks the stage to stop (seen within ~10 ms). A stage still waiting for its source
    /// then sets the derived future to the error "the stage was stopped before its source
    /// was set"; one already running the function finishes it.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, codata::Future};
    /// # let name = format!("/zeroipc-doc-future-stage-stop-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let f: Future<u8> = Future::create(&seg, "f")?;
    /// let stage = f.map("g", |v| v + 1)?;
    /// stage.stop();
    /// stage.join()?;
    /// assert!(stage_output_failed(&seg)?);
    /// # fn stage_output_failed(seg: &Segment) -> Result<bool, Box<dyn std::error::Error>> {
    /// #     let g: Future<u8> = Future::open(seg, "g")?;
    /// #     Ok(g.try_get().is_err())
    /// # }
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stop(&self) {
        // ORDERING: Relaxed — a process-local flag polled by the stage.
        self.stop.store(true, Relaxed);
    }

    /// Waits for the stage to finish: the derived future is set (or the stage stopped).
    ///
    /// # Errors
    ///
    /// [`StageError::AlreadySet`] if someone else set the derived future first;
    /// [`StageError::Panicked`] if the function panicked; [`StageError::Corrupt`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, codata::future::{Future, StageError, FutureState}};
    /// # let name = format!("/zeroipc-doc-future-stage-join-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let f: Future<u8> = Future::create(&seg, "f")?;
    /// let stage = f.map("g", |v| v + 1)?;
    /// stage.output().set_value(0)?; // someone else was faster
    /// f.set_value(1)?;
    /// assert_eq!(stage.join(), Err(StageError::AlreadySet { state: FutureState::Ready }));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn join(mut self) -> Result<(), StageError> {
        self.handle
            .take()
            .map_or(Ok(()), |h| h.join().unwrap_or(Err(StageError::Panicked)))
    }
}

impl<U: Element> Drop for Stage<U> {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            self.stop();
            let _ = h.join();
        }
    }
}

type Run = Pin<Box<dyn core::future::Future<Output = Result<(), StageError>> + Send>>;

/// A [`Future::map_async`] / [`Future::then_async`] stage as a task: resolves once the
/// derived future is set, to what [`Stage::join`] returns. `.await` it, or spawn it
/// (`tokio::spawn(task)`): it is `Send + 'static`. Dropping it unfinished sets the derived
/// future to the error "the stage was stopped before its source was set".
///
/// # Examples
///
/// ```
/// # use zeroipc::{Segment, SegmentOptions, codata::Future};
/// # let name = format!("/zeroipc-doc-future-stage-task-{}", std::process::id());
/// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let f: Future<u8> = Future::create(&seg, "f")?;
/// let task = f.map_async("g", |v| v + 1)?;
/// let g = task.output().clone();
/// drop(task);
/// assert!(g.try_get().is_err()); // the stopped stage's error
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a stage task does nothing unless awaited or spawned"]
pub struct StageTask<U: Element> {
    output: Future<U>,
    /// `None` once finished.
    run: Option<Run>,
}

impl<U: Element> fmt::Debug for StageTask<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StageTask")
            .field("output", &self.output)
            .field("finished", &self.run.is_none())
            .finish()
    }
}

impl<U: Element> StageTask<U> {
    /// The derived future.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, codata::Future};
    /// # let name = format!("/zeroipc-doc-future-task-output-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let f: Future<u8> = Future::create(&seg, "f")?;
    /// let task = f.map_async("g", |v| v + 1)?;
    /// assert_eq!(task.output().entry().name(), "g");
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn output(&self) -> &Future<U> {
        &self.output
    }
}

impl<U: Element> core::future::Future for StageTask<U> {
    type Output = Result<(), StageError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(run) = this.run.as_mut() else {
            // Polled again after it finished: the derived future is set; nothing to do.
            return Poll::Ready(Ok(()));
        };
        let out = run.as_mut().poll(cx);
        if out.is_ready() {
            this.run = None;
        }
        out
    }
}

impl<U: Element> Drop for StageTask<U> {
    fn drop(&mut self) {
        // Between polls the task is either waiting for its source (the derived future is
        // still PENDING) or finished (`run` is `None`): the function never runs half-way.
        if self.run.take().is_some() {
            let _ = abandon(&self.output);
        }
    }
}
