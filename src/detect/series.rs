//! Per-watch mention counts by publication time.
//!
//! Two resolutions, both bounded:
//! * one-second buckets with running totals for the recent span (what
//!   sliding windows sum over, so a `10s` window is exact and a window sum is
//!   two binary searches, whatever its width);
//! * hourly buckets for the baseline horizon ([`HORIZON_HOURS`], 28 days):
//!   what the expected-volume model learns from. The state store persists
//!   minute buckets; [`Series::restore_minute`] folds them back in.
//!
//! Pure data: no clock, no I/O. Mentions older than the one-second span only
//! reach the hourly buckets: no window that is still evaluated can hold them.

use std::collections::VecDeque;

/// Hourly buckets kept: the baseline horizon.
pub(crate) const HORIZON_HOURS: i64 = 28 * 24;

/// Mention counts in one bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub total: u64,
    pub negative: u64,
}

impl Counts {
    pub(crate) fn add(&mut self, o: Counts) {
        self.total += o.total;
        self.negative += o.negative;
    }

    /// `self − o`, each count floored at zero.
    pub(crate) fn minus(self, o: Counts) -> Counts {
        Counts {
            total: self.total.saturating_sub(o.total),
            negative: self.negative.saturating_sub(o.negative),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Sec {
    t: i64,
    count: Counts,
    /// Running total up to and including this second.
    cum: Counts,
}

/// Counts of one watch.
#[derive(Debug, Clone, Default)]
pub(crate) struct Series {
    secs: VecDeque<Sec>,
    hours: VecDeque<Counts>,
    /// Hour index (unix hour) of `hours[0]`.
    hour0: i64,
    /// Earliest second with data still within the horizon.
    first: Option<i64>,
    /// Latest second pruned from the one-second view, if any: windows
    /// starting before it are not exact.
    pruned: Option<i64>,
}

impl Series {
    /// Records `c` mentions published at unix second `t`.
    pub(crate) fn add(&mut self, t: i64, c: Counts) {
        if c.total == 0 {
            return;
        }
        if !self.add_hour(t.div_euclid(3600), c) {
            return;
        }
        self.first = Some(self.first.map_or(t, |f| f.min(t)));
        self.add_second(t, c);
    }

    /// Restores a persisted minute bucket. The one-second view gets the
    /// count at the minute's first second: after a restart, windows shorter
    /// than a minute are approximate for the minutes before it.
    pub(crate) fn restore_minute(&mut self, minute: i64, c: Counts) {
        self.add(minute * 60, c);
    }

    fn add_second(&mut self, t: i64, c: Counts) {
        match self.secs.back() {
            None => self.secs.push_back(Sec {
                t,
                count: c,
                cum: c,
            }),
            Some(b) if b.t < t => {
                let mut cum = b.cum;
                cum.add(c);
                self.secs.push_back(Sec { t, count: c, cum });
            }
            Some(_) => {
                // Late: older than the newest second. Insert, then shift the
                // running totals after it (bounded by the span).
                let i = self.secs.partition_point(|s| s.t < t);
                if self.secs[i].t == t {
                    self.secs[i].count.add(c);
                    self.secs[i].cum.add(c);
                } else {
                    let mut cum = if i == 0 {
                        self.secs[0].cum.minus(self.secs[0].count)
                    } else {
                        self.secs[i - 1].cum
                    };
                    cum.add(c);
                    self.secs.insert(i, Sec { t, count: c, cum });
                }
                for s in self.secs.iter_mut().skip(i + 1) {
                    s.cum.add(c);
                }
            }
        }
    }

    /// Adds to the hour bucket; false when the hour is beyond the horizon.
    fn add_hour(&mut self, h: i64, c: Counts) -> bool {
        if self.hours.is_empty() {
            self.hour0 = h;
            self.hours.push_back(c);
            return true;
        }
        let newest = self.hour0 + self.hours.len() as i64 - 1;
        if h < newest - HORIZON_HOURS {
            return false;
        }
        while h < self.hour0 {
            self.hours.push_front(Counts::default());
            self.hour0 -= 1;
        }
        while h > self.hour0 + self.hours.len() as i64 - 1 {
            self.hours.push_back(Counts::default());
        }
        self.hours[(h - self.hour0) as usize].add(c);
        while self.hours.len() as i64 > HORIZON_HOURS + 1 {
            self.hours.pop_front();
            self.hour0 += 1;
        }
        let horizon_start = self.hour0 * 3600;
        if self.first.is_some_and(|f| f < horizon_start) {
            self.first = Some(horizon_start);
        }
        true
    }

    /// Running total of the seconds at or before `t`, relative to the span:
    /// `window(from, to)` is `cum_at(to).minus(cum_at(from))`.
    pub(crate) fn cum_at(&self, t: i64) -> Counts {
        self.cum_at_index(self.after(t, self.secs.len()))
    }

    /// [`Series::cum_at`], searching from `hint` (where the same window
    /// edge was at the previous evaluation) and leaving the index found
    /// there: a sliding window edge moves a few buckets per evaluation.
    pub(crate) fn cum_at_near(&self, t: i64, hint: &std::cell::Cell<usize>) -> Counts {
        let i = self.after(t, hint.get());
        hint.set(i);
        self.cum_at_index(i)
    }

    /// The running total before bucket `i`.
    fn cum_at_index(&self, i: usize) -> Counts {
        if i == 0 {
            self.secs
                .front()
                .map_or(Counts::default(), |f| f.cum.minus(f.count))
        } else {
            self.secs[i - 1].cum
        }
    }

    /// The index of the first one-second bucket after `t` (the
    /// `partition_point` of `s.t <= t`), galloping from index `hint` then
    /// bisecting: the windows detection reads end at or near the newest
    /// second and their starts slide forward a few buckets per evaluation,
    /// in a span that can hold a month of seconds (a backtest never
    /// prunes). Any hint gives the same answer; a close one is faster.
    fn after(&self, t: i64, hint: usize) -> usize {
        let n = self.secs.len();
        let h = hint.min(n);
        // Invariant: every bucket before `lo` is at or before `t`, every
        // bucket from `hi` on is after it.
        let (mut lo, mut hi) = (0, n);
        let mut step = 1;
        if h < n && self.secs[h].t <= t {
            lo = h + 1;
            while h + step < n {
                if self.secs[h + step].t <= t {
                    lo = h + step + 1;
                    step *= 2;
                } else {
                    hi = h + step;
                    break;
                }
            }
        } else {
            hi = h;
            while hi > 0 {
                let probe = h.saturating_sub(step);
                if self.secs[probe].t <= t {
                    lo = probe + 1;
                    break;
                }
                hi = probe;
                step *= 2;
            }
        }
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.secs[mid].t <= t {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Counts published in the half-open second range `(from, to]`. Exact
    /// while `from` is within the one-second span (see [`Series::prune`]).
    pub(crate) fn window(&self, from: i64, to: i64) -> Counts {
        if from >= to || self.secs.is_empty() {
            return Counts::default();
        }
        self.cum_at(to).minus(self.cum_at(from))
    }

    /// Counts of the unix hour `h` (zero outside the horizon).
    pub(crate) fn hour(&self, h: i64) -> Counts {
        if h < self.hour0 {
            return Counts::default();
        }
        self.hours
            .get((h - self.hour0) as usize)
            .copied()
            .unwrap_or_default()
    }

    /// Counts published in `[from, to)`, from the hourly buckets for whole
    /// hours and the one-second span for the rest (approximate for partial
    /// hours older than the span).
    pub(crate) fn range(&self, from: i64, to: i64) -> Counts {
        let mut c = Counts::default();
        if from >= to {
            return c;
        }
        let h_from = (from + 3599).div_euclid(3600);
        let h_to = to.div_euclid(3600);
        if h_from >= h_to {
            return self.window(from - 1, to - 1);
        }
        for h in h_from..h_to {
            c.add(self.hour(h));
        }
        c.add(self.window(from - 1, h_from * 3600 - 1));
        c.add(self.window(h_to * 3600 - 1, to - 1));
        c
    }

    /// The earliest second with data within the horizon, if any.
    pub(crate) fn first(&self) -> Option<i64> {
        self.first
    }

    /// Drops one-second buckets at or before `before_sec`.
    pub(crate) fn prune(&mut self, before_sec: i64) {
        while self.secs.front().is_some_and(|s| s.t <= before_sec) {
            self.secs.pop_front();
        }
        self.pruned = Some(self.pruned.map_or(before_sec, |p| p.max(before_sec)));
    }

    /// Whether [`Series::window`] from `from` is exact (nothing after `from`
    /// has been pruned from the one-second view).
    pub(crate) fn exact_from(&self, from: i64) -> bool {
        self.pruned.is_none_or(|p| from >= p)
    }

    /// One-second buckets held (for tests and bounds).
    pub(crate) fn span_len(&self) -> usize {
        self.secs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(neg: bool) -> Counts {
        Counts {
            total: 1,
            negative: u64::from(neg),
        }
    }

    #[test]
    fn windows_and_hours_sum_the_right_buckets() {
        let mut s = Series::default();
        for t in [0, 59, 60, 61, 3600] {
            s.add(t, one(t == 60));
        }
        let check = |s: &Series, from, to, total| assert_eq!(s.window(from, to).total, total);
        check(&s, -1, 59, 2);
        check(&s, 0, 60, 2);
        assert_eq!(s.window(0, 60).negative, 1);
        check(&s, -1, 5000, 5);
        check(&s, 61, 3599, 0);
        assert_eq!(s.hour(0).total, 4);
        assert_eq!(s.hour(1).total, 1);
        assert_eq!(s.first(), Some(0));
        assert_eq!(s.range(0, 3601).total, 5);
        assert_eq!(s.range(60, 3600).total, 2);
        s.prune(59);
        check(&s, 59, 5000, 3);
    }

    #[test]
    fn search_from_any_hint_finds_the_same_bucket() {
        let mut s = Series::default();
        for k in 0..300_i64 {
            s.add(k * 7 + (k % 3), one(false));
        }
        let n = s.secs.len();
        for t in -5..2200 {
            let expected = s.secs.partition_point(|b| b.t <= t);
            for hint in [0, 1, n / 3, n / 2, n - 1, n, n + 10, expected] {
                assert_eq!(s.after(t, hint), expected, "t {t} hint {hint}");
            }
            let cell = std::cell::Cell::new(n / 2);
            assert_eq!(s.cum_at_near(t, &cell), s.cum_at(t));
            assert_eq!(cell.get(), expected);
        }
    }

    #[test]
    fn late_mentions_shift_later_running_totals() {
        let mut s = Series::default();
        for t in [10, 20, 30] {
            s.add(t, one(false));
        }
        s.add(15, one(true));
        s.add(20, one(false));
        assert_eq!(s.window(9, 30).total, 5);
        assert_eq!(s.window(14, 20).total, 3);
        assert_eq!(s.window(15, 30).total, 3);
        assert_eq!(s.window(10, 15).negative, 1);
        s.prune(12);
        s.add(5, one(false));
        assert_eq!(s.window(12, 30).total, 4);
        assert_eq!(s.window(4, 30).total, 5);
        assert_eq!(s.hour(0).total, 6);
    }

    #[test]
    fn hours_beyond_the_horizon_are_dropped() {
        let mut s = Series::default();
        s.add(0, one(false));
        s.add((HORIZON_HOURS + 10) * 3600, one(false));
        assert_eq!(s.hour(0).total, 0);
        assert_eq!(s.first(), Some(10 * 3600));
        s.add(3600, one(false));
        assert_eq!(s.hour(1).total, 0, "too old to count");
    }
}
