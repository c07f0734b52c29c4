//! `async` forms of [`Stream::next`]: `next_async`, `next_async_timeout`,
//! `next_async_deadline`, through the process's one reactor (`wait::reactor`).
//!
//! A poll takes a value without waiting (`try_next`); if there is none it arms the reactor
//! on the `subscribers` word, which a zeroipc emit wakes while a reader is registered in the
//! waiter registry (this awaitable registers on its first poll; the blocking [`Stream::next`]
//! sleeps on it), with a fingerprint of the stream taken *before* that attempt (its
//! `sequence`, buffered length and closed flag; an emit does not change the word's value, so
//! the fingerprint is what tells the reactor that something happened). The reactor compares
//! the fingerprint whenever the word is woken and on every pass (at least every millisecond,
//! for emitters in other languages that wake no one), plus a 100 ms safety net. Dropping the
//! awaitable withdraws the registration; no value is taken by a poll that returns `Pending`.

use core::fmt;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::{NextError, NextTimeoutError, Stream, TryNextError, next_timed, next_untimed};
use crate::Element;
use crate::wait::reactor::{Arm, Interest};
use crate::wait::{Registration, Side, deadline_after};

impl<T: Element> Stream<T> {
    /// An awaitable for [`Stream::next`]: `.await` it under any executor; resolves to the
    /// next value (or what `next` would return) without blocking the executor.
    ///
    /// # Examples
    ///
    /// ```
    /// use zeroipc::{Segment, SegmentOptions, codata::stream::Stream};
    /// # let name = format!("/zeroipc-doc-stream-next-async-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stream<u32> = Stream::create(&seg, "s", 8)?;
    /// s.emit(7)?;
    /// assert_eq!(block_on(s.next_async())?, 7);
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
    #[must_use]
    pub fn next_async(&self) -> NextWait<T> {
        NextWait {
            wait: Wait::new(self.clone(), None),
        }
    }

    /// As [`Stream::next_async`], resolving to [`NextTimeoutError::Timeout`] after `timeout`
    /// (what [`Stream::next_timeout`] returns).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use zeroipc::{Segment, SegmentOptions, codata::stream::{NextTimeoutError, Stream}};
    /// # let name = format!("/zeroipc-doc-stream-next-async-timeout-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stream<u32> = Stream::create(&seg, "s", 8)?;
    /// let r = block_on(s.next_async_timeout(Duration::from_millis(5)));
    /// assert_eq!(r, Err(NextTimeoutError::Timeout));
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
    #[must_use]
    pub fn next_async_timeout(&self, timeout: Duration) -> NextWaitTimeout<T> {
        NextWaitTimeout {
            wait: Wait::new(self.clone(), deadline_after(timeout)),
        }
    }

    /// As [`Stream::next_async`], resolving to [`NextTimeoutError::Timeout`] at `deadline`
    /// (what [`Stream::next_deadline`] returns).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Instant;
    /// use zeroipc::{Segment, SegmentOptions, codata::stream::{NextTimeoutError, Stream}};
    /// # let name = format!("/zeroipc-doc-stream-next-async-deadline-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stream<u32> = Stream::create(&seg, "s", 8)?;
    /// let r = block_on(s.next_async_deadline(Instant::now()));
    /// assert_eq!(r, Err(NextTimeoutError::Timeout));
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
    #[must_use]
    pub fn next_async_deadline(&self, deadline: Instant) -> NextWaitTimeout<T> {
        NextWaitTimeout {
            wait: Wait::new(self.clone(), Some(deadline)),
        }
    }
}

/// The longest a pending `next_async` sleeps without being polled again, whatever happens.
const SAFETY_NET: Duration = Duration::from_millis(100);

/// What changes when a value is emitted or the stream closes: the emit count, the buffered
/// length and the closed flag, folded into one word.
fn fingerprint<T: Element>(s: &Stream<T>) -> u64 {
    let len = s.len().unwrap_or(usize::MAX) as u64;
    s.sequence().rotate_left(32) ^ len ^ (u64::from(s.is_closed()) << 63)
}

/// The machinery shared by [`NextWait`] and [`NextWaitTimeout`].
struct Wait<T: Element> {
    stream: Stream<T>,
    deadline: Option<Instant>,
    interest: Interest,
    /// In the waiter registry while pending, so that emitters wake the word.
    sleeper: Registration,
}

impl<T: Element> Wait<T> {
    fn new(stream: Stream<T>, deadline: Option<Instant>) -> Self {
        let sleeper = Registration::new(&stream.seg, &stream.header, Side::Data);
        Self {
            stream,
            deadline,
            interest: Interest::new(),
            sleeper,
        }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, NextTimeoutError>> {
        let h = self.stream.hdr();
        // Registered (the waiter registry's `Data` counter) before the attempt, so that an
        // emit after it wakes the word; the fingerprint (Acquire loads inside) is what
        // changes with an emit, since the word's value does not.
        let seen = self.sleeper.register(&h.subscribers);
        let print = fingerprint(&self.stream);
        match self.stream.try_next() {
            Err(TryNextError::Empty) => {}
            other => {
                self.interest.disarm();
                return Poll::Ready(other.map_err(next_timed));
            }
        }
        let now = Instant::now();
        if self.deadline.is_some_and(|d| now >= d) {
            self.interest.disarm();
            return Poll::Ready(Err(NextTimeoutError::Timeout));
        }
        let nap = now + SAFETY_NET;
        let probe = self.stream.clone();
        self.interest.arm(
            Arm {
                seg: &self.stream.seg,
                word: &h.subscribers,
                expected: seen,
                wake_at: Some(self.deadline.map_or(nap, |d| d.min(nap))),
                probe: Some((Box::new(move || fingerprint(&probe)), print)),
            },
            cx.waker(),
        );
        Poll::Pending
    }
}

impl<T: Element> Unpin for Wait<T> {}

/// An awaitable for [`Stream::next`], from [`Stream::next_async`]. Registers with the
/// process's one reactor while pending; dropping it withdraws the registration.
pub struct NextWait<T: Element> {
    wait: Wait<T>,
}

/// An awaitable for [`Stream::next_deadline`], from [`Stream::next_async_timeout`] /
/// [`Stream::next_async_deadline`].
pub struct NextWaitTimeout<T: Element> {
    wait: Wait<T>,
}

impl<T: Element> fmt::Debug for NextWait<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NextWait")
            .field("stream", &self.wait.stream)
            .finish_non_exhaustive()
    }
}

impl<T: Element> fmt::Debug for NextWaitTimeout<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NextWaitTimeout")
            .field("stream", &self.wait.stream)
            .field("deadline", &self.wait.deadline)
            .finish_non_exhaustive()
    }
}

impl<T: Element> core::future::Future for NextWait<T> {
    type Output = Result<T, NextError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut()
            .wait
            .poll(cx)
            .map(|r| r.map_err(next_untimed))
    }
}

impl<T: Element> core::future::Future for NextWaitTimeout<T> {
    type Output = Result<T, NextTimeoutError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().wait.poll(cx)
    }
}
