//! A second thread keeps writing fuzz-chosen bytes into a valid segment holding one of every
//! structure (through the object's descriptor, as another process would) while this thread
//! opens structures and runs operations on them, reads the table the way an inspector does
//! and, if the input asks, opens the segment itself and decodes entries. Nothing may crash,
//! panic or hang; every answer is a value or a typed error.
//!
//! Input: `[control, n, ops… (n % 16), writes…]`. Each write is `[offset lo, offset hi, len,
//! bytes…]` (offset modulo the image size, `len % 16 + 1` bytes, at most 64 writes).
//! `control % 16 + 1` says after how many writes the valid image is restored; bit
//! [`FRESH_OPEN`] opens the segment while the writer writes (read-write; read-only too with
//! [`INSPECT`]) instead of using the process's long-lived mappings; bit [`INSPECT`] lets the
//! execution decode entries (the operations that do, and one more through the read-only
//! handle).
//!
//! The writer is one thread for the whole fuzz process, handed each execution's writes
//! (spawning a thread per execution cost more than the execution: ASan sets up every new
//! thread's stack and shadow). It applies them over and over, at least one whole pass per
//! execution, until the reader is done, then waits for the next execution; the reader
//! restores the image only while the writer waits, so each execution starts from the same
//! bytes.
//!
//! Most executions use two mappings opened once per process, as a long-running peer does:
//! a fresh `mmap` and `munmap` per execution cost page faults and, with the writer on the
//! other core, a TLB shoot-down for each `munmap`.
#![no_main]

mod common;
mod structures;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use zeroipc::{ReadOnlySegment, Segment};

/// One execution's work for the writer thread.
#[derive(Default)]
struct Job {
    writes: Vec<(u64, Vec<u8>)>,
    restore_every: usize,
    /// Bumped by the reader for each execution.
    posted: u64,
    /// The last execution whose writes the writer finished.
    done: u64,
}

/// The reader and the writer thread.
struct Writer {
    job: Mutex<Job>,
    changed: Condvar,
    /// Set by the reader when it is done with the segment: the writer ends its pass.
    stop: AtomicBool,
}

impl Writer {
    /// The process's writer, its thread started on first use.
    fn get() -> &'static Writer {
        static W: OnceLock<&'static Writer> = OnceLock::new();
        W.get_or_init(|| {
            let w: &'static Writer = Box::leak(Box::new(Writer {
                job: Mutex::new(Job::default()),
                changed: Condvar::new(),
                stop: AtomicBool::new(false),
            }));
            std::thread::Builder::new()
                .name("scribbler".into())
                .spawn(move || w.run())
                .expect("start the writer thread");
            w
        })
    }

    /// The writer thread: waits for an execution, scribbles until told to stop (after at
    /// least one whole pass), reports it is done, and waits again.
    fn run(&self) {
        let scratch = common::Scratch::get();
        let image = structures::image();
        let mut job = self.job.lock().unwrap();
        loop {
            while job.done == job.posted {
                job = self.changed.wait(job).unwrap();
            }
            let posted = job.posted;
            let writes = std::mem::take(&mut job.writes);
            let restore_every = job.restore_every;
            drop(job);
            let mut n = 0usize;
            loop {
                for (at, bytes) in &writes {
                    scratch.write_at(*at, bytes, structures::SIZE);
                    n += 1;
                    if n.is_multiple_of(restore_every) {
                        scratch.write_at(0, image, structures::SIZE);
                    }
                }
                // ORDERING: Relaxed — only ends the loop; the job mutex orders the hand-back.
                if self.stop.load(Ordering::Relaxed) {
                    break;
                }
            }
            job = self.job.lock().unwrap();
            job.done = posted;
            self.changed.notify_all();
        }
    }

    /// Hands `writes` to the writer thread; it starts on them at once.
    fn start(&self, writes: Vec<(u64, Vec<u8>)>, restore_every: usize) {
        // ORDERING: Relaxed — the writer is idle; the job mutex below publishes it.
        self.stop.store(false, Ordering::Relaxed);
        let mut job = self.job.lock().unwrap();
        job.writes = writes;
        job.restore_every = restore_every;
        job.posted += 1;
        self.changed.notify_all();
    }

    /// Tells the writer to stop and waits until it has (after its first whole pass at
    /// least), so nothing writes while the next execution restores the image.
    fn finish(&self) {
        // ORDERING: Relaxed — a request to stop; `done` under the job mutex confirms it.
        self.stop.store(true, Ordering::Relaxed);
        let mut job = self.job.lock().unwrap();
        while job.done != job.posted {
            job = self.changed.wait(job).unwrap();
        }
    }
}

fn parse(mut data: &[u8]) -> Vec<(u64, Vec<u8>)> {
    let mut writes = Vec::new();
    while let [lo, hi, len, rest @ ..] = data {
        let at = u64::from(u16::from_le_bytes([*lo, *hi])) % structures::SIZE;
        let n = (usize::from(*len) % 16 + 1).min(rest.len());
        writes.push((at, rest[..n].to_vec()));
        data = &rest[n..];
        if writes.len() == 64 {
            break;
        }
    }
    writes
}

/// The long-lived mappings (read-write and read-only) of the executions without
/// [`FRESH_OPEN`], opened the first time, once the valid image is in place.
fn mappings() -> &'static (Segment, ReadOnlySegment) {
    static M: OnceLock<(Segment, ReadOnlySegment)> = OnceLock::new();
    M.get_or_init(|| {
        let name = common::Scratch::get().name();
        (
            Segment::open(name).expect("the image opens"),
            Segment::open_read_only(name).expect("the image opens read-only"),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let [control, n, rest @ ..] = data else {
        return;
    };
    let k = (usize::from(*n) % 16).min(rest.len());
    let (ops, rest) = rest.split_at(k);
    let writes = parse(rest);
    if writes.is_empty() {
        return;
    }
    let restore_every = usize::from(control % 16) + 1;
    let writer = Writer::get();
    let scratch = common::Scratch::get();
    let image = structures::image();
    if scratch.len() == structures::SIZE {
        scratch.write_at(0, image, structures::SIZE);
    } else {
        scratch.write(image);
    }
    let (seg, ro) = mappings();
    writer.start(writes, restore_every);
    if control & FRESH_OPEN != 0 {
        // Open (validate the header and table) while the writer writes, as a peer joining
        // a segment that another process is scribbling on.
        if let Ok(seg) = Segment::open(scratch.name()) {
            run(&seg, ops, *control);
        }
        if control & INSPECT != 0
            && let Ok(ro) = Segment::open_read_only(scratch.name())
        {
            structures::inspect_one(&ro, usize::from(*control));
        }
    } else {
        run(seg, ops, *control);
        if control & INSPECT != 0 {
            structures::inspect_one(ro, usize::from(*control));
        }
    }
    writer.finish();
});

/// `control` bit: open the segment afresh for this execution (read-write, and read-only
/// for [`INSPECT`]'s last decode) instead of using the long-lived mappings.
const FRESH_OPEN: u8 = 0x10;
/// `control` bit: decode entries as `zeroipc show` does (operation codes 30 and 31, and one
/// entry through a read-only handle at the end).
const INSPECT: u8 = 0x20;

/// The operations, then what a reader of the table does (look-ups, `classify_all`).
fn run(seg: &Segment, ops: &[u8], control: u8) {
    for (i, &code) in ops.iter().enumerate() {
        // Decoding only with `INSPECT`, so the input says whether this execution decodes at
        // all: one decode costs about ten structure operations.
        if code % 32 >= structures::FIRST_DECODE_OP && control & INSPECT == 0 {
            continue;
        }
        structures::op(seg, code, i);
    }
    common::read_only(seg);
}
