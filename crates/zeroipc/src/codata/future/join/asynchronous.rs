//! The async forms of fork-join: awaitables composed of the futures' own
//! ([`Future::get_async`] / [`Future::get_async_deadline`]), so they wake the task exactly
//! as those do and never poll the executor. See the [parent module](super) for the
//! semantics, which are the blocking forms'.

use core::borrow::Borrow;
use core::fmt;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::{
    JoinError, JoinTimeoutError, SelectError, SelectTimeoutError, join_look, refs, select_look,
};
use crate::Element;
use crate::codata::future::compose::not_timeout;
use crate::codata::future::{Future, FutureWait, FutureWaitTimeout, GetError, GetTimeoutError};
use crate::wait::deadline_after;

/// The state shared by the four awaitables: the futures, one boxed awaitable per future
/// still unset (boxed, so that nothing is pinned structurally and any awaitable type fits),
/// the values so far.
struct Waits<T: Element, W> {
    futures: Vec<Future<T>>,
    waits: Vec<Option<Pin<Box<W>>>>,
    values: Vec<Option<T>>,
    /// It resolved (polling it again is a bug, as for any future).
    finished: bool,
}

/// What one round of polls found.
enum Round {
    /// Nothing final yet.
    Pending,
    /// Future `i` is set (a select stops at the first).
    Value(usize),
    /// Future `i` failed.
    Failed(usize, GetError),
    /// The deadline passed.
    TimedOut,
    /// Every awaitable resolved with a value (a join), or there were none.
    AllSet,
}

impl<T: Element, W, E> Waits<T, W>
where
    W: core::future::Future<Output = Result<T, E>>,
    E: Into<GetTimeoutError>,
{
    fn new<F: Borrow<Future<T>>>(futures: &[F], wait: impl Fn(&Future<T>) -> W) -> Self {
        let futures: Vec<Future<T>> = futures.iter().map(|f| f.borrow().clone()).collect();
        Self {
            waits: futures.iter().map(|f| Some(Box::pin(wait(f)))).collect(),
            values: vec![None; futures.len()],
            futures,
            finished: false,
        }
    }

    /// Polls every awaitable still waiting, in order; `first` stops at the first value.
    fn round(&mut self, cx: &mut Context<'_>, first: bool) -> Round {
        assert!(!self.finished, "a join or select polled after it resolved");
        let mut timed_out = false;
        for (i, (slot, value)) in self.waits.iter_mut().zip(&mut self.values).enumerate() {
            let Some(w) = slot else { continue };
            match w.as_mut().poll(cx) {
                Poll::Pending => {}
                Poll::Ready(Ok(v)) => {
                    *value = Some(v);
                    *slot = None;
                    if first {
                        return self.done(Round::Value(i));
                    }
                }
                Poll::Ready(Err(e)) => match not_timeout(e.into()) {
                    Some(error) => return self.done(Round::Failed(i, error)),
                    None => {
                        timed_out = true;
                        *slot = None;
                    }
                },
            }
        }
        if timed_out {
            return self.done(Round::TimedOut);
        }
        if self.waits.iter().any(Option::is_some) {
            Round::Pending
        } else {
            self.done(Round::AllSet)
        }
    }

    /// Ends the wait: drops every awaitable (stopping their waits now, not when this is
    /// dropped).
    fn done(&mut self, r: Round) -> Round {
        self.waits.iter_mut().for_each(|w| *w = None);
        self.finished = true;
        r
    }

    fn take_values(&mut self) -> Vec<T> {
        self.values.iter_mut().filter_map(Option::take).collect()
    }

    /// The join's answer after a round.
    fn join(&mut self, cx: &mut Context<'_>) -> Poll<Result<Vec<T>, JoinTimeoutError>> {
        match self.round(cx, false) {
            Round::Pending => Poll::Pending,
            Round::Failed(index, error) => {
                Poll::Ready(Err(JoinTimeoutError::Failed { index, error }))
            }
            Round::AllSet | Round::Value(_) => Poll::Ready(Ok(self.take_values())),
            Round::TimedOut => {
                // The deadline passed: one last look at the futures still unset.
                let futs = refs(&self.futures);
                if let Err(JoinError::Failed { index, error }) = join_look(&futs, &mut self.values)
                {
                    return Poll::Ready(Err(JoinTimeoutError::Failed { index, error }));
                }
                let unset: Vec<usize> = (0..self.values.len())
                    .filter(|&i| self.values[i].is_none())
                    .collect();
                Poll::Ready(if unset.is_empty() {
                    Ok(self.take_values())
                } else {
                    Err(JoinTimeoutError::Timeout { unset })
                })
            }
        }
    }

    /// The select's answer after a round.
    fn select(&mut self, cx: &mut Context<'_>) -> Poll<Result<(usize, T), SelectTimeoutError>> {
        match self.round(cx, true) {
            Round::Pending => Poll::Pending,
            Round::Value(i) => match self.values[i].take() {
                Some(v) => Poll::Ready(Ok((i, v))),
                None => unreachable!("a select's value is stored before it is reported"),
            },
            Round::Failed(index, error) => {
                Poll::Ready(Err(SelectTimeoutError::Failed { index, error }))
            }
            Round::TimedOut | Round::AllSet => {
                // The deadline passed (or the slice is empty): one last look.
                Poll::Ready(match select_look(&refs(&self.futures)) {
                    Ok(Some(found)) => Ok(found),
                    Ok(None) => Err(SelectTimeoutError::Timeout),
                    Err(SelectError::Failed { index, error }) => {
                        Err(SelectTimeoutError::Failed { index, error })
                    }
                })
            }
        }
    }

    fn debug(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(name)
            .field("futures", &self.futures)
            .field("set", &self.values.iter().filter(|v| v.is_some()).count())
            .field("finished", &self.finished)
            .finish()
    }
}

macro_rules! awaitable {
    ($(#[$m:meta])* $name:ident, $wait:ident) => {
        $(#[$m])*
        #[must_use = "an awaitable does nothing unless awaited"]
        pub struct $name<T: Element> {
            waits: Waits<T, $wait<T>>,
        }

        // Nothing is pinned structurally: the awaitables are boxed, the values plain data.
        impl<T: Element> Unpin for $name<T> {}

        impl<T: Element> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.waits.debug(stringify!($name), f)
            }
        }
    };
}

awaitable! {
    /// An awaitable for every future's value, from [`join_all_async`]: resolves to what
    /// [`join_all`](super::join_all) returns. Built on [`Future::get_async`], it wakes the
    /// task as those do; the first failure resolves it at once and stops the other waits.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, codata::Future, codata::future::{join_all_async, JoinAll}};
    /// # let name = format!("/zeroipc-doc-join-type-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let a: Future<u8> = Future::create(&seg, "a")?;
    /// let join: JoinAll<u8> = join_all_async(&[&a]);
    /// println!("{join:?}");
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    JoinAll, FutureWait
}

awaitable! {
    /// An awaitable for every future's value with a deadline, from
    /// [`join_all_async_timeout`] / [`join_all_async_deadline`]: resolves to what
    /// [`join_all_deadline`](super::join_all_deadline) returns. Built on
    /// [`Future::get_async_deadline`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zeroipc::{Segment, SegmentOptions, codata::Future};
    /// # use zeroipc::codata::future::{join_all_async_timeout, JoinAllTimeout};
    /// # let name = format!("/zeroipc-doc-join-timeout-type-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let a: Future<u8> = Future::create(&seg, "a")?;
    /// let join: JoinAllTimeout<u8> = join_all_async_timeout(&[&a], Duration::from_secs(1));
    /// println!("{join:?}");
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    JoinAllTimeout, FutureWaitTimeout
}

awaitable! {
    /// An awaitable for the first future to be set, from [`select_first_async`]: resolves
    /// to what [`select_first`](super::select_first) returns, and stops the other waits.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, codata::Future, codata::future::{select_first_async, SelectFirst}};
    /// # let name = format!("/zeroipc-doc-select-type-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let a: Future<u8> = Future::create(&seg, "a")?;
    /// let select: SelectFirst<u8> = select_first_async(&[&a]);
    /// println!("{select:?}");
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    SelectFirst, FutureWait
}

awaitable! {
    /// An awaitable for the first future to be set with a deadline, from
    /// [`select_first_async_timeout`] / [`select_first_async_deadline`]: resolves to what
    /// [`select_first_deadline`](super::select_first_deadline) returns.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Instant;
    /// # use zeroipc::{Segment, SegmentOptions, codata::Future};
    /// # use zeroipc::codata::future::{select_first_async_deadline, SelectFirstTimeout};
    /// # let name = format!("/zeroipc-doc-select-timeout-type-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let a: Future<u8> = Future::create(&seg, "a")?;
    /// let select: SelectFirstTimeout<u8> = select_first_async_deadline(&[&a], Instant::now());
    /// println!("{select:?}");
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    SelectFirstTimeout, FutureWaitTimeout
}

impl<T: Element> core::future::Future for JoinAll<T> {
    type Output = Result<Vec<T>, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().waits.join(cx).map(|r| {
            r.map_err(|e| match e {
                JoinTimeoutError::Failed { index, error } => JoinError::Failed { index, error },
                JoinTimeoutError::Timeout { .. } => {
                    unreachable!("a join without a deadline timed out")
                }
            })
        })
    }
}

impl<T: Element> core::future::Future for JoinAllTimeout<T> {
    type Output = Result<Vec<T>, JoinTimeoutError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().waits.join(cx)
    }
}

impl<T: Element> core::future::Future for SelectFirst<T> {
    type Output = Result<(usize, T), SelectError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().waits.select(cx).map(|r| {
            r.map_err(|e| match e {
                SelectTimeoutError::Failed { index, error } => SelectError::Failed { index, error },
                SelectTimeoutError::Timeout => {
                    unreachable!("a select without a deadline timed out")
                }
            })
        })
    }
}

impl<T: Element> core::future::Future for SelectFirstTimeout<T> {
    type Output = Result<(usize, T), SelectTimeoutError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().waits.select(cx)
    }
}

/// As [`join_all`](super::join_all), as an awaitable for any executor.
///
/// # Examples
///
/// ```
/// use zeroipc::{Segment, SegmentOptions, codata::Future, codata::future::join_all_async};
/// # let name = format!("/zeroipc-doc-join-async-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let parts: Vec<Future<u16>> =
///     (0..4).map(|i| Future::create(&seg, &format!("p{i}"))).collect::<Result<_, _>>()?;
/// for (i, p) in parts.iter().enumerate() {
///     let p = p.clone();
///     std::thread::spawn(move || p.set_value(i as u16 * 3));
/// }
/// assert_eq!(block_on(join_all_async(&parts))?, [0, 3, 6, 9]);
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
pub fn join_all_async<T: Element, F: Borrow<Future<T>>>(futures: &[F]) -> JoinAll<T> {
    JoinAll {
        waits: Waits::new(futures, Future::get_async),
    }
}

/// As [`join_all_timeout`](super::join_all_timeout), as an awaitable for any executor.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use zeroipc::{Segment, SegmentOptions, codata::Future};
/// use zeroipc::codata::future::{JoinTimeoutError, join_all_async_timeout};
/// # let name = format!("/zeroipc-doc-join-async-timeout-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let a: Future<u16> = Future::create(&seg, "a")?;
/// let b: Future<u16> = Future::create(&seg, "b")?;
/// a.set_value(1)?;
/// let r = block_on(join_all_async_timeout(&[&a, &b], Duration::from_millis(5)));
/// assert_eq!(r, Err(JoinTimeoutError::Timeout { unset: vec![1] }));
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
pub fn join_all_async_timeout<T: Element, F: Borrow<Future<T>>>(
    futures: &[F],
    timeout: Duration,
) -> JoinAllTimeout<T> {
    let deadline = deadline_after(timeout);
    JoinAllTimeout {
        waits: Waits::new(futures, |f| match deadline {
            Some(d) => f.get_async_deadline(d),
            None => f.get_async_timeout(timeout), // no representable deadline: no limit
        }),
    }
}

/// As [`join_all_deadline`](super::join_all_deadline), as an awaitable for any executor.
///
/// # Examples
///
/// ```
/// use std::time::Instant;
/// use zeroipc::{Segment, SegmentOptions, codata::Future, codata::future::join_all_async_deadline};
/// # let name = format!("/zeroipc-doc-join-async-deadline-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let a: Future<u16> = Future::create(&seg, "a")?;
/// a.set_value(1)?;
/// assert_eq!(block_on(join_all_async_deadline(&[a], Instant::now()))?, [1]);
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
pub fn join_all_async_deadline<T: Element, F: Borrow<Future<T>>>(
    futures: &[F],
    deadline: Instant,
) -> JoinAllTimeout<T> {
    JoinAllTimeout {
        waits: Waits::new(futures, |f| f.get_async_deadline(deadline)),
    }
}

/// As [`select_first`](super::select_first), as an awaitable for any executor.
///
/// # Panics
///
/// If `futures` is empty (it would never resolve).
///
/// # Examples
///
/// ```
/// use zeroipc::{Segment, SegmentOptions, codata::Future, codata::future::select_first_async};
/// # let name = format!("/zeroipc-doc-select-async-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let a: Future<u8> = Future::create(&seg, "a")?;
/// let b: Future<u8> = Future::create(&seg, "b")?;
/// let b2 = b.clone();
/// std::thread::spawn(move || b2.set_value(8));
/// assert_eq!(block_on(select_first_async(&[a, b]))?, (1, 8));
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
pub fn select_first_async<T: Element, F: Borrow<Future<T>>>(futures: &[F]) -> SelectFirst<T> {
    assert!(
        !futures.is_empty(),
        "select_first_async over no futures would never resolve"
    );
    SelectFirst {
        waits: Waits::new(futures, Future::get_async),
    }
}

/// As [`select_first_timeout`](super::select_first_timeout), as an awaitable for any
/// executor. An empty slice resolves to `Timeout` at once (it has no wait to time it).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use zeroipc::{Segment, SegmentOptions, codata::Future};
/// use zeroipc::codata::future::{SelectTimeoutError, select_first_async_timeout};
/// # let name = format!("/zeroipc-doc-select-async-timeout-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let a: Future<u8> = Future::create(&seg, "a")?;
/// let r = block_on(select_first_async_timeout(&[a], Duration::from_millis(5)));
/// assert_eq!(r, Err(SelectTimeoutError::Timeout));
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
pub fn select_first_async_timeout<T: Element, F: Borrow<Future<T>>>(
    futures: &[F],
    timeout: Duration,
) -> SelectFirstTimeout<T> {
    let deadline = deadline_after(timeout);
    SelectFirstTimeout {
        waits: Waits::new(futures, |f| match deadline {
            Some(d) => f.get_async_deadline(d),
            None => f.get_async_timeout(timeout),
        }),
    }
}

/// As [`select_first_deadline`](super::select_first_deadline), as an awaitable for any
/// executor. An empty slice resolves to `Timeout` at once.
///
/// # Examples
///
/// ```
/// use std::time::Instant;
/// use zeroipc::{Segment, SegmentOptions, codata::Future, codata::future::select_first_async_deadline};
/// # let name = format!("/zeroipc-doc-select-async-deadline-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let a: Future<u8> = Future::create(&seg, "a")?;
/// let b: Future<u8> = Future::create(&seg, "b")?;
/// b.set_value(2)?;
/// assert_eq!(block_on(select_first_async_deadline(&[a, b], Instant::now()))?, (1, 2));
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
pub fn select_first_async_deadline<T: Element, F: Borrow<Future<T>>>(
    futures: &[F],
    deadline: Instant,
) -> SelectFirstTimeout<T> {
    SelectFirstTimeout {
        waits: Waits::new(futures, |f| f.get_async_deadline(deadline)),
    }
}
