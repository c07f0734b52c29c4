//! Ratios you can trust on a noisy machine: floor and subject measured in interleaved pairs.
//!
//! A ratio to a floor measured once, at another moment, measures the scheduler: on a shared
//! 2-vCPU machine the same bare ping-pong reads 50 ns in one minute and 50 µs in the next
//! (when both processes land on one CPU). So each row is measured as `n` pairs (floor batch,
//! subject batch, floor batch, subject batch, ...), each pair gives its own ratio, and the
//! row reports the **median of the per-pair ratios** with their spread. A pair whose floor is
//! implausible ([`Floor::plausible_max_ns`], or more than [`OUTLIER`] times off the median
//! floor of the row) is dropped; a row left with fewer than half its pairs is **invalid**
//! (reported as such, never as a 0.00x or 35,000x ratio).

/// A floor batch further than this factor from the row's median floor is an outlier.
pub const OUTLIER: f64 = 4.0;

/// Which floor a row is compared with, and what a plausible one looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Floor {
    /// A bare cache-line ping-pong between two spinning processes (nanoseconds per round
    /// trip). Hundreds of nanoseconds at most on two CPUs; tens of microseconds means the two
    /// sides shared one CPU.
    Spin,
    /// A bare shared-futex hand-off (nanoseconds from wake to running). Microseconds to tens
    /// of microseconds; milliseconds means a time slice was lost.
    FutexWake,
}

impl Floor {
    /// The largest floor batch median (ns) taken as a real measurement.
    #[must_use]
    pub fn plausible_max_ns(self) -> f64 {
        match self {
            Floor::Spin => 20_000.0,
            Floor::FutexWake => 2_000_000.0,
        }
    }
}

/// How a subject's batch value compares with the floor's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compare {
    /// Both are nanoseconds per operation: ratio = subject / floor (lower is better).
    Time,
    /// The subject is nanoseconds per *item* of a throughput run: ratio = items moved per
    /// floor round trip = floor / subject (higher is better).
    Throughput,
}

/// One floor batch and the subject batch measured right after it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pair {
    /// The floor batch's nanoseconds per round trip (or per hand-off).
    pub floor_ns: f64,
    /// The subject batch's nanoseconds per operation (or per item).
    pub subject_ns: f64,
}

/// A row's result.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Median of the kept pairs' subject values (ns per operation or item).
    pub subject_ns: f64,
    /// Median of the kept pairs' floor values (ns).
    pub floor_ns: f64,
    /// Median of the kept pairs' ratios; `None` when the row is invalid.
    pub ratio: Option<f64>,
    /// Smallest and largest kept ratio.
    pub spread: Option<(f64, f64)>,
    /// Pairs kept and pairs measured.
    pub kept: usize,
    /// Pairs measured.
    pub pairs: usize,
}

impl Summary {
    /// Whether the row has a ratio (at least half its pairs had a plausible floor).
    #[must_use]
    pub fn valid(&self) -> bool {
        self.ratio.is_some()
    }
}

/// The median of `v` (the upper one for an even count); `NaN` when empty.
#[must_use]
pub fn median(v: &[f64]) -> f64 {
    let mut v: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Whether a pair's floor is plausible for `floor` in a row whose median floor is `typical`.
fn plausible(p: &Pair, floor: Floor, typical: f64) -> bool {
    p.floor_ns.is_finite()
        && p.floor_ns > 0.0
        && p.subject_ns.is_finite()
        && p.subject_ns > 0.0
        && p.floor_ns <= floor.plausible_max_ns()
        && p.floor_ns <= typical * OUTLIER
        && p.floor_ns >= typical / OUTLIER
}

/// Summarises a row's interleaved pairs (see the module docs).
#[must_use]
pub fn summarize(pairs: &[Pair], floor: Floor, compare: Compare) -> Summary {
    // The typical floor is the median of the floors that are plausible on their own, so a
    // majority of bad batches cannot drag it up to where they pass.
    let alone: Vec<f64> = pairs
        .iter()
        .map(|p| p.floor_ns)
        .filter(|&f| f.is_finite() && f > 0.0 && f <= floor.plausible_max_ns())
        .collect();
    let typical = median(&alone);
    let kept: Vec<&Pair> = pairs
        .iter()
        .filter(|p| typical.is_finite() && plausible(p, floor, typical))
        .collect();
    let ratios: Vec<f64> = kept
        .iter()
        .map(|p| match compare {
            Compare::Time => p.subject_ns / p.floor_ns,
            Compare::Throughput => p.floor_ns / p.subject_ns,
        })
        .collect();
    let valid = !kept.is_empty() && kept.len() * 2 >= pairs.len();
    let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Summary {
        subject_ns: median(&kept.iter().map(|p| p.subject_ns).collect::<Vec<_>>()),
        floor_ns: median(&kept.iter().map(|p| p.floor_ns).collect::<Vec<_>>()),
        ratio: valid.then(|| median(&ratios)),
        spread: valid.then_some((lo, hi)),
        kept: kept.len(),
        pairs: pairs.len(),
    }
}

/// Measures a row: `pairs` times, one floor batch then one subject batch, each returning
/// nanoseconds per operation; if the row comes out invalid, measures it once more before
/// reporting it invalid.
///
/// # Errors
///
/// The first error of a batch.
pub fn interleave<E>(
    pairs: usize,
    floor: Floor,
    compare: Compare,
    mut floor_batch: impl FnMut() -> Result<f64, E>,
    mut subject_batch: impl FnMut() -> Result<f64, E>,
) -> Result<Summary, E> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut got = Vec::with_capacity(pairs);
        for _ in 0..pairs {
            let floor_ns = floor_batch()?;
            let subject_ns = subject_batch()?;
            got.push(Pair {
                floor_ns,
                subject_ns,
            });
        }
        let s = summarize(&got, floor, compare);
        if s.valid() || attempt == 2 {
            return Ok(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(f64, f64)]) -> Vec<Pair> {
        v.iter()
            .map(|&(floor_ns, subject_ns)| Pair {
                floor_ns,
                subject_ns,
            })
            .collect()
    }

    #[test]
    fn the_ratio_is_the_median_of_per_pair_ratios() {
        // The floor doubles between pairs 2 and 3 (noise that moves both): per-pair ratios
        // stay 4, while median(subject) / median(floor) would not.
        let p = pairs(&[
            (100.0, 400.0),
            (100.0, 400.0),
            (200.0, 800.0),
            (200.0, 800.0),
            (210.0, 840.0),
        ]);
        let s = summarize(&p, Floor::Spin, Compare::Time);
        assert_eq!(s.ratio, Some(4.0));
        assert_eq!(s.spread, Some((4.0, 4.0)));
        assert_eq!((s.kept, s.pairs), (5, 5));
    }

    #[test]
    fn throughput_counts_items_per_floor_round_trip() {
        let p = pairs(&[(100.0, 20.0), (100.0, 25.0), (100.0, 10.0)]);
        let s = summarize(&p, Floor::Spin, Compare::Throughput);
        assert_eq!(s.ratio, Some(5.0));
        assert_eq!(s.spread, Some((4.0, 10.0)));
    }

    #[test]
    fn a_floor_from_one_shared_cpu_is_dropped_and_does_not_move_the_ratio() {
        // The 55 µs floor is the two sides sharing one CPU (issue #15's 54,970 ns).
        let p = pairs(&[
            (100.0, 300.0),
            (55_000.0, 300.0),
            (110.0, 330.0),
            (90.0, 270.0),
        ]);
        let s = summarize(&p, Floor::Spin, Compare::Time);
        assert_eq!((s.kept, s.pairs), (3, 4));
        assert_eq!(s.ratio, Some(3.0));
    }

    #[test]
    fn an_outlier_floor_is_dropped_even_when_plausible_alone() {
        let p = pairs(&[
            (100.0, 300.0),
            (100.0, 300.0),
            (900.0, 300.0),
            (100.0, 300.0),
        ]);
        let s = summarize(&p, Floor::Spin, Compare::Time);
        assert_eq!((s.kept, s.pairs), (3, 4));
        assert_eq!(s.ratio, Some(3.0));
    }

    #[test]
    fn a_row_with_mostly_implausible_floors_is_invalid_not_a_ratio() {
        let p = pairs(&[
            (54_970.0, 300.0),
            (60_778.0, 300.0),
            (54_954.0, 300.0),
            (96.0, 300.0),
        ]);
        let s = summarize(&p, Floor::Spin, Compare::Time);
        assert!(!s.valid());
        assert_eq!(s.ratio, None);
        assert_eq!(s.spread, None);
    }

    #[test]
    fn interleave_alternates_floor_and_subject_and_remeasures_an_invalid_row() {
        let mut log = Vec::new();
        let mut floors = [60_000.0, 60_000.0, 100.0, 100.0].into_iter();
        let s = interleave::<()>(
            2,
            Floor::Spin,
            Compare::Time,
            || {
                log.push('f');
                Ok(floors.next().unwrap_or(100.0))
            },
            || Ok(200.0),
        )
        .unwrap();
        assert_eq!(log.len(), 4, "two attempts of two pairs");
        assert_eq!(s.ratio, Some(2.0));
    }

    #[test]
    fn nan_and_zero_batches_are_never_a_ratio() {
        let p = pairs(&[(0.0, 300.0), (f64::NAN, 300.0)]);
        let s = summarize(&p, Floor::Spin, Compare::Time);
        assert!(!s.valid());
    }
}
