//! When digests are due, and the daemon task that queues them.
//!
//! A channel's `digest` key is `"daily HH:MM"` or `"weekly DAY HH:MM"`
//! (`mon` … `sun`), in the channel's time zone (its `timezone`, else the
//! daemon's, else UTC; [`Schedule::tz`]). The conversion lives in one
//! function pair ([`local_to_utc`], [`utc_to_local`]): a wall-clock time
//! that occurs twice (autumn) is the first one, one that does not occur
//! (spring) is the same time an hour later.
//!
//! The period of a digest is the day or the week before its due time. At
//! each due time, [`queue_due`] computes the digest and queues it in the
//! durable outbox with the channel's mark in one transaction: a restart
//! sends a missed digest once (the latest one owed, not every one missed)
//! and never one twice. The first start of a channel owes nothing.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
    Weekday,
};
use chrono_tz::Tz;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::alert::Notification;
use crate::rules::RuleSet;
use crate::store::MentionSearch;
use crate::store::state::StateStore;
use crate::store::state::outbox::Entry;

/// When a channel's digest is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// `None`: every day.
    pub weekday: Option<Weekday>,
    pub time: NaiveTime,
    /// The zone `time` is read in.
    pub tz: Tz,
}

const DAY: Duration = Duration::from_secs(86_400);

impl Schedule {
    /// Parses `daily 08:30` or `weekly mon 08:30`.
    pub fn parse(s: &str) -> Result<Schedule, String> {
        let words: Vec<&str> = s.split_whitespace().collect();
        let bad = || {
            format!(
                "invalid digest schedule `{s}`: expected \"daily HH:MM\" or \"weekly DAY HH:MM\" (DAY: mon … sun)"
            )
        };
        let (weekday, time) = match words.as_slice() {
            ["daily", t] => (None, t),
            ["weekly", d, t] => (Some(d.parse::<Weekday>().map_err(|_| bad())?), t),
            _ => return Err(bad()),
        };
        let time = NaiveTime::parse_from_str(time, "%H:%M").map_err(|_| bad())?;
        Ok(Schedule {
            weekday,
            time,
            tz: Tz::UTC,
        })
    }

    /// The same schedule read in `tz`.
    pub fn in_zone(self, tz: Tz) -> Schedule {
        Schedule { tz, ..self }
    }

    /// The length of the period a digest covers: a day or a week.
    pub fn period(&self) -> Duration {
        if self.weekday.is_some() { DAY * 7 } else { DAY }
    }

    /// Due times around `t`: local dates from 8 days before to 8 after.
    fn around(&self, t: DateTime<Utc>) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        let d0 = utc_to_local(t, self.tz).date();
        (0..=16u64).filter_map(move |k| {
            let d: NaiveDate = d0
                .checked_sub_days(Days::new(8))?
                .checked_add_days(Days::new(k))?;
            if self.weekday.is_some_and(|w| d.weekday() != w) {
                return None;
            }
            Some(local_to_utc(d.and_time(self.time), self.tz))
        })
    }

    /// The latest due time at or before `now`.
    pub fn last_due(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        self.around(now).filter(|&t| t <= now).max().unwrap_or(now)
    }

    /// The first due time after `now`.
    pub fn next_due(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        self.around(now)
            .filter(|&t| t > now)
            .min()
            .unwrap_or(now + chrono::Duration::days(1))
    }
}

/// A wall-clock time of `tz`, in UTC: the first of two (the hour that
/// repeats when clocks go back), or an hour later when it does not exist
/// (the hour skipped when clocks go forward).
pub fn local_to_utc(local: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        LocalResult::None => match tz.from_local_datetime(&(local + chrono::Duration::hours(1))) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
            // No zone skips two hours in a row; UTC is a sane last resort.
            LocalResult::None => local.and_utc(),
        },
    }
}

/// The wall-clock time of `tz` at `t`.
pub fn utc_to_local(t: DateTime<Utc>, tz: Tz) -> NaiveDateTime {
    t.with_timezone(&tz).naive_local()
}

/// What the daemon's digest task needs.
pub struct DigestTask {
    /// (channel, schedule) of every channel with a `digest` key.
    pub channels: Vec<(String, Schedule)>,
    /// Rules are read from here at each digest (they are hot-reloaded).
    pub rules_dir: PathBuf,
    pub state: Arc<StateStore>,
    pub index: Arc<dyn MentionSearch>,
    /// Woken once a digest is queued.
    pub wake: Arc<Notify>,
}

/// Queues the digest owed to `channel` at `now`, if any: the one of the
/// latest due time, unless it was queued already. At a channel's first
/// due check nothing is owed (only the mark is written). Returns the end of
/// the period queued. Blocking (reads the index, fsyncs).
pub fn queue_due(
    channel: &str,
    schedule: &Schedule,
    rules: &RuleSet,
    state: &StateStore,
    index: &dyn MentionSearch,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<DateTime<Utc>>> {
    let due = schedule.last_due(now);
    match state.digests().last(channel)? {
        None => {
            state.digests().queue(channel, due, &[])?;
            return Ok(None);
        }
        Some(last) if last >= due => return Ok(None),
        Some(_) => {}
    }
    let period = schedule.period();
    let len = chrono::Duration::from_std(period)?;
    let alerts = state.silences().events_between(due - len, due)?;
    let digest = super::compute(rules, index, &alerts, due, period)?;
    let entry = Entry::new(
        Notification::Digest(Box::new(digest)),
        channel,
        now.timestamp_millis(),
    );
    state.digests().queue(channel, due, &[entry])?;
    Ok(Some(due))
}

/// Queues each channel's digest when due, until `shutdown`.
pub async fn run(task: DigestTask, shutdown: CancellationToken) {
    if task.channels.is_empty() {
        return;
    }
    let task = Arc::new(task);
    loop {
        let now = Utc::now();
        let t = task.clone();
        let queued = tokio::task::spawn_blocking(move || {
            let rules = crate::rules::load_dir(&t.rules_dir, None).map_err(|d| {
                anyhow::anyhow!("invalid rules ({} problems): digest postponed", d.len())
            })?;
            let mut queued = Vec::new();
            for (ch, s) in &t.channels {
                match queue_due(ch, s, &rules, &t.state, t.index.as_ref(), now) {
                    Ok(Some(end)) => queued.push((ch.clone(), end)),
                    Ok(None) => {}
                    Err(e) => warn!(channel = %ch, error = format!("{e:#}"), "digest failed"),
                }
            }
            anyhow::Ok(queued)
        })
        .await;
        match queued {
            Ok(Ok(q)) if !q.is_empty() => {
                for (ch, end) in q {
                    info!(channel = %ch, end = %end.to_rfc3339(), "digest queued");
                }
                task.wake.notify_one();
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => warn!(error = format!("{e:#}"), "digest failed"),
            Err(e) => warn!(error = %e, "digest task panicked"),
        }
        let next = task
            .channels
            .iter()
            .map(|(_, s)| s.next_due(now))
            .min()
            .unwrap_or(now + chrono::Duration::days(1));
        // Woken a second late at most; a clock jump is caught at the next
        // wake-up (the due time is recomputed from the clock).
        let wait = (next - Utc::now()).to_std().unwrap_or_default() + Duration::from_secs(1);
        tokio::select! {
            _ = tokio::time::sleep(wait.min(DAY)) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn schedules_parse_and_refuse_with_the_expected_shape() {
        let d = Schedule::parse("daily 08:30").unwrap();
        assert_eq!((d.weekday, d.period()), (None, DAY));
        let w = Schedule::parse("weekly mon 08:30").unwrap();
        assert_eq!((w.weekday, w.period()), (Some(Weekday::Mon), DAY * 7));
        for bad in [
            "",
            "daily",
            "daily 25:00",
            "weekly 08:30",
            "weekly xyz 08:30",
            "hourly 08:30",
        ] {
            let e = Schedule::parse(bad).unwrap_err();
            assert!(e.contains("expected \"daily HH:MM\""), "{bad}: {e}");
        }
    }

    #[test]
    fn due_times_are_the_latest_before_and_the_first_after_now() {
        let d = Schedule::parse("daily 08:30").unwrap();
        let now = t("2026-03-03T08:29:59Z");
        assert_eq!(d.last_due(now), t("2026-03-02T08:30:00Z"));
        assert_eq!(d.next_due(now), t("2026-03-03T08:30:00Z"));
        assert_eq!(
            d.last_due(t("2026-03-03T08:30:00Z")),
            t("2026-03-03T08:30:00Z")
        );
        // 2026-03-03 is a Tuesday.
        let w = Schedule::parse("weekly mon 08:30").unwrap();
        assert_eq!(w.last_due(now), t("2026-03-02T08:30:00Z"));
        assert_eq!(w.next_due(now), t("2026-03-09T08:30:00Z"));
        assert_eq!(
            w.next_due(t("2026-03-02T08:00:00Z")),
            t("2026-03-02T08:30:00Z")
        );
    }

    #[test]
    fn due_times_follow_the_channel_zone_and_its_clock_changes() {
        let paris = chrono_tz::Europe::Paris;
        let d = Schedule::parse("daily 08:30").unwrap().in_zone(paris);
        // Winter: 08:30 in Paris is 07:30 UTC; summer: 06:30 UTC.
        assert_eq!(
            d.last_due(t("2026-03-03T08:00:00Z")),
            t("2026-03-03T07:30:00Z")
        );
        assert_eq!(
            d.next_due(t("2026-07-14T05:00:00Z")),
            t("2026-07-14T06:30:00Z")
        );
        // Clocks go forward on 2026-03-29 at 02:00: 02:30 does not exist.
        let gap = Schedule::parse("daily 02:30").unwrap().in_zone(paris);
        assert_eq!(
            gap.next_due(t("2026-03-28T23:00:00Z")),
            t("2026-03-29T01:30:00Z")
        );
        // Back on 2026-10-25 at 03:00: 02:30 happens twice, the first counts.
        assert_eq!(
            gap.next_due(t("2026-10-24T23:00:00Z")),
            t("2026-10-25T00:30:00Z")
        );
        let w = Schedule::parse("weekly mon 08:30").unwrap().in_zone(paris);
        assert_eq!(
            w.last_due(t("2026-03-03T08:00:00Z")),
            t("2026-03-02T07:30:00Z")
        );
    }
}
