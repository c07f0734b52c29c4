//! Codata: values and sequences produced over time ([`channel::Channel`], [`stream::Stream`]).

pub mod channel;
pub mod stream;
