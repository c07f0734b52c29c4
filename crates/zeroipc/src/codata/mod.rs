//! Codata: values and sequences that are produced over time — [`Channel`] and [`Stream`].

pub mod channel;
pub mod stream;

pub use channel::{Channel, RecvError, Select, SendError, select_recv};
pub use stream::{EmitError, Stage, Stream, StreamError, Subscription};
