//! [`Emitter`]: a stream's emit side claimed by one handle, as [`Ring::producer`] claims a
//! ring's producer side. The claim is the emit lock itself (`sync::pid_lock`), taken once
//! and held until the emitter is dropped, so its emits execute no locked instruction: a
//! value costs what a ring push costs (BENCHMARKS.md, issue #15), where an unclaimed
//! [`Stream::emit`] pays two CAS on the header's line to take and release the lock.
//!
//! While the claim lasts, other emitters (in any process, this one included) wait for the
//! lock and report `Stalled` after their stall timeout; readers and broadcast subscribers
//! are not affected. A claimant that dies leaves its pid in the lock, and the next emitter
//! takes it over as it would from any dead holder.
//!
//! [`Ring::producer`]: crate::structures::Ring::producer

use core::fmt;
use std::time::{Duration, Instant};

use super::errors::EmitFail;
use super::{
    EmitError, EmitTimeoutError, EmitterError, Lock, Stream, TryEmitError, TryEmitManyError,
};
use crate::Element;
use crate::sync::pid_lock::{LockFail, PidLock};
use crate::wait::current_pid;

/// A stream's claimed emit side; see [`Stream::emitter`]. Dropping it releases the claim.
pub struct Emitter<T: Element> {
    stream: Stream<T>,
}

impl<T: Element> fmt::Debug for Emitter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emitter")
            .field("stream", &self.stream)
            .finish()
    }
}

impl<T: Element> Stream<T> {
    /// Claims this stream's emit side until the returned [`Emitter`] is dropped: the emit
    /// lock is taken once, so the emitter's emits take no lock at all. Meant for a stream
    /// with one emitting process (a sensor): other emitters wait meanwhile, and report
    /// `Stalled` after their stall timeout.
    ///
    /// # Errors
    ///
    /// [`EmitterError::Stalled`] if another live process (or another `Emitter` of this
    /// process) keeps the lock for this handle's stall timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use zeroipc::{SegmentOptions, Segment, codata::stream::{Stream, TryEmitError}};
    /// # let name = format!("/zeroipc-doc-stream-emitter-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stream<f32> = Stream::create(&seg, "temps", 64)?;
    /// let tx = s.emitter()?;
    /// tx.emit(21.5)?;
    /// // While the claim lasts, unclaimed emits wait for the lock:
    /// let other = s.clone().with_stall_timeout(Duration::from_millis(10));
    /// assert_eq!(other.try_emit(0.0), Err(TryEmitError::Stalled(0.0)));
    /// drop(tx);
    /// other.try_emit(22.0)?;
    /// assert_eq!((s.try_next()?, s.try_next()?), (21.5, 22.0));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn emitter(&self) -> Result<Emitter<T>, EmitterError> {
        match self.lock(None) {
            Ok(guard) => guard.keep(),
            Err(LockFail::Stalled | LockFail::Timeout) => return Err(EmitterError::Stalled),
        }
        Ok(Emitter {
            stream: self.clone(),
        })
    }
}

impl<T: Element> Emitter<T> {
    /// The stream this emitter emits into.
    #[must_use]
    pub fn stream(&self) -> &Stream<T> {
        &self.stream
    }

    /// [`Stream::emit`] without taking the lock.
    ///
    /// # Errors
    ///
    /// As [`Stream::emit`]; [`EmitError::Corrupt`] also if the lock word no longer names
    /// this process (rewritten by a peer).
    pub fn emit(&self, value: T) -> Result<(), EmitError<T>> {
        self.stream
            .emit_with(value, None, true, Lock::Held)
            .map_err(EmitFail::blocking)
    }

    /// [`Stream::try_emit`] without taking the lock.
    ///
    /// # Errors
    ///
    /// As [`Stream::try_emit`] (and as [`Emitter::emit`]).
    pub fn try_emit(&self, value: T) -> Result<(), TryEmitError<T>> {
        self.stream
            .emit_with(value, None, false, Lock::Held)
            .map_err(EmitFail::tried)
    }

    /// [`Stream::emit_timeout`] without taking the lock.
    ///
    /// # Errors
    ///
    /// As [`Stream::emit_timeout`] (and as [`Emitter::emit`]).
    pub fn emit_timeout(&self, value: T, timeout: Duration) -> Result<(), EmitTimeoutError<T>> {
        let deadline = Instant::now().checked_add(timeout);
        self.stream
            .emit_with(value, deadline, true, Lock::Held)
            .map_err(EmitFail::timed)
    }

    /// [`Stream::emit_deadline`] without taking the lock.
    ///
    /// # Errors
    ///
    /// As [`Stream::emit_deadline`] (and as [`Emitter::emit`]).
    pub fn emit_deadline(&self, value: T, deadline: Instant) -> Result<(), EmitTimeoutError<T>> {
        self.stream
            .emit_with(value, Some(deadline), true, Lock::Held)
            .map_err(EmitFail::timed)
    }

    /// [`Stream::try_emit_many`] without taking the lock.
    ///
    /// # Errors
    ///
    /// As [`Stream::try_emit_many`] (and `Corrupt` as [`Emitter::emit`]).
    pub fn try_emit_many(&self, values: &[T]) -> Result<usize, TryEmitManyError> {
        self.stream.emit_many_with(values, Lock::Held)
    }
}

impl<T: Element> Drop for Emitter<T> {
    /// Releases the claim (wakes emitters that sleep on the lock).
    fn drop(&mut self) {
        PidLock::new(&self.stream.hdr().lock).release(current_pid());
    }
}
