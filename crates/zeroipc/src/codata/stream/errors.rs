//! The stream's error types: one per form of each operation (`emit` → [`EmitError`],
//! `try_emit` → [`TryEmitError`], the timed forms → [`EmitTimeoutError`]; the same for
//! `next`, broadcast `recv` and `subscribe`), and the conversions between the forms.

use core::fmt;

use crate::error::Corruption;

/// Declares a value-carrying emit error: the enum (plain variants carry the value,
/// `Corrupt` carries it with the [`Corruption`]), `into_inner`, a `Debug` that does not
/// need `T: Debug`, `Display` and `Error`.
macro_rules! emit_error {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident => $msg:literal,)* }) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum $name<T> {
            $($(#[$vm])* $v(T),)*
            /// The ring's positions are inconsistent (never trusted, never an out-of-bounds
            /// copy).
            Corrupt(T, Corruption),
        }

        impl<T> $name<T> {
            /// The value that was not emitted.
            pub fn into_inner(self) -> T {
                match self {
                    $(Self::$v(v) => v,)*
                    Self::Corrupt(v, _) => v,
                }
            }
        }

        impl<T> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $(Self::$v(_) => f.write_str(concat!(stringify!($v), "(..)")),)*
                    Self::Corrupt(_, c) => write!(f, "Corrupt(.., {c:?})"),
                }
            }
        }

        impl<T> fmt::Display for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $(Self::$v(_) => f.write_str($msg),)*
                    Self::Corrupt(_, c) => write!(f, "corrupt stream: {c}"),
                }
            }
        }

        impl<T> std::error::Error for $name<T> {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                match self {
                    Self::Corrupt(_, c) => Some(c),
                    _ => None,
                }
            }
        }
    };
}

/// Declares a read error: the enum (with `Corrupt(Corruption)` and whatever variants are
/// given), `Display` and `Error`.
macro_rules! read_error {
    ($(#[$m:meta])* $name:ident {
        $($(#[$vm:meta])* $v:ident $({ $(#[$fm:meta])* $field:ident: $ft:ty })? => $fmt:literal,)*
    }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vm])* $v $({ $(#[$fm])* $field: $ft })?,)*
            /// The ring's positions are inconsistent.
            Corrupt(Corruption),
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $(Self::$v $({ $field })? => write!(f, $fmt),)*
                    Self::Corrupt(c) => write!(f, "corrupt stream: {c}"),
                }
            }
        }

        impl std::error::Error for $name {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                match self {
                    Self::Corrupt(c) => Some(c),
                    _ => None,
                }
            }
        }
    };
}

emit_error! {
    /// Why [`Stream::emit`](super::Stream::emit) did not append; the value is handed back.
    EmitError {
        /// The stream is closed.
        Disconnected => "the stream is closed, expected it open",
        /// The emit lock stayed with one live process for the stall timeout (stopped, or a
        /// zombie).
        Stalled => "the stream's emit lock is held by a process that does not release it within the stall timeout",
    }
}

emit_error! {
    /// Why [`Stream::try_emit`](super::Stream::try_emit) did not append; the value is handed back.
    TryEmitError {
        /// The buffer is full (not a broadcast stream).
        Full => "the stream's buffer is full, expected room for one value",
        /// The stream is closed.
        Disconnected => "the stream is closed, expected it open",
        /// The emit lock stayed with one live process for the stall timeout.
        Stalled => "the stream's emit lock is held by a process that does not release it within the stall timeout",
    }
}

emit_error! {
    /// Why [`Stream::emit_timeout`](super::Stream::emit_timeout) / [`Stream::emit_deadline`](super::Stream::emit_deadline) did not append; the value
    /// is handed back.
    EmitTimeoutError {
        /// The deadline passed while the buffer stayed full (or the lock stayed taken).
        Timeout => "timed out waiting for room in the stream",
        /// The stream is closed.
        Disconnected => "the stream is closed, expected it open",
        /// The emit lock stayed with one live process for the stall timeout.
        Stalled => "the stream's emit lock is held by a process that does not release it within the stall timeout",
    }
}

read_error! {
    /// Why [`Stream::try_emit_many`](super::Stream::try_emit_many) appended nothing (the values not appended are the
    /// caller's slice from the returned count on).
    TryEmitManyError {
        /// The stream is closed.
        Disconnected => "the stream is closed, expected it open",
        /// The emit lock stayed with one live process for the stall timeout.
        Stalled => "the stream's emit lock is held by a process that does not release it within the stall timeout",
    }
}

read_error! {
    /// Why [`Stream::emitter`](super::Stream::emitter) did not claim the emit side.
    EmitterError {
        /// Another process (or another [`Emitter`](super::Emitter) of this one) kept the
        /// emit lock for the stall timeout.
        Stalled => "the stream's emit lock is held by a process that does not release it within the stall timeout (another Emitter?)",
    }
}

read_error! {
    /// Why [`Stream::next`](super::Stream::next) returned no value.
    NextError {
        /// The stream is closed and everything emitted before the close has been read.
        Disconnected => "the stream is closed and drained, expected a value",
        /// Not returned: reads take no lock (they claim values with a CAS of the ring's
        /// `read_pos`). Kept so that code matching it keeps compiling.
        Stalled => "the stream's emit lock is held by a process that does not release it within the stall timeout",
    }
}

read_error! {
    /// Why [`Stream::try_next`](super::Stream::try_next) returned no value.
    TryNextError {
        /// Nothing buffered right now.
        Empty => "the stream is empty, expected a value",
        /// The stream is closed and everything emitted before the close has been read.
        Disconnected => "the stream is closed and drained, expected a value",
        /// Not returned: reads take no lock (they claim values with a CAS of the ring's
        /// `read_pos`). Kept so that code matching it keeps compiling.
        Stalled => "the stream's emit lock is held by a process that does not release it within the stall timeout",
    }
}

read_error! {
    /// Why [`Stream::next_timeout`](super::Stream::next_timeout) / [`Stream::next_deadline`](super::Stream::next_deadline) (or a [`Subscription`](super::Subscription))
    /// returned no value.
    NextTimeoutError {
        /// The deadline passed first.
        Timeout => "timed out waiting for a value",
        /// The stream is closed and everything emitted before the close has been read.
        Disconnected => "the stream is closed and drained, expected a value",
        /// Not returned: reads take no lock (they claim values with a CAS of the ring's
        /// `read_pos`). Kept so that code matching it keeps compiling.
        Stalled => "the stream's emit lock is held by a process that does not release it within the stall timeout",
    }
}

read_error! {
    /// Why [`BroadcastSubscriber::recv`](super::BroadcastSubscriber::recv) returned no value.
    RecvError {
        /// The stream is closed and this subscriber has read everything.
        Disconnected => "the stream is closed and drained, expected a value",
        /// This subscriber fell behind: `missed` values were overwritten before it read
        /// them; its next read returns the oldest value still buffered.
        Lagged {
            /// Values this subscriber will never see.
            missed: u64
        } => "fell behind: {missed} values were overwritten before this subscriber read them",
        /// Not returned: reads take no lock (they claim values with a CAS of the ring's
        /// `read_pos`). Kept so that code matching it keeps compiling.
        Stalled => "the stream's emit lock is held by a process that does not release it within the stall timeout",
    }
}

read_error! {
    /// Why [`BroadcastSubscriber::try_recv`](super::BroadcastSubscriber::try_recv) returned no value.
    TryRecvError {
        /// Nothing new right now.
        Empty => "no new value in the stream, expected one",
        /// The stream is closed and this subscriber has read everything.
        Disconnected => "the stream is closed and drained, expected a value",
        /// This subscriber fell behind (see [`RecvError::Lagged`]).
        Lagged {
            /// Values this subscriber will never see.
            missed: u64
        } => "fell behind: {missed} values were overwritten before this subscriber read them",
        /// Not returned: reads take no lock (they claim values with a CAS of the ring's
        /// `read_pos`). Kept so that code matching it keeps compiling.
        Stalled => "the stream's emit lock is held by a process that does not release it within the stall timeout",
    }
}

read_error! {
    /// Why [`BroadcastSubscriber::recv_timeout`](super::BroadcastSubscriber::recv_timeout) / [`BroadcastSubscriber::recv_deadline`](super::BroadcastSubscriber::recv_deadline)
    /// returned no value.
    RecvTimeoutError {
        /// The deadline passed first.
        Timeout => "timed out waiting for a value",
        /// The stream is closed and this subscriber has read everything.
        Disconnected => "the stream is closed and drained, expected a value",
        /// This subscriber fell behind (see [`RecvError::Lagged`]).
        Lagged {
            /// Values this subscriber will never see.
            missed: u64
        } => "fell behind: {missed} values were overwritten before this subscriber read them",
        /// Not returned: reads take no lock (they claim values with a CAS of the ring's
        /// `read_pos`). Kept so that code matching it keeps compiling.
        Stalled => "the stream's emit lock is held by a process that does not release it within the stall timeout",
    }
}

read_error! {
    /// Why [`Stream::broadcast_subscriber`](super::Stream::broadcast_subscriber) gave no subscriber.
    SubscribeError {
        /// Not returned: reads take no lock (they claim values with a CAS of the ring's
        /// `read_pos`). Kept so that code matching it keeps compiling.
        Stalled => "the stream's emit lock is held by a process that does not release it within the stall timeout",
    }
}

read_error! {
    /// Why a [`Stage`](super::Stage) ended in error ([`Stage::join`](super::Stage::join)).
    StageError {
        /// A stream's emit lock stayed with one live process for the stall timeout.
        Stalled => "the stream's emit lock is held by a process that does not release it within the stall timeout",
        /// The stage's thread panicked (in the caller's closure).
        Panicked => "a stream stage panicked",
    }
}

/// Every way an emit can end, before it is narrowed to the form's error type.
pub(super) enum EmitFail<T> {
    Full(T),
    Timeout(T),
    Disconnected(T),
    Corrupt(T, Corruption),
    Stalled(T),
}

impl<T> EmitFail<T> {
    /// For `emit` (no deadline, waits for room): `Full` and `Timeout` cannot happen.
    pub(super) fn blocking(self) -> EmitError<T> {
        match self {
            Self::Disconnected(v) => EmitError::Disconnected(v),
            Self::Corrupt(v, c) => EmitError::Corrupt(v, c),
            Self::Stalled(v) => EmitError::Stalled(v),
            Self::Full(_) | Self::Timeout(_) => unreachable!("an untimed, waiting emit gave up"),
        }
    }

    /// For `try_emit` (no deadline): `Timeout` cannot happen.
    pub(super) fn tried(self) -> TryEmitError<T> {
        match self {
            Self::Full(v) => TryEmitError::Full(v),
            Self::Disconnected(v) => TryEmitError::Disconnected(v),
            Self::Corrupt(v, c) => TryEmitError::Corrupt(v, c),
            Self::Stalled(v) => TryEmitError::Stalled(v),
            Self::Timeout(_) => unreachable!("an emit without a deadline timed out"),
        }
    }

    /// For the timed forms (they wait for room): `Full` cannot happen.
    pub(super) fn timed(self) -> EmitTimeoutError<T> {
        match self {
            Self::Timeout(v) => EmitTimeoutError::Timeout(v),
            Self::Disconnected(v) => EmitTimeoutError::Disconnected(v),
            Self::Corrupt(v, c) => EmitTimeoutError::Corrupt(v, c),
            Self::Stalled(v) => EmitTimeoutError::Stalled(v),
            Self::Full(_) => unreachable!("a waiting emit reported Full"),
        }
    }
}

/// A `try_next` outcome in a timed read (`Empty` is handled by the caller).
pub(super) fn next_timed(e: TryNextError) -> NextTimeoutError {
    match e {
        TryNextError::Empty => NextTimeoutError::Timeout,
        TryNextError::Disconnected => NextTimeoutError::Disconnected,
        TryNextError::Corrupt(c) => NextTimeoutError::Corrupt(c),
        TryNextError::Stalled => NextTimeoutError::Stalled,
    }
}

/// A read with no deadline never times out.
pub(super) fn next_untimed(e: NextTimeoutError) -> NextError {
    match e {
        NextTimeoutError::Disconnected => NextError::Disconnected,
        NextTimeoutError::Corrupt(c) => NextError::Corrupt(c),
        NextTimeoutError::Stalled => NextError::Stalled,
        NextTimeoutError::Timeout => unreachable!("a read without a deadline timed out"),
    }
}

/// A `try_recv` outcome in a timed broadcast read (`Empty` is handled by the caller).
pub(super) fn recv_timed(e: TryRecvError) -> RecvTimeoutError {
    match e {
        TryRecvError::Empty => RecvTimeoutError::Timeout,
        TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
        TryRecvError::Lagged { missed } => RecvTimeoutError::Lagged { missed },
        TryRecvError::Corrupt(c) => RecvTimeoutError::Corrupt(c),
        TryRecvError::Stalled => RecvTimeoutError::Stalled,
    }
}

/// A broadcast read with no deadline never times out.
pub(super) fn recv_untimed(e: RecvTimeoutError) -> RecvError {
    match e {
        RecvTimeoutError::Disconnected => RecvError::Disconnected,
        RecvTimeoutError::Lagged { missed } => RecvError::Lagged { missed },
        RecvTimeoutError::Corrupt(c) => RecvError::Corrupt(c),
        RecvTimeoutError::Stalled => RecvError::Stalled,
        RecvTimeoutError::Timeout => unreachable!("a read without a deadline timed out"),
    }
}
