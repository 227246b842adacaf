//! Every limit of `veilleur::limits`, one test each: input just over the
//! limit is refused with a clear error that says where (file:line:col or a
//! line number), or cut and counted, and never panics; input at the limit
//! still works. Query depth and length have their own file
//! (tests/hostile_rules.rs).

mod common;

use std::path::Path;
use std::process::Command;

use common::{FeedServer, Page, metric, start_daemon};
use veilleur::limits::{
    MAX_DURATION, MAX_ITEMS_PER_FETCH, MAX_JSON_DEPTH, MAX_MENTION_TEXT_BYTES, MAX_QUERY_DEPTH,
    MAX_RULE_FILE_BYTES, MAX_WATCHES,
};

const BIN: &str = env!("CARGO_BIN_EXE_veilleur");

fn watch(name: &str) -> String {
    format!("[watch]\nname = \"{name}\"\nquery = \"acme\"\n")
}

/// Every diagnostic of a refusal, as a person reads them.
macro_rules! rendered {
    ($diags:expr) => {
        $diags
            .iter()
            .map(|d| d.render())
            .collect::<Vec<_>>()
            .join("\n")
    };
}

#[test]
fn rule_file_over_the_size_limit_is_refused_where_it_crosses_it() {
    let dir = tempfile::tempdir().unwrap();
    // Comment lines of 100 bytes: the limit falls on a known line.
    let line = format!("#{}\n", "x".repeat(98));
    let lines = MAX_RULE_FILE_BYTES as usize / line.len() + 1;
    let mut big = watch("big");
    big.push_str(&line.repeat(lines));
    std::fs::write(dir.path().join("big.toml"), &big).unwrap();
    std::fs::write(dir.path().join("ok.toml"), watch("ok")).unwrap();

    let diags = veilleur::rules::load_dir(dir.path(), None).unwrap_err();
    assert_eq!(diags.len(), 1, "{}", rendered!(diags));
    let d = &diags[0];
    assert!(d.path.ends_with("big.toml"));
    assert!(d.message.contains("longer than the limit"), "{}", d.message);
    let header_lines = 3;
    let want_line = header_lines + (MAX_RULE_FILE_BYTES as usize - watch("big").len()) / 100 + 1;
    assert_eq!(d.line, want_line, "{}", d.render());
    assert!(d.col >= 1 && d.col <= 100, "{}", d.render());

    // Just under the limit, the same file loads.
    big.truncate(MAX_RULE_FILE_BYTES as usize);
    let cut = big.rfind('\n').unwrap() + 1;
    big.truncate(cut);
    std::fs::write(dir.path().join("big.toml"), &big).unwrap();
    let rules = veilleur::rules::load_dir(dir.path(), None).unwrap();
    assert_eq!(rules.watches.len(), 2);
}

#[test]
fn rule_file_with_invalid_utf8_is_refused_at_its_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = watch("w").into_bytes();
    bytes.extend_from_slice(b"tags = [\"caf\xe9\"]\n");
    std::fs::write(dir.path().join("w.toml"), bytes).unwrap();
    let diags = veilleur::rules::load_dir(dir.path(), None).unwrap_err();
    assert_eq!(
        (diags[0].line, diags[0].col),
        (4, 13),
        "{}",
        rendered!(diags)
    );
    assert!(diags[0].message.contains("UTF-8"), "{}", rendered!(diags));
}

#[test]
fn more_watches_than_the_limit_names_the_first_file_too_many() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..MAX_WATCHES {
        std::fs::write(
            dir.path().join(format!("w{i:05}.toml")),
            watch(&format!("w{i}")),
        )
        .unwrap();
    }
    let rules = veilleur::rules::load_dir(dir.path(), None).unwrap();
    assert_eq!(rules.watches.len(), MAX_WATCHES, "at the limit: loads");

    std::fs::write(dir.path().join("z.toml"), watch("z")).unwrap();
    let diags = veilleur::rules::load_dir(dir.path(), None).unwrap_err();
    assert_eq!(diags.len(), 1, "{}", rendered!(diags));
    assert!(diags[0].path.ends_with("z.toml"), "{}", rendered!(diags));
    assert!(
        diags[0]
            .message
            .contains(&format!("more than {MAX_WATCHES} watches")),
        "{}",
        rendered!(diags)
    );
}

#[test]
fn durations_above_the_maximum_are_refused_at_their_line_and_column() {
    let max_days = MAX_DURATION.as_secs() / 86_400;
    let config = |interval: &str| {
        format!(
            "[daemon]\ndata_dir = \"d\"\nrules_dir = \"r\"\n\n[[source]]\nname = \"f\"\nkind = \"feed\"\nurl = \"https://example.org/f\"\ninterval = \"{interval}\"\n"
        )
    };
    let path = Path::new("veilleur.toml");
    assert!(veilleur::config::Config::parse(path, &config(&format!("{max_days}d"))).is_ok());
    let diags =
        veilleur::config::Config::parse(path, &config(&format!("{}d", max_days + 1))).unwrap_err();
    assert_eq!(
        (diags[0].line, diags[0].col),
        (9, 12),
        "{}",
        rendered!(diags)
    );
    assert!(
        diags[0].message.contains("longer than the maximum"),
        "{}",
        rendered!(diags)
    );
    // A sum that overflows is "too large", never a panic or a wrap.
    let diags = veilleur::config::Config::parse(
        path,
        &config("10000000000000000000s10000000000000000000s"),
    )
    .unwrap_err();
    assert!(
        diags[0].message.contains("too large"),
        "{}",
        rendered!(diags)
    );

    // The same parser reads rule windows and cooldowns.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("w.toml"),
        format!(
            "{}\n[[alert]]\nname = \"a\"\nkind = \"volume_spike\"\nwindow = \"1h\"\ncooldown = \"{}w\"\n",
            watch("w"),
            max_days / 7 + 1
        ),
    )
    .unwrap();
    let diags = veilleur::rules::load_dir(dir.path(), None).unwrap_err();
    assert_eq!(diags[0].line, 9, "{}", rendered!(diags));
    assert!(
        diags[0].message.contains("longer than the maximum"),
        "{}",
        rendered!(diags)
    );
}

#[test]
fn json_deeper_than_the_limit_is_an_error_not_a_stack_overflow() {
    // Far deeper than any stack would survive if the limit were off.
    for depth in [MAX_JSON_DEPTH + 1, 100_000] {
        let deep = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let err = veilleur::limits::json_from_slice::<serde_json::Value>(deep.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains("recursion limit"), "{err}");
        assert!(err.contains("line 1 column"), "{err}");
    }
    let ok = format!(
        "{}{}",
        "[".repeat(MAX_JSON_DEPTH - 1),
        "]".repeat(MAX_JSON_DEPTH - 1)
    );
    assert!(veilleur::limits::json_from_slice::<serde_json::Value>(ok.as_bytes()).is_ok());

    // A JSON Feed nested that deep in a field nobody reads: skipped without
    // recursion, and the item around it kept.
    let url = url::Url::parse("https://example.org/feed.json").unwrap();
    let feed = format!(
        "{{\"version\":\"https://jsonfeed.org/version/1.1\",\"title\":\"t\",\"items\":[{{\"id\":\"1\",\"url\":\"https://example.org/1\",\"title\":\"acme\",\"x\":{}{}}}]}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let r = veilleur::source::feed::parse_feed("f", &url, feed.as_bytes(), chrono::Utc::now());
    assert_eq!(r.unwrap().len(), 1);
}

#[test]
fn import_survives_deep_lines_and_reports_a_bad_one_by_number() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    std::fs::write(dir.path().join("rules/acme.toml"), watch("acme")).unwrap();
    let config = dir.path().join("veilleur.toml");
    std::fs::write(
        &config,
        "[daemon]\ndata_dir = \"data\"\nrules_dir = \"rules\"\nlisten = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    let line = |n: u32| {
        format!(
            "{{\"url\":\"https://ex.org/{n}\",\"title\":\"Acme {n}\",\"text\":\"acme\",\"published\":\"2026-03-01T10:00:00Z\"}}\n"
        )
    };
    // Deep in a field the format does not have: skipped without recursion.
    let deep_extra = format!(
        "{{\"x\":{}1{},\"url\":\"https://ex.org/2\",\"title\":\"Acme 2\",\"text\":\"acme\",\"published\":\"2026-03-01T10:00:00Z\"}}\n",
        "[".repeat(50_000),
        "]".repeat(50_000)
    );
    // Deep and not a mention at all: an error on its line.
    let deep = format!("{}{}\n", "[".repeat(50_000), "]".repeat(50_000));
    let file = dir.path().join("m.jsonl");
    std::fs::write(&file, format!("{}{deep_extra}{}{deep}", line(1), line(3))).unwrap();
    let out = Command::new(BIN)
        .args(["import", "--config"])
        .arg(&config)
        .arg(&file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("m.jsonl:4: skipped"), "{err}");
    assert!(!err.contains("m.jsonl:2"), "{err}");
    assert_eq!(common::search_json(&config, "acme").len(), 3);
}

#[test]
fn query_nested_past_the_limit_is_refused_at_its_offset() {
    let at = format!(
        "{}a{}",
        "(".repeat(MAX_QUERY_DEPTH),
        ")".repeat(MAX_QUERY_DEPTH)
    );
    assert!(veilleur::rules::query::parse(&at).is_ok());
    let over = format!("({at})");
    let err = veilleur::rules::query::parse(&over).unwrap_err();
    assert!(err.offset <= MAX_QUERY_DEPTH + 1, "{err:?}");
    assert!(err.message.contains("nest"), "{}", err.message);
}

#[test]
fn text_is_cut_at_a_word_break_and_never_inside_a_character() {
    let mut t = "é".repeat(MAX_MENTION_TEXT_BYTES); // two bytes each
    assert!(veilleur::normalize::cut_text(&mut t));
    assert!(t.len() <= MAX_MENTION_TEXT_BYTES && t.len() > MAX_MENTION_TEXT_BYTES - 2);
    assert!(t.chars().all(|c| c == 'é'));

    let mut t = "acme crise ".repeat(MAX_MENTION_TEXT_BYTES / 5);
    assert!(veilleur::normalize::cut_text(&mut t));
    assert!(t.len() <= MAX_MENTION_TEXT_BYTES);
    assert!(
        t.ends_with("acme") || t.ends_with("crise"),
        "{:?}",
        &t[t.len() - 20..]
    );

    let mut t = "x".repeat(MAX_MENTION_TEXT_BYTES);
    assert!(!veilleur::normalize::cut_text(&mut t), "at the limit: kept");
    assert_eq!(t.len(), MAX_MENTION_TEXT_BYTES);
}

fn rss_items(n: usize, long: &str) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>t</title>",
    );
    s.push_str(&format!(
        "<item><title>acme long</title><link>https://example.org/long</link><description>{long}</description></item>"
    ));
    for i in 1..n {
        s.push_str(&format!(
            "<item><title>acme {i}</title><link>https://example.org/{i}</link></item>"
        ));
    }
    s.push_str("</channel></rss>");
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_keeps_the_first_items_of_a_fetch_and_cuts_long_texts_counting_both() {
    veilleur::install_crypto_provider();
    let (feeds, base) = FeedServer::start().await;
    let long = "acme beaucoup trop long ".repeat(MAX_MENTION_TEXT_BYTES / 10);
    feeds.set(
        "big.xml",
        Page::ok(
            "application/rss+xml",
            rss_items(MAX_ITEMS_PER_FETCH + 2, &long),
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    std::fs::write(dir.path().join("rules/acme.toml"), watch("acme")).unwrap();
    let config = dir.path().join("veilleur.toml");
    std::fs::write(
        &config,
        format!(
            "[daemon]\ndata_dir = \"data\"\nrules_dir = \"rules\"\nlisten = \"127.0.0.1:0\"\ncommit_interval = \"200ms\"\n\n[[source]]\nname = \"big\"\nkind = \"feed\"\nurl = \"{base}/big.xml\"\ninterval = \"1h\"\nmax_body_bytes = 50000000\n"
        ),
    )
    .unwrap();
    let d = start_daemon(&config, None).await;
    let text = d
        .metrics_until(
            "veilleur_mentions_ingested_total{source=\"big\"}",
            MAX_ITEMS_PER_FETCH as f64,
        )
        .await;
    let get = |name: &str| metric(&text, &format!("{name}{{source=\"big\"}}"));
    assert_eq!(
        get("veilleur_mentions_ingested_total"),
        Some(MAX_ITEMS_PER_FETCH as f64)
    );
    assert_eq!(
        get("veilleur_source_items_dropped_total"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(get("veilleur_mention_text_cut_total"), Some(1.0), "{text}");
    // Committed before the stop, which then has nothing left to write.
    d.metrics_until("veilleur_index_documents", MAX_ITEMS_PER_FETCH as f64)
        .await;
    d.stop().await;

    let hits = common::search_json(&config, "title:long");
    assert_eq!(hits.len(), 1, "{hits:?}");
    let t = hits[0]["text"].as_str().unwrap();
    assert!(t.len() <= MAX_MENTION_TEXT_BYTES, "{}", t.len());
    let last_word = t.rsplit(' ').next().unwrap();
    assert!(
        ["acme", "beaucoup", "trop", "long"].contains(&last_word),
        "cut inside a word: {last_word:?}"
    );
    // The last items of the feed are the ones dropped.
    let last = MAX_ITEMS_PER_FETCH + 1;
    assert!(common::search_json(&config, &format!("url:example.org/{last}")).is_empty());
}
