//! `async` send and receive for [`Channel`], with no runtime dependency.
//!
//! A pending future registers its waker, with a fingerprint of the channel's shared words
//! taken *before* its failed attempt (`Channel::probe`), with one process-wide **ticker**
//! thread. Every 500 µs the ticker re-reads the fingerprints and wakes only the tasks whose
//! channel changed (or that have waited 100 ms, a safety net): the executor is not polled
//! while nothing happens. Reading shared words on a timer is the only way to notice C++
//! peers, which never wake anyone; it costs one thread per process, sleeping on a condition
//! variable while no future is pending.
//!
//! Cancellation: dropping a [`RecvFuture`] never loses a value (each poll either takes a
//! value or takes nothing). Dropping a [`SendFuture`] of an unbuffered channel after it
//! published its value retracts it; if a receiver had already claimed it, the value is
//! delivered (the drop waits, bounded by the stall timeout, for that receiver to finish
//! copying before releasing the sender lock).

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::{Channel, Kind, RecvError, SendError, TryRecvError, TrySendError, owner_id};
use crate::Element;
use crate::loom::Ordering::AcqRel;
use crate::raw::rendezvous::{Rendezvous, Retract};
use crate::wait::{pid_alive, wake_all};

const TICK: Duration = Duration::from_micros(500);
/// A pending future is re-polled at least this often even if its fingerprint never changes.
const MAX_NAP: Duration = Duration::from_millis(100);

/// A pending future: its waker, how to fingerprint its channel, and the fingerprint it saw.
struct Pending {
    waker: Waker,
    probe: Box<dyn Fn() -> u64 + Send>,
    seen: u64,
    since: Instant,
}

struct Ticker {
    pending: Mutex<Vec<Pending>>,
    cv: Condvar,
}

fn ticker() -> &'static Ticker {
    static T: OnceLock<&'static Ticker> = OnceLock::new();
    T.get_or_init(|| {
        let t: &'static Ticker = Box::leak(Box::new(Ticker {
            pending: Mutex::new(Vec::new()),
            cv: Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("zeroipc-ticker".into())
            .spawn(move || {
                loop {
                    {
                        let mut v = t.pending.lock().unwrap_or_else(|e| e.into_inner());
                        while v.is_empty() {
                            v = t.cv.wait(v).unwrap_or_else(|e| e.into_inner());
                        }
                    }
                    std::thread::sleep(TICK);
                    let due: Vec<Pending> = {
                        let mut v = t.pending.lock().unwrap_or_else(|e| e.into_inner());
                        let all = std::mem::take(&mut *v);
                        let (due, keep): (Vec<_>, Vec<_>) = all
                            .into_iter()
                            .partition(|p| (p.probe)() != p.seen || p.since.elapsed() >= MAX_NAP);
                        *v = keep;
                        due
                    };
                    due.into_iter().for_each(|p| p.waker.wake());
                }
            })
            .expect("spawn the zeroipc ticker thread");
        t
    })
}

/// Asks the ticker to wake `w` once `chan`'s fingerprint differs from `seen`.
fn wake_on_change<T: Element>(w: &Waker, chan: &Channel<T>, seen: u64) {
    let c = chan.clone();
    let t = ticker();
    t.pending
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Pending {
            waker: w.clone(),
            probe: Box::new(move || c.probe()),
            seen,
            since: Instant::now(),
        });
    t.cv.notify_one();
}

impl<T: Element> Channel<T> {
    /// Receives asynchronously: resolves to what [`Channel::recv`] would return. Works on
    /// any executor (no runtime dependency); see the module docs of
    /// [`codata::channel`](crate::codata::channel) for how it is woken.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{SegmentOptions, Segment, codata::channel::Channel};
    /// # let name = format!("/zeroipc-doc-chan-recv-async-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     struct W(std::thread::Thread);
    /// #     impl std::task::Wake for W { fn wake(self: std::sync::Arc<Self>) { self.0.unpark() } }
    /// #     let waker = std::sync::Arc::new(W(std::thread::current())).into();
    /// #     let mut cx = std::task::Context::from_waker(&waker);
    /// #     let mut f = std::pin::pin!(f);
    /// #     loop {
    /// #         if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; }
    /// #         std::thread::park();
    /// #     }
    /// # }
    /// let c: Channel<u32> = Channel::create(&seg, "c", 0)?;
    /// let tx = c.clone();
    /// let t = std::thread::spawn(move || block_on(tx.send_async(5)));
    /// assert_eq!(block_on(c.recv_async()), Ok(5));
    /// t.join().unwrap()?;
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv_async(&self) -> RecvFuture<'_, T> {
        RecvFuture {
            chan: self,
            counted: false,
        }
    }

    /// Sends asynchronously: resolves to what [`Channel::send`] would return (for an
    /// unbuffered channel, once a receiver took the value).
    pub fn send_async(&self, value: T) -> SendFuture<'_, T> {
        SendFuture {
            chan: self,
            value: Some(value),
            state: State::Start,
            counted: false,
        }
    }
}

/// See [`Channel::recv_async`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct RecvFuture<'a, T: Element> {
    chan: &'a Channel<T>,
    /// Counted in the header's `receivers` while pending (C++ `try_send` looks at it).
    counted: bool,
}

impl<T: Element> RecvFuture<'_, T> {
    fn uncount(&mut self) {
        if std::mem::take(&mut self.counted) {
            // ORDERING: AcqRel, as C++ (an advisory count).
            self.chan.hdr().receivers.fetch_sub(1, AcqRel);
        }
    }
}

impl<T: Element> Future for RecvFuture<'_, T> {
    type Output = Result<T, RecvError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Count ourselves first (as C++ does for a blocked receiver), so our own increment
        // does not look like a change; then fingerprint before trying: any change after the
        // fingerprint re-polls us.
        if !self.counted {
            self.counted = true;
            // ORDERING: AcqRel, as C++.
            self.chan.hdr().receivers.fetch_add(1, AcqRel);
        }
        let seen = self.chan.probe();
        let r = match self.chan.try_recv() {
            Err(TryRecvError::Empty) => {
                wake_on_change(cx.waker(), self.chan, seen);
                return Poll::Pending;
            }
            Ok(v) => Ok(v),
            Err(TryRecvError::Disconnected) => Err(RecvError::Disconnected),
            Err(TryRecvError::Stalled) => Err(RecvError::Stalled),
        };
        self.uncount();
        Poll::Ready(r)
    }
}

impl<T: Element> Drop for RecvFuture<'_, T> {
    fn drop(&mut self) {
        self.uncount();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    /// Holding the rendezvous sender lock as `me`.
    Locked(u64),
    /// Published the value, holding the lock as `me`.
    Published(u64),
    Done,
}

/// See [`Channel::send_async`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct SendFuture<'a, T: Element> {
    chan: &'a Channel<T>,
    value: Option<T>,
    state: State,
    /// Counted in the header's `senders` while pending.
    counted: bool,
}

// The future holds no self-references and is never pin-projected.
impl<T: Element> Unpin for SendFuture<'_, T> {}
impl<T: Element> Unpin for RecvFuture<'_, T> {}

fn rendezvous_of<T: Element>(chan: &Channel<T>) -> Option<Rendezvous<'_, T>> {
    match &chan.kind {
        Kind::Rendezvous { slot, data } => Some(chan.rendezvous(*slot, *data)),
        Kind::Buffered(_) => None,
    }
}

impl<'a, T: Element> SendFuture<'a, T> {
    fn rendezvous(&self) -> Option<Rendezvous<'a, T>> {
        rendezvous_of(self.chan)
    }

    fn finish(&mut self, r: Result<(), SendError<T>>) -> Poll<Result<(), SendError<T>>> {
        self.state = State::Done;
        if std::mem::take(&mut self.counted) {
            // ORDERING: AcqRel, as C++.
            self.chan.hdr().senders.fetch_sub(1, AcqRel);
        }
        Poll::Ready(r)
    }

    /// Releases the lock, waking sleeping senders.
    fn unlock(&self, me: u64) {
        if let Some(r) = self.rendezvous() {
            r.unlock(me);
            wake_all(&self.chan.hdr().senders);
        }
    }

    /// Gives the published value back if no receiver claimed it (`Some(value)`), else waits
    /// (bounded) for the claiming receiver to finish copying (`None`). Unlocks either way.
    fn withdraw(&self, me: u64) -> Option<T> {
        let r = self.rendezvous()?;
        let back = match r.retract() {
            Retract::Retracted(v) => Some(v),
            Retract::Claimed => {
                let until = Instant::now() + self.chan.stall;
                while !r.consumed() && Instant::now() < until {
                    std::thread::sleep(Duration::from_micros(50));
                }
                None
            }
        };
        self.unlock(me);
        back
    }
}

impl<T: Element> Future for SendFuture<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(value) = self.value else {
            return Poll::Ready(Ok(())); // polled after completion
        };
        if !self.counted && self.state == State::Start {
            self.counted = true;
            // ORDERING: AcqRel, as C++.
            self.chan.hdr().senders.fetch_add(1, AcqRel);
        }
        // Fingerprint before trying (after counting ourselves): a change after it re-polls us.
        let seen = self.chan.probe();
        let Some(r) = self.rendezvous() else {
            // Buffered: one atomic attempt per poll.
            return match self.chan.try_send(value) {
                Ok(()) => {
                    self.value = None;
                    self.finish(Ok(()))
                }
                Err(TrySendError::Full(_)) => {
                    wake_on_change(cx.waker(), self.chan, seen);
                    Poll::Pending
                }
                Err(TrySendError::Disconnected(v)) => {
                    self.value = None;
                    self.finish(Err(SendError::Disconnected(v)))
                }
                Err(TrySendError::Stalled(v)) => {
                    self.value = None;
                    self.finish(Err(SendError::Stalled(v)))
                }
            };
        };
        loop {
            match self.state {
                State::Start => {
                    if r.closed() {
                        self.value = None;
                        return self.finish(Err(SendError::Disconnected(value)));
                    }
                    let me = owner_id();
                    match r.try_lock(me) {
                        Ok(()) => self.state = State::Locked(me),
                        Err(owner) => {
                            #[allow(clippy::cast_possible_truncation)] // the high half is the pid
                            let pid = (owner >> 32) as u32;
                            if !pid_alive(pid) && r.steal(owner) {
                                self.chan.wait_idle(&r);
                                continue;
                            }
                            wake_on_change(cx.waker(), self.chan, seen);
                            return Poll::Pending;
                        }
                    }
                }
                State::Locked(me) => {
                    if r.closed() {
                        self.unlock(me);
                        self.value = None;
                        return self.finish(Err(SendError::Disconnected(value)));
                    }
                    if !r.slot_free() {
                        wake_on_change(cx.waker(), self.chan, seen);
                        return Poll::Pending;
                    }
                    r.publish(value);
                    wake_all(&self.chan.hdr().receivers);
                    self.state = State::Published(me);
                }
                State::Published(me) => {
                    if r.consumed() {
                        self.unlock(me);
                        self.value = None;
                        return self.finish(Ok(()));
                    }
                    if r.closed() {
                        let back = self.withdraw(me);
                        self.value = None;
                        return self
                            .finish(back.map_or(Ok(()), |v| Err(SendError::Disconnected(v))));
                    }
                    wake_on_change(cx.waker(), self.chan, seen);
                    return Poll::Pending;
                }
                State::Done => return Poll::Ready(Ok(())),
            }
        }
    }
}

impl<T: Element> Drop for SendFuture<'_, T> {
    fn drop(&mut self) {
        match self.state {
            State::Locked(me) => self.unlock(me),
            State::Published(me) => {
                let _ = self.withdraw(me);
            }
            State::Start | State::Done => {}
        }
        if std::mem::take(&mut self.counted) {
            // ORDERING: AcqRel, as C++.
            self.chan.hdr().senders.fetch_sub(1, AcqRel);
        }
    }
}
