//! `async` send and receive for [`Channel`], with no runtime dependency.
//!
//! A pending future arms the process's one reactor (`wait::reactor`, shared with Future and
//! Lazy): the word its blocking form would sleep on — buffered: the queue's `seq` word at
//! `head` (receivers) or `tail` (senders), registered in the waiter registry as a blocked
//! `recv`/`send` is, so the queue's own pushes and pops wake it; unbuffered: the header's
//! `receivers` / `senders` word — with the value read *before* its failed attempt, plus a
//! fingerprint of the channel's shared words (`Channel::probe`, also taken before the
//! attempt), compared on every reactor pass (at least every millisecond: C++ peers never wake
//! anyone) and a 100 ms safety net. The executor is not polled while nothing happens, and
//! no thread is started per future.
//!
//! Cancellation: dropping a [`RecvFuture`] never loses a value (each poll either takes a
//! value or takes nothing). Dropping a [`SendFuture`] of an unbuffered channel after it
//! published its value retracts it; if a receiver had already claimed it, the value is
//! delivered (the drop waits, bounded by the stall timeout, for that receiver to finish
//! copying before releasing the sender lock).

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::{Channel, Kind, RecvError, SendError, TryRecvError, TrySendError, owner_id};
use crate::Element;
use crate::loom::AtomicU32;
use crate::loom::Ordering::{AcqRel, Relaxed};
use crate::raw::rendezvous::{Rendezvous, Retract};
use crate::wait::reactor::{Arm, Interest};
use crate::wait::{Patience, Sleeper, pid_alive, wake_all};

/// A pending future is re-polled at least this often even if nothing seems to change.
const MAX_NAP: Duration = Duration::from_millis(100);

/// Arms `interest`: wake `w` once `word` leaves `expected` or `chan`'s fingerprint leaves
/// `seen` (both read before the failed attempt: register, then re-check), or after
/// [`MAX_NAP`]. `None` for the word: the awaited thing is there already, re-poll now.
fn arm<T: Element>(
    interest: &mut Interest,
    chan: &Channel<T>,
    word: Option<(&AtomicU32, u32)>,
    seen: u64,
    w: &Waker,
) {
    let Some((word, expected)) = word else {
        w.wake_by_ref();
        return;
    };
    let c = chan.clone();
    interest.arm(
        Arm {
            seg: chan.segment(),
            word,
            expected,
            wake_at: Some(Instant::now() + MAX_NAP),
            probe: Some((Box::new(move || c.probe()), seen)),
        },
        w,
    );
}

/// The word an unbuffered waiter sleeps on, and its value now.
fn watch(word: &AtomicU32) -> Option<(&AtomicU32, u32)> {
    // ORDERING: Relaxed — the reactor compares it; the retried operation synchronises.
    Some((word, word.load(Relaxed)))
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
            interest: Interest::new(),
            sleeper: None,
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
            interest: Interest::new(),
            sleeper: None,
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
    /// The reactor registration while pending.
    interest: Interest,
    /// Buffered: registered in the queue's waiter registry while pending.
    sleeper: Option<Sleeper<'a>>,
}

impl<T: Element> RecvFuture<'_, T> {
    fn uncount(&mut self) {
        self.interest.disarm();
        self.sleeper = None;
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
        let chan = self.chan;
        let seen = chan.probe();
        let word = match &chan.kind {
            Kind::Buffered(q) => {
                let sleeper = self.sleeper.get_or_insert_with(|| q.data_sleeper());
                q.data_wait(sleeper)
            }
            Kind::Rendezvous { .. } => watch(&chan.hdr().receivers),
        };
        let r = match chan.try_recv() {
            Err(TryRecvError::Empty) => {
                arm(&mut self.interest, chan, word, seen, cx.waker());
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
    /// The reactor registration while pending.
    interest: Interest,
    /// Buffered: registered in the queue's waiter registry while pending.
    sleeper: Option<Sleeper<'a>>,
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
        self.interest.disarm();
        self.sleeper = None;
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
                let mut patience = Patience::new(self.chan.stall);
                while !r.consumed() && patience.keep_waiting() {}
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
        let chan = self.chan;
        let seen = chan.probe();
        let Some(r) = self.rendezvous() else {
            // Buffered: one atomic attempt per poll.
            let word = match &chan.kind {
                Kind::Buffered(q) => {
                    let sleeper = self.sleeper.get_or_insert_with(|| q.room_sleeper());
                    q.room_wait(sleeper)
                }
                Kind::Rendezvous { .. } => None,
            };
            return match chan.try_send(value) {
                Ok(()) => {
                    self.value = None;
                    self.finish(Ok(()))
                }
                Err(TrySendError::Full(_)) => {
                    arm(&mut self.interest, chan, word, seen, cx.waker());
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
        let word = watch(&chan.hdr().senders);
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
                            arm(&mut self.interest, chan, word, seen, cx.waker());
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
                        arm(&mut self.interest, chan, word, seen, cx.waker());
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
                    arm(&mut self.interest, chan, word, seen, cx.waker());
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
