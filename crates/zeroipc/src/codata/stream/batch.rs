//! Batched emits and reads: one lock, one `write_pos` store and one wake check for a whole
//! slice of values (emit), one CAS of `read_pos` for a whole slice (read), as
//! [`Ring`](crate::structures::Ring)'s `write` / `read` do for a ring.

use super::{AppendFail, Lock, Stream, TryNextError};
use crate::Element;
use crate::sync::pid_lock::LockFail;

pub use super::errors::TryEmitManyError;

impl<T: Element> Stream<T> {
    /// Appends as many of `values` as fit now, in order, without waiting for room, and
    /// returns how many: the batched [`Stream::try_emit`] (one lock and one wake check for
    /// the whole slice). A broadcast stream takes them all (overwriting the oldest values).
    ///
    /// # Errors
    ///
    /// [`TryEmitManyError::Disconnected`] (closed: nothing appended),
    /// [`TryEmitManyError::Corrupt`], [`TryEmitManyError::Stalled`]; values appended
    /// before a broadcast stream's later chunk failed stay appended.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{SegmentOptions, Segment, codata::stream::Stream};
    /// # let name = format!("/zeroipc-doc-stream-emit-many-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stream<u16> = Stream::create(&seg, "s", 4)?;
    /// assert_eq!(s.try_emit_many(&[1, 2, 3, 4, 5, 6])?, 4); // room for 4
    /// assert_eq!(s.sequence(), 4);
    /// assert_eq!(s.try_emit_many(&[5, 6])?, 0); // full
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_emit_many(&self, values: &[T]) -> Result<usize, TryEmitManyError> {
        self.emit_many_with(values, Lock::Take(None))
    }

    /// [`Stream::try_emit_many`] with the emit lock taken per chunk or already held.
    pub(super) fn emit_many_with(
        &self,
        values: &[T],
        lock: Lock,
    ) -> Result<usize, TryEmitManyError> {
        if self.is_closed() {
            return Err(TryEmitManyError::Disconnected);
        }
        let mut done = 0;
        // A plain stream appends what fits once; a broadcast stream chunk by chunk (each at
        // most one buffer's worth), overwriting.
        while done < values.len() {
            let n = self.append(&values[done..], lock).map_err(|e| match e {
                AppendFail::Lock(LockFail::Stalled | LockFail::Timeout) => {
                    TryEmitManyError::Stalled
                }
                AppendFail::Corrupt(c) => TryEmitManyError::Corrupt(c),
            })?;
            done += n;
            if n == 0 || !self.is_broadcast() {
                break;
            }
        }
        Ok(done)
    }

    /// Takes up to `dst.len()` buffered values, oldest first, without waiting, and returns
    /// how many: the batched [`Stream::try_next`] (one CAS of the ring's `read_pos` for the
    /// whole slice).
    ///
    /// # Errors
    ///
    /// [`TryNextError::Empty`] when nothing is buffered (`Ok(0)` only for an empty `dst`),
    /// [`TryNextError::Disconnected`] once closed and drained, [`TryNextError::Corrupt`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{SegmentOptions, Segment, codata::stream::{Stream, TryNextError}};
    /// # let name = format!("/zeroipc-doc-stream-next-many-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stream<u16> = Stream::create(&seg, "s", 8)?;
    /// s.try_emit_many(&[7, 8, 9])?;
    /// let mut buf = [0; 2];
    /// assert_eq!(s.try_next_many(&mut buf)?, 2);
    /// assert_eq!(buf, [7, 8]);
    /// assert_eq!(s.try_next_many(&mut buf)?, 1);
    /// assert_eq!(s.try_next_many(&mut buf), Err(TryNextError::Empty));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_next_many(&self, dst: &mut [T]) -> Result<usize, TryNextError> {
        if dst.is_empty() {
            return Ok(0);
        }
        match self.take_values(dst).map_err(TryNextError::Corrupt)? {
            0 if self.is_closed() => {
                // Values emitted before the close are in the ring by now: read once more.
                match self.take_values(dst).map_err(TryNextError::Corrupt)? {
                    0 => Err(TryNextError::Disconnected),
                    n => Ok(n),
                }
            }
            0 => Err(TryNextError::Empty),
            n => Ok(n),
        }
    }
}
