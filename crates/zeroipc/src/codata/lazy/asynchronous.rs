//! `async` forms of [`Lazy::force`]: `force_async`, `force_async_timeout`,
//! `force_async_deadline`, through the process's one reactor (`wait::reactor`).
//!
//! A poll forces without waiting (evaluating the stored operation here if no one has, as
//! `try_force` does); if another process is computing, it reads the `state` word *before*
//! that attempt and arms the reactor with it, so the computer's publish (a Release store
//! followed by `FUTEX_WAKE`) wakes the task at once, and a change by a peer that wakes no one
//! within a millisecond. While a computer holds COMPUTING the task is also woken every 50 ms
//! to ask whether it lives (as the blocking wait does), so a dead zeroipc computer ends the
//! wait ([`ForceError::ComputerDead`], or a takeover where this process may compute).

use core::fmt;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::handle::untimed;
use super::{Arithmetic, ForceError, ForceTimeoutError, Lazy};
use crate::Element;
use crate::wait::deadline_after;
use crate::wait::reactor::{self, Arm, Interest};

impl<T: Arithmetic> Lazy<T> {
    /// An awaitable for [`Lazy::force`]: `.await` it under any executor; resolves to what
    /// `force` returns, without blocking the executor while another process computes.
    ///
    /// # Examples
    ///
    /// ```
    /// use zeroipc::{Segment, SegmentOptions, codata::{Lazy, lazy::Operation}};
    /// # let name = format!("/zeroipc-doc-lazy-force-async-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let l: Lazy<i32> = Lazy::with_operation(&seg, "p", Operation::Multiply(6, 7))?;
    /// assert_eq!(block_on(l.force_async())?, 42);
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
    pub fn force_async(&self) -> LazyWait<T> {
        LazyWait {
            wait: Wait::new(self.clone(), None),
        }
    }

    /// As [`Lazy::force_async`], resolving to [`ForceTimeoutError::Timeout`] after
    /// `timeout` (what [`Lazy::force_timeout`] returns).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use zeroipc::{Segment, SegmentOptions, codata::{Lazy, lazy::Operation}};
    /// # let name = format!("/zeroipc-doc-lazy-force-async-timeout-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let l: Lazy<u8> = Lazy::with_operation(&seg, "n", Operation::Add(2, 3))?;
    /// // Nobody else computes it, so it is computed here at once.
    /// assert_eq!(block_on(l.force_async_timeout(Duration::from_millis(5)))?, 5);
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
    pub fn force_async_timeout(&self, timeout: Duration) -> LazyWaitTimeout<T> {
        LazyWaitTimeout {
            wait: Wait::new(self.clone(), deadline_after(timeout)),
        }
    }

    /// As [`Lazy::force_async`], resolving to [`ForceTimeoutError::Timeout`] at `deadline`
    /// (what [`Lazy::force_deadline`] returns).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Instant;
    /// use zeroipc::{Segment, SegmentOptions, codata::{Lazy, lazy::ForceTimeoutError}};
    /// # let name = format!("/zeroipc-doc-lazy-force-async-deadline-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let l: Lazy<u8> = Lazy::create(&seg, "n")?; // no stored operation
    /// let r = block_on(l.force_async_deadline(Instant::now()));
    /// assert!(matches!(r, Err(ForceTimeoutError::NoComputation { .. })));
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
    pub fn force_async_deadline(&self, deadline: Instant) -> LazyWaitTimeout<T> {
        LazyWaitTimeout {
            wait: Wait::new(self.clone(), Some(deadline)),
        }
    }
}

/// The machinery shared by [`LazyWait`] and [`LazyWaitTimeout`].
struct Wait<T: Element> {
    lazy: Lazy<T>,
    deadline: Option<Instant>,
    interest: Interest,
}

impl<T: Element> Wait<T> {
    fn new(lazy: Lazy<T>, deadline: Option<Instant>) -> Self {
        Self {
            lazy,
            deadline,
            interest: Interest::new(),
        }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, ForceTimeoutError>>
    where
        T: Arithmetic,
    {
        // ORDERING (register, then re-check): the state is read before the attempt; the
        // reactor compares against it, so a publish after this read wakes us.
        let seen = self.lazy.raw().ok().and_then(|raw| raw.state().ok());
        match self.lazy.force_op(Some(Instant::now())) {
            Err(ForceTimeoutError::Timeout) => {}
            done => {
                self.interest.disarm();
                return Poll::Ready(done);
            }
        }
        let now = Instant::now();
        if self.deadline.is_some_and(|d| now >= d) {
            self.interest.disarm();
            return Poll::Ready(Err(ForceTimeoutError::Timeout));
        }
        let (Some(seen), Ok(raw)) = (seen, self.lazy.raw()) else {
            // Unreachable (force_op reported the corruption); look again.
            cx.waker().wake_by_ref();
            return Poll::Pending;
        };
        // Someone computes: re-check its liveness now and then (module docs).
        let recheck = now + reactor::RECHECK;
        self.interest.arm(
            Arm {
                seg: &self.lazy.seg,
                word: raw.state,
                expected: seen,
                wake_at: Some(self.deadline.map_or(recheck, |d| d.min(recheck))),
                probe: None,
            },
            cx.waker(),
        );
        Poll::Pending
    }
}

impl<T: Element> Unpin for Wait<T> {}

/// An awaitable for [`Lazy::force`], from [`Lazy::force_async`]. Registers with the
/// process's one reactor while pending; dropping it withdraws the registration.
pub struct LazyWait<T: Element> {
    wait: Wait<T>,
}

/// An awaitable for [`Lazy::force_deadline`], from [`Lazy::force_async_timeout`] /
/// [`Lazy::force_async_deadline`].
pub struct LazyWaitTimeout<T: Element> {
    wait: Wait<T>,
}

impl<T: Element> fmt::Debug for LazyWait<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyWait")
            .field("lazy", &self.wait.lazy)
            .finish_non_exhaustive()
    }
}

impl<T: Element> fmt::Debug for LazyWaitTimeout<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyWaitTimeout")
            .field("lazy", &self.wait.lazy)
            .field("deadline", &self.wait.deadline)
            .finish_non_exhaustive()
    }
}

impl<T: Arithmetic> core::future::Future for LazyWait<T> {
    type Output = Result<T, ForceError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().wait.poll(cx).map(|r| r.map_err(untimed))
    }
}

impl<T: Arithmetic> core::future::Future for LazyWaitTimeout<T> {
    type Output = Result<T, ForceTimeoutError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().wait.poll(cx)
    }
}
