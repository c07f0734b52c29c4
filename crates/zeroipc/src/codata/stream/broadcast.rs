//! Broadcast subscribers: each keeps its own cursor in process memory and reads without a
//! lock, validating every copy after it is made (`raw::ring::shared`), so any number of
//! subscribers read at once and never hold up emitters.

use std::cell::Cell;
use std::time::{Duration, Instant};

use super::errors::{recv_timed, recv_untimed};
use super::{RecvError, RecvTimeoutError, Stream, TryRecvError};
use crate::Element;
use crate::raw::ring::ReadFrom;
use crate::wait::Side;

/// A broadcast subscriber with its own cursor; see [`Stream::create_broadcast`].
#[derive(Debug, Clone)]
pub struct BroadcastSubscriber<T: Element> {
    stream: Stream<T>,
    /// Byte position of the next value to read.
    pos: u64,
}

impl<T: Element> BroadcastSubscriber<T> {
    /// A subscriber of `stream` whose next value is at byte position `pos`.
    pub(super) fn new(stream: Stream<T>, pos: u64) -> Self {
        Self { stream, pos }
    }
}

impl<T: Element> BroadcastSubscriber<T> {
    /// The stream this subscriber reads.
    #[must_use]
    pub fn stream(&self) -> &Stream<T> {
        &self.stream
    }

    /// The next value, waiting as long as it takes.
    ///
    /// # Errors
    ///
    /// [`RecvError::Disconnected`] once closed and this subscriber has read everything;
    /// [`RecvError::Lagged`]; [`RecvError::Corrupt`]; [`RecvError::Stalled`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{SegmentOptions, Segment, codata::Stream};
    /// # let name = format!("/zeroipc-doc-stream-bcast-recv-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stream<u32> = Stream::create_broadcast(&seg, "news", 4)?;
    /// let mut sub = s.broadcast_subscriber()?;
    /// let tx = s.clone();
    /// std::thread::spawn(move || tx.emit(7));
    /// assert_eq!(sub.recv(), Ok(7));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv(&mut self) -> Result<T, RecvError> {
        self.recv_until(None).map_err(recv_untimed)
    }

    /// The next value, without waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`]; [`TryRecvError::Disconnected`] once closed and this
    /// subscriber has read everything; [`TryRecvError::Lagged`]; [`TryRecvError::Corrupt`];
    /// [`TryRecvError::Stalled`].
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let mut v = [T::new_zeroed()];
        self.try_recv_many(&mut v).map(|_| v[0])
    }

    /// Copies up to `dst.len()` values (the next ones this subscriber has not seen) without
    /// waiting, and returns how many: the batched [`BroadcastSubscriber::try_recv`]. No lock:
    /// the copy is validated after it is made (the ring's `read_pos` must not have passed
    /// it), so subscribers never wait for each other or for emitters.
    ///
    /// # Errors
    ///
    /// As [`BroadcastSubscriber::try_recv`] (`Empty` when nothing is new; `Ok(0)` only for
    /// an empty `dst`).
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{SegmentOptions, Segment, codata::stream::{Stream, TryRecvError}};
    /// # let name = format!("/zeroipc-doc-stream-bcast-many-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stream<u32> = Stream::create_broadcast(&seg, "news", 8)?;
    /// let mut sub = s.broadcast_subscriber()?;
    /// assert_eq!(s.try_emit_many(&[1, 2, 3])?, 3);
    /// let mut buf = [0; 8];
    /// assert_eq!(sub.try_recv_many(&mut buf)?, 3);
    /// assert_eq!(&buf[..3], &[1, 2, 3]);
    /// assert_eq!(sub.try_recv_many(&mut buf), Err(TryRecvError::Empty));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_recv_many(&mut self, dst: &mut [T]) -> Result<usize, TryRecvError> {
        if dst.is_empty() {
            return Ok(0);
        }
        // Read `closed` first: everything emitted before the close is then in the ring.
        let closed = self.stream.is_closed();
        let ring = &self.stream.ring;
        match ring
            .view()
            .read_from(self.pos, dst)
            .map_err(|c| TryRecvError::Corrupt(ring.corruption(c)))?
        {
            ReadFrom::Copied { n, next } => {
                self.pos = next;
                Ok(n)
            }
            ReadFrom::Lagged { missed, oldest } => {
                self.pos = oldest;
                Err(TryRecvError::Lagged { missed })
            }
            ReadFrom::Empty { write_pos } => {
                // Equal unless the positions went backwards (a reset by a peer): then
                // start over at the end.
                self.pos = write_pos;
                Err(if closed {
                    TryRecvError::Disconnected
                } else {
                    TryRecvError::Empty
                })
            }
        }
    }

    /// The next value, waiting up to `timeout`.
    ///
    /// # Errors
    ///
    /// As [`BroadcastSubscriber::recv_deadline`].
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.recv_until(Instant::now().checked_add(timeout))
    }

    /// The next value, waiting until `deadline` at most.
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`], and as [`BroadcastSubscriber::recv`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Instant;
    /// # use zeroipc::{SegmentOptions, Segment, codata::{Stream, stream::RecvTimeoutError}};
    /// # let name = format!("/zeroipc-doc-stream-bcast-deadline-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stream<u32> = Stream::create_broadcast(&seg, "news", 4)?;
    /// let mut sub = s.broadcast_subscriber()?;
    /// assert_eq!(sub.recv_deadline(Instant::now()), Err(RecvTimeoutError::Timeout));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv_deadline(&mut self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.recv_until(Some(deadline))
    }

    fn recv_until(&mut self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        let stream = self.stream.clone();
        // The position the sleeper's re-check compares with (the attempt moves it).
        let pos = Cell::new(self.pos);
        let attempt = || {
            let r = self.try_recv();
            pos.set(self.pos);
            match r {
                Err(TryRecvError::Empty) => None,
                other => Some(other.map_err(recv_timed)),
            }
        };
        let nothing_new = || !stream.is_closed() && stream.ring.view().end() == Ok(pos.get());
        stream
            .wait_until(Side::Data, deadline, attempt, nothing_new)
            .unwrap_or(Err(RecvTimeoutError::Timeout))
    }
}
