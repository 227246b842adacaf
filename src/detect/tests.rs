//! Detector tests: one per alert kind and per lifecycle transition seen
//! through the detector, with injected time.

use super::*;
use crate::rules::{Query, Watch};

fn rules(alerts: Vec<AlertRule>) -> RuleSet {
    RuleSet {
        watches: vec![Watch {
            name: "acme".into(),
            query: crate::rules::query::parse("acme").unwrap(),
            exclude: None::<Query>,
            languages: vec![],
            sources: vec![],
            tags: vec![],
            alerts,
            path: "acme.toml".into(),
        }],
    }
}

fn spike(window: u64, min: u64, cooldown: u64) -> AlertRule {
    let mut r = AlertRule::with_defaults("spike", AlertKind::VolumeSpike);
    r.window = Duration::from_secs(window);
    r.min_mentions = min;
    r.severity = "critical".into();
    r.notify = vec!["mail".into()];
    r.cooldown = Duration::from_secs(cooldown);
    r.early_warning = false;
    r
}

fn at(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()
}

fn mention(t: i64, neg: bool) -> Mention {
    Mention {
        id: format!("m{t}-{neg}"),
        source: if neg { "forum" } else { "feed" }.into(),
        url: format!("https://ex.org/{t}"),
        title: if neg { "acme panne" } else { "acme offre" }.into(),
        text: "acme service client".into(),
        author: "a".into(),
        author_followers: Some(t.unsigned_abs()),
        published: at(t),
        lang: Some("fr".into()),
        sentiment: Some(if neg { -0.8 } else { 0.2 }),
        watches: vec!["acme".into()],
    }
}

fn feed(d: &mut Detector, ms: &[Mention]) -> Vec<Transition> {
    let items: Vec<(usize, &Mention)> = ms.iter().map(|m| (0, m)).collect();
    d.ingest(&items)
}

/// A quiet baseline of one mention a minute for `hours`, ending at 0.
fn quiet(d: &mut Detector, hours: i64) {
    let ms: Vec<Mention> = (1..=hours * 60)
        .rev()
        .map(|k| mention(-k * 60, false))
        .collect();
    assert!(feed(d, &ms).is_empty(), "quiet baseline fired");
}

/// `n` mentions, one every `every` seconds from `from`.
fn burst(from: i64, n: i64, every: i64, neg: bool) -> Vec<Mention> {
    (1..=n).map(|k| mention(from + k * every, neg)).collect()
}

#[test]
fn volume_spike_fires_once_with_an_explanation() {
    let mut d = Detector::new(&rules(vec![spike(600, 10, 3600)]));
    quiet(&mut d, 6);
    let fired = feed(&mut d, &burst(0, 60, 5, true));
    assert_eq!(fired.len(), 1, "{fired:#?}");
    let ev = &fired[0].event;
    assert_eq!(ev.state, AlertState::Firing);
    assert_eq!(ev.stage, Stage::Threshold);
    assert_eq!(ev.watch, "acme");
    // Baseline is one a minute: 10 expected in a 10-minute window.
    assert!((ev.expected - 10.0).abs() < 1.5, "{}", ev.expected);
    assert!(ev.observed >= 30 && ev.factor >= 3.0, "{ev:?}");
    assert!(ev.tail_probability.is_some_and(|p| p <= 1e-6), "{ev:?}");
    assert!(ev.negative_share > 0.5);
    assert!(ev.negative_share_usual < 0.1);
    assert_eq!(fired[0].notify, vec!["mail"]);
    assert!(!ev.top_mentions.is_empty());
    assert!(
        ev.top_terms.iter().any(|t| t == "panne"),
        "{:?}",
        ev.top_terms
    );
    assert!(!ev.top_terms.iter().any(|t| t == "acme"));
    assert!(
        ev.emerging_terms.iter().any(|t| t.term == "panne"),
        "{:?}",
        ev.emerging_terms
    );
    assert_eq!(ev.sources[0].source, "forum");
    // `at` is the event time of the mention that made it fire.
    assert!(ev.at <= at(300) && ev.at > at(0));
    assert_eq!(ev.window_secs, 600);
}

#[test]
fn low_volume_noise_does_not_fire() {
    // Two mentions an hour, then five in ten minutes: 30× the rate but
    // under min_mentions and not improbable enough.
    let mut d = Detector::new(&rules(vec![spike(600, 5, 3600)]));
    let ms: Vec<Mention> = (1..=48).rev().map(|k| mention(-k * 1800, false)).collect();
    feed(&mut d, &ms);
    assert!(feed(&mut d, &burst(0, 4, 60, true)).is_empty());
}

#[test]
fn backlog_of_a_week_does_not_fire() {
    let mut d = Detector::new(&rules(vec![spike(3600, 20, 3600)]));
    // 30 mentions a day for 7 days, arriving all at once.
    let ms: Vec<Mention> = (1..=7 * 30).map(|k| mention(-k * 2880, false)).collect();
    assert!(feed(&mut d, &ms).is_empty());
    assert!(d.evaluate(at(0)).is_empty());
}

#[test]
fn no_fire_during_warmup() {
    let mut d = Detector::new(&rules(vec![spike(600, 10, 3600)]));
    // Two hours of history: less than the 4 h warm-up of a 10-minute window.
    let ms: Vec<Mention> = (1..=120).rev().map(|k| mention(-k * 60, false)).collect();
    feed(&mut d, &ms);
    assert!(feed(&mut d, &burst(0, 60, 5, true)).is_empty());
}

#[test]
fn resolves_after_the_spike_then_cooldown_blocks_refire() {
    let mut d = Detector::new(&rules(vec![spike(600, 10, 7200)]));
    quiet(&mut d, 6);
    let mut evs = feed(&mut d, &burst(0, 60, 5, true));
    // Quiet again: resolves once the condition has been off for resolve_after.
    evs.extend(d.advance(at(3000)));
    assert_eq!(evs.len(), 2, "{evs:#?}");
    assert_eq!(evs[1].event.state, AlertState::Resolved);
    // The window empties at 900; 15 minutes later, on the minute grid.
    let t = evs[1].event.at.timestamp() - 1_700_000_000;
    assert!((900..=900 + 900 + 60).contains(&t), "{t}");
    assert!(
        evs[1].notify.is_empty(),
        "resolved is not notified by default"
    );
    // A second spike inside the cooldown does not fire.
    assert!(feed(&mut d, &burst(3000, 60, 5, true)).is_empty());
}

#[test]
fn negative_share_condition_blocks_positive_spikes() {
    let mut rule = spike(600, 10, 3600);
    rule.negative_share = Some(0.5);
    let mut d = Detector::new(&rules(vec![rule]));
    quiet(&mut d, 6);
    assert!(feed(&mut d, &burst(0, 60, 5, false)).is_empty());
}

#[test]
fn negative_surge_fires_when_negatives_surge_at_the_same_volume() {
    let mut r = AlertRule::with_defaults("neg", AlertKind::NegativeSurge);
    r.window = Duration::from_secs(1800);
    r.early_warning = false;
    let mut d = Detector::new(&rules(vec![r]));
    // A day at two a minute, 5 % negative.
    let ms: Vec<Mention> = (1..=24 * 120)
        .rev()
        .map(|k| mention(-k * 30, k % 20 == 0))
        .collect();
    assert!(feed(&mut d, &ms).is_empty());
    // Same volume, now 60 % negative.
    let ms: Vec<Mention> = (1..=60).map(|k| mention(k * 30, k % 5 < 3)).collect();
    let fired = feed(&mut d, &ms);
    assert_eq!(fired.len(), 1, "{fired:#?}");
    let ev = &fired[0].event;
    assert_eq!(ev.kind, "negative_surge");
    assert!(ev.negative_share > 3.0 * ev.negative_share_usual, "{ev:?}");
}

#[test]
fn keyword_fires_on_its_query_and_is_rate_limited() {
    let mut r = AlertRule::with_defaults("crisis", AlertKind::Keyword);
    r.query = Some(crate::rules::query::parse("boycott OR scandale").unwrap());
    r.window = Duration::from_secs(600);
    r.cooldown = Duration::from_secs(3600);
    r.resolve_after = Duration::from_secs(60);
    let mut d = Detector::new(&rules(vec![r]));
    let mut m = mention(0, true);
    m.text = "appel au boycott de acme".into();
    assert!(feed(&mut d, &[mention(-10, false)]).is_empty());
    let fired = feed(&mut d, &[m.clone()]);
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].event.kind, "keyword");
    assert_eq!(fired[0].event.top_mentions[0].url, m.url);
    // Resolves once the match leaves the window, and the cooldown holds.
    let evs = d.advance(at(1000));
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].event.state, AlertState::Resolved);
    m.published = at(1200);
    m.url = "https://ex.org/again".into();
    assert!(feed(&mut d, &[m.clone()]).is_empty(), "rate-limited");
    m.published = at(3700);
    assert_eq!(feed(&mut d, &[m]).len(), 1, "after the cooldown");
}

#[test]
fn influencer_fires_on_reach() {
    let mut r = AlertRule::with_defaults("vip", AlertKind::Influencer);
    r.min_reach = 100_000;
    let mut d = Detector::new(&rules(vec![r]));
    let mut small = mention(0, false);
    small.author_followers = Some(99_999);
    assert!(feed(&mut d, &[small]).is_empty());
    let mut big = mention(10, true);
    big.author_followers = Some(250_000);
    big.author = "@star".into();
    let fired = feed(&mut d, &[big]);
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].event.top_mentions[0].author, "@star");
    assert_eq!(fired[0].event.top_mentions[0].reach, 250_000);
}

#[test]
fn early_warning_then_escalation_to_the_rule_severity() {
    let mut r = spike(1200, 20, 7200);
    r.early_warning = true;
    let mut d = Detector::new(&rules(vec![r]));
    quiet(&mut d, 10);
    // Accelerating: 1, then 2, 4, 8, 16 a minute.
    let mut ms = Vec::new();
    let mut t = 0;
    for (minutes, per_minute) in [(5, 1), (5, 2), (5, 4), (5, 8), (10, 16)] {
        for _ in 0..minutes {
            for k in 0..per_minute {
                ms.push(mention(t + 1 + k * (60 / per_minute), true));
            }
            t += 60;
        }
    }
    let fired = feed(&mut d, &ms);
    let stages: Vec<(Stage, &str)> = fired
        .iter()
        .map(|t| (t.event.stage, t.event.severity.as_str()))
        .collect();
    assert_eq!(
        stages[..2],
        [
            (Stage::EarlyWarning, "warning"),
            (Stage::Threshold, "critical")
        ],
        "{fired:#?}"
    );
    assert!(fired[0].event.at < fired[1].event.at);
}

#[test]
fn pending_for_delays_firing() {
    let mut r = spike(600, 10, 3600);
    r.pending_for = Duration::from_secs(120);
    let mut d = Detector::new(&rules(vec![r]));
    quiet(&mut d, 6);
    let fired = feed(&mut d, &burst(0, 60, 5, true));
    assert_eq!(fired.len(), 1);
    let first_holding = 5 * 30;
    let t = fired[0].event.at.timestamp() - 1_700_000_000;
    assert!(t >= first_holding && t <= 300, "{t}");
}

#[test]
fn grouped_alerts_of_one_watch_notify_once() {
    let mut a = spike(600, 10, 3600);
    a.name = "a".into();
    let mut b = spike(600, 10, 3600);
    b.name = "b".into();
    b.notify = vec!["hook".into()];
    let mut d = Detector::new(&rules(vec![a, b]));
    quiet(&mut d, 6);
    let fired = feed(&mut d, &burst(0, 60, 5, true));
    assert_eq!(fired.len(), 2);
    let notified: Vec<&Transition> = fired.iter().filter(|t| !t.notify.is_empty()).collect();
    assert_eq!(notified.len(), 1, "{fired:#?}");
    assert_eq!(notified[0].notify, vec!["mail", "hook"]);
    assert_eq!(notified[0].event.related.len(), 1);
}

#[test]
fn restored_records_prevent_refiring() {
    let mut d = Detector::new(&rules(vec![spike(600, 10, 3600)]));
    quiet(&mut d, 6);
    let fired = feed(&mut d, &burst(0, 60, 5, true));
    let t = &fired[0];
    let stored: HashMap<String, Vec<u8>> =
        [(t.record_key.clone(), serde_json::to_vec(&t.record).unwrap())].into();
    let mut d2 = Detector::new(&rules(vec![spike(600, 10, 3600)]));
    assert!(d2.restore(&[], &stored).is_empty());
    let ms: Vec<Mention> = (1..=6 * 60)
        .rev()
        .map(|k| mention(-k * 60, false))
        .collect();
    feed(&mut d2, &ms);
    let evs = feed(&mut d2, &burst(0, 60, 5, true));
    assert!(evs.iter().all(|e| e.event.state != AlertState::Firing));
}

#[test]
fn ingest_counts_and_mentions_take_the_same_decisions() {
    let rs = rules(vec![spike(600, 10, 3600)]);
    let mut a = Detector::new(&rs);
    let mut b = Detector::new(&rs);
    let mut ms: Vec<Mention> = (1..=6 * 60)
        .rev()
        .map(|k| mention(-k * 60, false))
        .collect();
    ms.extend(burst(0, 60, 5, true));
    let by_mention = feed(&mut a, &ms);
    let mut by_count = Vec::new();
    for m in &ms {
        by_count.extend(b.ingest_counts(0, m.published.timestamp(), 1, u64::from(m.is_negative())));
    }
    let key = |t: &Transition| (t.event.state, t.event.at, t.event.observed);
    assert_eq!(
        by_mention.iter().map(key).collect::<Vec<_>>(),
        by_count.iter().map(key).collect::<Vec<_>>()
    );
    assert_eq!(by_mention.len(), 1);
}

#[test]
fn a_bursty_backlog_fills_history_live_but_a_backtest_sees_its_spike() {
    // Six quiet hours, a burst, then an hour of quiet: all published before
    // the data arrives at `now`.
    let mut backlog: Vec<Mention> = (1..=6 * 60)
        .rev()
        .map(|k| mention(-k * 60, false))
        .collect();
    backlog.extend(burst(0, 60, 5, true));
    backlog.extend((1..=60).map(|k| mention(300 + k * 60, false)));
    let now = at(300 + 61 * 60);
    let items: Vec<(usize, &Mention)> = backlog.iter().map(|m| (0, m)).collect();

    let mut live = Detector::new(&rules(vec![spike(600, 10, 3600)]));
    let fired = live.ingest_live(&items, now);
    assert!(
        fired.is_empty(),
        "the daemon alerted about the past: {fired:#?}"
    );

    let mut replay = Detector::new(&rules(vec![spike(600, 10, 3600)]));
    let fired = replay.ingest(&items);
    assert!(
        fired.iter().any(|t| t.event.state == AlertState::Firing),
        "the backtest sees the historical spike"
    );

    // A burst arriving live after the backlog still fires.
    let fresh = burst(300 + 61 * 60, 60, 5, true);
    let items: Vec<(usize, &Mention)> = fresh.iter().map(|m| (0, m)).collect();
    let fired = live.ingest_live(&items, at(300 + 61 * 60 + 300));
    assert!(
        fired.iter().any(|t| t.event.state == AlertState::Firing),
        "{fired:#?}"
    );
}
