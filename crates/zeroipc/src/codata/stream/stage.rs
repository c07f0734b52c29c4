//! Readers that keep going: [`Subscription`] (an iterator over [`Stream::subscribe`]) and
//! the operators (`map`, `filter`, `take`, `skip`, `fold`, `window`, `window_by_time`), each
//! a [`Stage`]: a thread the caller owns that reads its input stream and emits into a new
//! output stream in the segment (its name in the output's `transform_name`, as C++ does).
//!
//! # Process death
//!
//! A stage's thread dies with its process; its output stream then never closes, so readers
//! of a stage's output use timeouts.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{EmitTimeoutError, NextTimeoutError, StageError, Stream};
use crate::Element;
use crate::error::StructureError;
use crate::loom::AtomicU8;
use crate::loom::Ordering::{AcqRel, Relaxed};
use crate::segment::Segment;

/// How often a stage re-checks its stop flag while its input is idle.
const STAGE_POLL: Duration = Duration::from_millis(10);

impl<T: Element> Stream<T> {
    /// A subscriber: an iterator of values until the stream is closed and drained, or no
    /// value arrives for `idle` (counted in `subscribers` while it lives).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zeroipc::{SegmentOptions, Segment, codata::stream::Stream};
    /// # let name = format!("/zeroipc-doc-stream-sub-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stream<u32> = Stream::create(&seg, "s", 8)?;
    /// (1..=3).try_for_each(|v| s.emit(v))?;
    /// s.close();
    /// assert_eq!(s.subscribe(Duration::from_secs(1)).sum::<u32>(), 6);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn subscribe(&self, idle: Duration) -> Subscription<'_, T> {
        // ORDERING: AcqRel, as C++ (an advisory count).
        self.hdr().subscribers.fetch_add(1, AcqRel);
        Subscription {
            stream: self,
            idle,
            error: None,
        }
    }

    /// Calls `f` with every value until the stream is closed and drained (or `idle` passes
    /// without a value): the callback form of [`Stream::subscribe`]. Returns how the
    /// subscription ended.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zeroipc::{SegmentOptions, Segment, codata::stream::{Stream, NextTimeoutError}};
    /// # let name = format!("/zeroipc-doc-stream-each-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stream<u32> = Stream::create(&seg, "s", 8)?;
    /// s.emit(4)?;
    /// s.close();
    /// let mut seen = Vec::new();
    /// let end = s.for_each(Duration::from_secs(1), |v| seen.push(v));
    /// assert_eq!(end, NextTimeoutError::Disconnected);
    /// assert_eq!(seen, [4]);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn for_each(&self, idle: Duration, mut f: impl FnMut(T)) -> NextTimeoutError {
        let mut sub = self.subscribe(idle);
        for v in sub.by_ref() {
            f(v);
        }
        sub.error.take().unwrap_or(NextTimeoutError::Disconnected)
    }

    /// Runs `step` over the input in a thread, emitting into a new stream `out`.
    fn stage<U: Element>(
        &self,
        seg: &Segment,
        out: &str,
        transform: &str,
        capacity: usize,
        step: impl FnMut(T) -> (Option<U>, bool) + Send + 'static,
    ) -> Result<Stage<U>, StructureError> {
        self.stage_from(seg, out, transform, capacity, false, step)
    }

    fn stage_from<U: Element>(
        &self,
        seg: &Segment,
        out: &str,
        transform: &str,
        capacity: usize,
        stopped: bool,
        mut step: impl FnMut(T) -> (Option<U>, bool) + Send + 'static,
    ) -> Result<Stage<U>, StructureError> {
        let output = Stream::<U>::create_with_transform(seg, out, capacity, transform)?;
        let stop = Arc::new(AtomicU8::new(u8::from(stopped)));
        let (input, tx, flag) = (self.clone(), output.clone(), stop.clone());
        // ORDERING: Relaxed — a process-local flag; the stage only needs to see it eventually.
        let stopped = move || flag.load(Relaxed) != 0;
        let handle = std::thread::spawn(move || {
            let r = (|| loop {
                if stopped() {
                    return Ok(());
                }
                let v = match input.next_timeout(STAGE_POLL) {
                    Ok(v) => v,
                    Err(NextTimeoutError::Timeout) => continue,
                    Err(NextTimeoutError::Disconnected) => return Ok(()),
                    Err(NextTimeoutError::Corrupt(c)) => return Err(StageError::Corrupt(c)),
                    Err(NextTimeoutError::Stalled) => return Err(StageError::Stalled),
                };
                let (out, done) = step(v);
                if let Some(u) = out {
                    if !emit_from_stage(&tx, u, &stopped)? {
                        return Ok(());
                    }
                }
                if done {
                    return Ok(());
                }
            })();
            tx.close();
            r
        });
        Ok(Stage {
            output,
            stop,
            handle: Some(handle),
        })
    }

    /// A stage emitting `f(v)` for every value into a new stream `out` (same capacity).
    ///
    /// # Errors
    ///
    /// Creating `out` failed (see [`Stream::create`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zeroipc::{SegmentOptions, Segment, codata::stream::Stream};
    /// # let name = format!("/zeroipc-doc-stream-map-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let c: Stream<f64> = Stream::create(&seg, "celsius", 8)?;
    /// let f = c.map(&seg, "fahrenheit", |t| t * 1.8 + 32.0)?;
    /// c.emit(100.0)?;
    /// c.close();
    /// assert_eq!(f.output().next_timeout(Duration::from_secs(10)), Ok(212.0));
    /// assert_eq!(f.output().transform_name(), "map");
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn map<U: Element>(
        &self,
        seg: &Segment,
        out: &str,
        f: impl Fn(T) -> U + Send + 'static,
    ) -> Result<Stage<U>, StructureError> {
        self.stage(seg, out, "map", self.capacity(), move |v| {
            (Some(f(v)), false)
        })
    }

    /// A stage passing on the values for which `keep` is true.
    ///
    /// # Errors
    ///
    /// Creating `out` failed.
    pub fn filter(
        &self,
        seg: &Segment,
        out: &str,
        keep: impl Fn(&T) -> bool + Send + 'static,
    ) -> Result<Stage<T>, StructureError> {
        self.stage(seg, out, "filter", self.capacity(), move |v| {
            (keep(&v).then_some(v), false)
        })
    }

    /// A stage passing on the first `n` values, then closing its output.
    ///
    /// # Errors
    ///
    /// Creating `out` failed.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zeroipc::{SegmentOptions, Segment, codata::stream::Stream};
    /// # let name = format!("/zeroipc-doc-stream-take-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stream<u32> = Stream::create(&seg, "s", 8)?;
    /// let rest = s.skip(&seg, "rest", 1)?; // keep it: dropping a Stage stops it
    /// let first = rest.output().take(&seg, "two", 2)?;
    /// (1..=5).try_for_each(|v| s.emit(v))?;
    /// let got: Vec<u32> = first.output().subscribe(Duration::from_secs(10)).collect();
    /// assert_eq!(got, [2, 3]);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn take(&self, seg: &Segment, out: &str, n: usize) -> Result<Stage<T>, StructureError> {
        let cap = n.clamp(1, self.capacity());
        let mut left = n;
        // `take(0)` must not consume an input value: its stage starts stopped.
        self.stage_from(seg, out, "take", cap, n == 0, move |v| {
            left = left.saturating_sub(1);
            (Some(v), left == 0)
        })
    }

    /// A stage dropping the first `n` values and passing on the rest.
    ///
    /// # Errors
    ///
    /// Creating `out` failed.
    pub fn skip(&self, seg: &Segment, out: &str, n: usize) -> Result<Stage<T>, StructureError> {
        let mut left = n;
        self.stage(seg, out, "skip", self.capacity(), move |v| {
            if left > 0 {
                left -= 1;
                (None, false)
            } else {
                (Some(v), false)
            }
        })
    }

    /// A stage emitting the running fold `acc = f(acc, v)` after every value (the last value
    /// of the output is the fold of the whole input).
    ///
    /// # Errors
    ///
    /// Creating `out` failed.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zeroipc::{SegmentOptions, Segment, codata::stream::Stream};
    /// # let name = format!("/zeroipc-doc-stream-fold-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stream<u32> = Stream::create(&seg, "s", 8)?;
    /// let sums = s.fold(&seg, "sums", 0u64, |acc, v| acc + u64::from(v))?;
    /// (1..=4).try_for_each(|v| s.emit(v))?;
    /// s.close();
    /// let got: Vec<u64> = sums.output().subscribe(Duration::from_secs(10)).collect();
    /// assert_eq!(got, [1, 3, 6, 10]);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fold<A: Element>(
        &self,
        seg: &Segment,
        out: &str,
        init: A,
        f: impl Fn(A, T) -> A + Send + 'static,
    ) -> Result<Stage<A>, StructureError> {
        let mut acc = init;
        self.stage(seg, out, "fold", self.capacity(), move |v| {
            acc = f(acc, v);
            (Some(acc), false)
        })
    }

    /// A stage emitting non-overlapping windows of `N` consecutive values as `[T; N]`
    /// (a partial window at close is dropped).
    ///
    /// # Errors
    ///
    /// Creating `out` failed.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zeroipc::{SegmentOptions, Segment, codata::stream::Stream};
    /// # let name = format!("/zeroipc-doc-stream-window-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stream<u16> = Stream::create(&seg, "s", 8)?;
    /// let pairs = s.window::<2>(&seg, "pairs")?;
    /// (1..=5).try_for_each(|v| s.emit(v))?;
    /// s.close();
    /// let got: Vec<[u16; 2]> = pairs.output().subscribe(Duration::from_secs(10)).collect();
    /// assert_eq!(got, [[1, 2], [3, 4]]);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn window<const N: usize>(
        &self,
        seg: &Segment,
        out: &str,
    ) -> Result<Stage<[T; N]>, StructureError>
    where
        [T; N]: Element,
    {
        let mut buf: Vec<T> = Vec::with_capacity(N);
        self.stage(seg, out, "window", self.capacity(), move |v| {
            buf.push(v);
            if buf.len() < N {
                return (None, false);
            }
            let w: Option<[T; N]> = buf.as_slice().try_into().ok();
            buf.clear();
            (w, false)
        })
    }

    /// A stage folding the values that arrive in one time window into one output value.
    ///
    /// **Windows.** A window opens when a value arrives while none is open, and closes
    /// `period` later. Every value read while it is open is folded into an accumulator that
    /// starts at `init` (`acc = f(acc, v)`); when the window closes the accumulator is emitted
    /// (at most ~10 ms late, the stage's poll interval) and the next value opens a new window.
    /// Time is the stage's: a value belongs to the window open when the stage reads it. So
    /// values the stage reads more than `period` apart never share a window, and **an empty
    /// window emits nothing**: a quiet input produces no output at all.
    ///
    /// **Output shape.** The output is the accumulator type `A`, any [`Element`], so it stays
    /// plain-old-data: a count (`0u64, |n, _| n + 1`), a sum, a maximum, or a
    /// `#[repr(C)]` struct of several such aggregates.
    ///
    /// **End.** When the input is closed and drained, the open window (a partial one) is
    /// emitted, then the output is closed. After [`Stage::stop`] the open window is dropped
    /// and the output is closed. Like every stage it runs in its own thread; the caller is
    /// never blocked.
    ///
    /// # Errors
    ///
    /// Creating `out` failed.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zeroipc::{SegmentOptions, Segment, codata::stream::Stream};
    /// # let name = format!("/zeroipc-doc-stream-window-time-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stream<u16> = Stream::create(&seg, "s", 8)?;
    /// let counts = s.window_by_time(&seg, "counts", Duration::from_secs(30), 0u64, |n, _| n + 1)?;
    /// (1..=5).try_for_each(|v| s.emit(v))?;
    /// s.close(); // flushes the open (partial) window
    /// let got: Vec<u64> = counts.output().subscribe(Duration::from_secs(10)).collect();
    /// assert_eq!(got, [5]);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn window_by_time<A: Element>(
        &self,
        seg: &Segment,
        out: &str,
        period: Duration,
        init: A,
        mut f: impl FnMut(A, T) -> A + Send + 'static,
    ) -> Result<Stage<A>, StructureError> {
        let output = Stream::<A>::create_with_transform(seg, out, self.capacity(), "window")?;
        let stop = Arc::new(AtomicU8::new(0));
        let (input, tx, flag) = (self.clone(), output.clone(), stop.clone());
        // ORDERING: Relaxed — a process-local flag; the stage only needs to see it eventually.
        let stopped = move || flag.load(Relaxed) != 0;
        let handle = std::thread::spawn(move || {
            // The open window: its accumulator and when it closes.
            let mut open: Option<(A, Instant)> = None;
            let r = (|| loop {
                if stopped() {
                    return Ok(());
                }
                let wait = open.as_ref().map_or(STAGE_POLL, |&(_, end)| {
                    end.saturating_duration_since(Instant::now())
                        .min(STAGE_POLL)
                });
                let (value, closed) = match input.next_timeout(wait) {
                    Ok(v) => (Some(v), false),
                    Err(NextTimeoutError::Timeout) => (None, false),
                    Err(NextTimeoutError::Disconnected) => (None, true),
                    Err(NextTimeoutError::Corrupt(c)) => return Err(StageError::Corrupt(c)),
                    Err(NextTimeoutError::Stalled) => return Err(StageError::Stalled),
                };
                // The window is closed (and emitted) before the value just read is folded:
                // a value read after the window's end opens the next window, even when this
                // thread was held up past the end.
                let due = open.as_ref().is_some_and(|&(_, end)| Instant::now() >= end);
                if due || closed {
                    if let Some((acc, _)) = open.take() {
                        if !emit_from_stage(&tx, acc, &stopped)? {
                            return Ok(());
                        }
                    }
                }
                if let Some(v) = value {
                    let (acc, end) = open.unwrap_or_else(|| (init, Instant::now() + period));
                    open = Some((f(acc, v), end));
                }
                if closed {
                    return Ok(());
                }
            })();
            tx.close();
            r
        });
        Ok(Stage {
            output,
            stop,
            handle: Some(handle),
        })
    }
}

/// Emits `u` from a stage thread, retrying while the output is full. `Ok(false)`: stop
/// (the stage was stopped, or the output closed or refused the value).
fn emit_from_stage<U: Element>(
    tx: &Stream<U>,
    mut u: U,
    stopped: &impl Fn() -> bool,
) -> Result<bool, StageError> {
    loop {
        match tx.emit_timeout(u, STAGE_POLL) {
            Ok(()) => return Ok(true),
            Err(EmitTimeoutError::Timeout(back)) if !stopped() => u = back,
            Err(EmitTimeoutError::Timeout(_) | EmitTimeoutError::Disconnected(_)) => {
                return Ok(false);
            }
            Err(EmitTimeoutError::Corrupt(_, c)) => return Err(StageError::Corrupt(c)),
            Err(EmitTimeoutError::Stalled(_)) => return Err(StageError::Stalled),
        }
    }
}

/// A subscriber; see [`Stream::subscribe`].
#[derive(Debug)]
pub struct Subscription<'a, T: Element> {
    stream: &'a Stream<T>,
    idle: Duration,
    error: Option<NextTimeoutError>,
}

impl<T: Element> Subscription<'_, T> {
    /// Why iteration ended (`None` while it has not): `Disconnected` (closed and
    /// drained), `Timeout` (idle), or an error.
    #[must_use]
    pub fn error(&self) -> Option<&NextTimeoutError> {
        self.error.as_ref()
    }
}

impl<T: Element> Iterator for Subscription<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        if self.error.is_some() {
            return None;
        }
        match self.stream.next_timeout(self.idle) {
            Ok(v) => Some(v),
            Err(e) => {
                self.error = Some(e);
                None
            }
        }
    }
}

impl<T: Element> Drop for Subscription<'_, T> {
    fn drop(&mut self) {
        // ORDERING: AcqRel, as C++.
        self.stream.hdr().subscribers.fetch_sub(1, AcqRel);
    }
}

/// A running operator: its output stream and the thread feeding it. Dropping it stops and
/// joins the thread.
#[derive(Debug)]
pub struct Stage<U: Element> {
    output: Stream<U>,
    stop: Arc<AtomicU8>,
    handle: Option<JoinHandle<Result<(), StageError>>>,
}

impl<U: Element> Stage<U> {
    /// The derived stream.
    #[must_use]
    pub fn output(&self) -> &Stream<U> {
        &self.output
    }

    /// Asks the stage to stop (within ~10 ms); it then closes its output.
    pub fn stop(&self) {
        // ORDERING: Relaxed — a process-local flag polled by the stage.
        self.stop.store(1, Relaxed);
    }

    /// Waits for the stage to finish (its input closed and drained, `take` done, or
    /// [`Stage::stop`]).
    ///
    /// # Errors
    ///
    /// [`StageError::Corrupt`] if a stream broke; [`StageError::Stalled`] if a stream's
    /// lock stayed with a stuck process; [`StageError::Panicked`] if the closure panicked.
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
