//! Per-watch mention counts by publication time.
//!
//! Two resolutions: one-second buckets for the recent span (what sliding
//! windows sum over, so a `10s` window is exact) and one-minute buckets for
//! the baseline history (what the state store persists). Pure data: no clock,
//! no I/O.

use std::collections::BTreeMap;

/// Mention counts in one bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: u64,
    pub negative: u64,
}

impl Counts {
    fn add(&mut self, o: Counts) {
        self.total += o.total;
        self.negative += o.negative;
    }
}

/// Counts of one watch.
#[derive(Debug, Clone, Default)]
pub struct Series {
    seconds: BTreeMap<i64, Counts>,
    minutes: BTreeMap<i64, Counts>,
    /// Earliest publication second ever recorded (history start).
    first: Option<i64>,
}

impl Series {
    /// Records one mention published at unix second `t`.
    pub fn add(&mut self, t: i64, negative: bool) {
        let c = Counts {
            total: 1,
            negative: u64::from(negative),
        };
        self.seconds.entry(t).or_default().add(c);
        self.minutes.entry(t.div_euclid(60)).or_default().add(c);
        self.first = Some(self.first.map_or(t, |f| f.min(t)));
    }

    /// Restores a persisted minute bucket. The recent one-second view gets
    /// the count at the minute's first second: after a restart, windows
    /// shorter than a minute are approximate for the minutes before it.
    pub fn restore_minute(&mut self, minute: i64, c: Counts) {
        self.minutes.entry(minute).or_default().add(c);
        self.seconds.entry(minute * 60).or_default().add(c);
        let t = minute * 60;
        self.first = Some(self.first.map_or(t, |f| f.min(t)));
    }

    /// Counts published in the half-open second range `(from, to]`.
    pub fn window(&self, from: i64, to: i64) -> Counts {
        let mut c = Counts::default();
        if from >= to {
            return c;
        }
        for (_, v) in self.seconds.range(from + 1..=to) {
            c.add(*v);
        }
        c
    }

    /// Counts of whole minutes in `[from_minute, to_minute)`.
    pub fn history(&self, from_minute: i64, to_minute: i64) -> Counts {
        let mut c = Counts::default();
        if from_minute >= to_minute {
            return c;
        }
        for (_, v) in self.minutes.range(from_minute..to_minute) {
            c.add(*v);
        }
        c
    }

    /// Counts published in `[from, to)`: whole minutes from the minute
    /// buckets, the partial minutes at either end from the one-second
    /// buckets (which exist only for the recent span).
    pub fn range(&self, from: i64, to: i64) -> Counts {
        let mut c = Counts::default();
        if from >= to {
            return c;
        }
        let m_from = (from + 59).div_euclid(60);
        let m_to = to.div_euclid(60);
        if m_from >= m_to {
            for (_, v) in self.seconds.range(from..to) {
                c.add(*v);
            }
            return c;
        }
        c.add(self.history(m_from, m_to));
        for (_, v) in self.seconds.range(from..m_from * 60) {
            c.add(*v);
        }
        for (_, v) in self.seconds.range(m_to * 60..to) {
            c.add(*v);
        }
        c
    }

    /// The earliest second with data, if any.
    pub fn first(&self) -> Option<i64> {
        self.first
    }

    /// Drops one-second buckets at or before `before_sec` and minute buckets
    /// before `before_minute`.
    pub fn prune(&mut self, before_sec: i64, before_minute: i64) {
        self.seconds = self.seconds.split_off(&(before_sec + 1));
        self.minutes = self.minutes.split_off(&before_minute);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_history_sum_the_right_buckets() {
        let mut s = Series::default();
        for t in [0, 59, 60, 61, 120] {
            s.add(t, t == 60);
        }
        assert_eq!(
            s.window(0, 60),
            Counts {
                total: 2,
                negative: 1
            }
        );
        assert_eq!(s.window(-1, 200).total, 5);
        assert_eq!(s.history(0, 1).total, 2);
        assert_eq!(
            s.history(0, 2),
            Counts {
                total: 4,
                negative: 1
            }
        );
        assert_eq!(s.first(), Some(0));
        assert_eq!(s.range(0, 60).total, 2);
        assert_eq!(s.range(59, 61).total, 2);
        assert_eq!(s.range(1, 121).total, 4);
        assert_eq!(s.range(0, 121).total, 5);
        s.prune(60, 1);
        assert_eq!(s.window(-1, 200).total, 2);
        assert_eq!(s.history(0, 10).total, 3);
    }
}
