//! `Signal<T>`: a value with a version number; readers wait for it to change.
//!
//! # Layout (FORMAT.md §7.9; entries created in this order)
//!
//! | entry         | size                                   | contents                        |
//! |---------------|----------------------------------------|---------------------------------|
//! | `name_state`  | `align8(8 + size_of::<T>())` (C++)     | `version` u64 @0, `value` T @8  |
//! | `name_mtx`    | 16                                     | a [`Mutex`](super::Mutex)       |
//! | `name`        | 1                                      | marker                          |
//!
//! zeroipc creates the C++ size; it opens both the C++ size and Python's unpadded
//! `8 + size_of::<T>()` (IH-19). The longest composed name (`name_state`) is checked before
//! anything is created (base name at most 25 bytes); a half-created Signal is reported.
//!
//! # Synchronization
//!
//! | store (Release)                     | load (Acquire)                   | publishes     |
//! |-------------------------------------|----------------------------------|---------------|
//! | `version` fetch_add in `set`/`update` | `version` in `wait_for_change*` | the new value |
//!
//! `set` and `update` write the value under the mutex, then bump `version` (Release) and
//! wake sleepers on the futex at the low 32 bits of `version` (little-endian: offset 0).
//! `get` reads under the mutex, as C++ does. Waiters re-check every millisecond for peers that
//! poll (C++ polls every 100 µs, Python with back-off).
//!
//! # Process death
//!
//! The mutex is a [`Mutex`](super::Mutex): a writer that dies mid-`set` is detected by the
//! next `get`/`set`, which takes the lock over and reports
//! [`LockError::OwnerDead`](super::LockError::OwnerDead) (the value may be half-written).

#[cfg(not(loom))]
pub use handle::Signal;

#[cfg(not(loom))]
mod handle;
