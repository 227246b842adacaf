//! End-to-end bench (not CI): the release daemon (`veilleur run`) against
//! the Python reference (`benches/peers/reference.py`) on the same
//! generated corpus and rules, in one run, with the ratios.
//!
//! ```text
//! benches/e2e/run                                   # 10k and 100k items, 1,000 rules
//! benches/e2e/run --items 10000 --rules 100
//! cargo bench --bench e2e -- --items 10000          # veilleur alone (no --python)
//! ```
//!
//! Owns the corpus generator (deterministic: the same seed gives the same
//! feeds and rules; only the dates follow the clock), the feed server (one
//! listener per loopback address, 127.0.0.1 and up, so the per-host rate
//! limit does not pace the run; ETag and 304 like a real feed), the runs
//! and the table. Each side runs under `/usr/bin/time` (wall, CPU, peak
//! RSS of the process), or under `perf record` with `--perf`. Veilleur is
//! done when `veilleur_index_documents` (set after each commit) reaches the
//! corpus size; it then idles `--idle` seconds (still polling its feeds,
//! which answer 304), and is stopped with SIGTERM; then it is restarted on
//! the same data with a realistic poll interval (`--idle-interval`, 15 min)
//! and measured idle again (`--idle` seconds after its first polls). Then
//! `veilleur import` and `veilleur backtest` read the same mentions as JSON
//! lines (no language, sentiment or watches: enrichment and matching are
//! theirs to do). The stage benches' figures (matcher, detection alone)
//! come from `--stages FILE`, their output, which `benches/e2e/run` makes
//! first; the last table has one row per goal of issue 14. The reference fetches,
//! parses, detects the language, scores sentiment, matches and indexes,
//! then commits and exits. Never needed by the tests; nothing leaves
//! loopback.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path as FsPath, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

struct Args {
    items: Vec<usize>,
    rules: usize,
    per_feed: usize,
    interval: String,
    idle: u64,
    /// The poll interval of the idle daemon restarted on the ingested data.
    idle_interval: String,
    python: Option<PathBuf>,
    perf: bool,
    seed: u64,
    /// Output of `cargo bench --bench matcher --bench backtest` (the run
    /// script writes it), for the matcher and detection rows.
    stages: Option<PathBuf>,
    /// `commit_docs` of the daemon (its default when not given).
    commit_docs: Option<usize>,
}

fn args() -> Args {
    let mut a = Args {
        items: vec![10_000],
        rules: 1000,
        per_feed: 100,
        interval: "2s".into(),
        idle: 30,
        idle_interval: "15m".into(),
        python: None,
        perf: false,
        seed: 14,
        stages: None,
        commit_docs: None,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(k) = it.next() {
        let mut v = || it.next().cloned().unwrap_or_default();
        match k.as_str() {
            "--items" => {
                a.items = v()
                    .split(',')
                    .map(|s| s.trim().replace('_', "").parse().expect("--items N[,N…]"))
                    .collect()
            }
            "--rules" => a.rules = v().parse().expect("--rules N"),
            "--per-feed" => a.per_feed = v().parse().expect("--per-feed N"),
            "--interval" => a.interval = v(),
            "--idle" => a.idle = v().parse().expect("--idle SECONDS"),
            "--idle-interval" => a.idle_interval = v(),
            "--stages" => a.stages = Some(PathBuf::from(v())),
            "--commit-docs" => a.commit_docs = Some(v().parse().expect("--commit-docs N")),
            "--python" => a.python = Some(PathBuf::from(v())),
            "--seed" => a.seed = v().parse().expect("--seed N"),
            "--perf" => a.perf = true,
            // `cargo bench` passes `--bench`.
            _ => {}
        }
    }
    a
}

// ---------------------------------------------------------------- corpus

/// splitmix64: a small deterministic generator, so the corpus is the same
/// on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const SYLLABLES: [&str; 24] = [
    "ka", "lo", "vi", "ra", "to", "mi", "ne", "su", "da", "re", "xo", "li", "po", "ta", "zu", "be",
    "no", "fi", "ga", "mo", "te", "qui", "sa", "vel",
];

/// The brand of watch `i`: a made-up word, unique for i < 24⁴.
fn brand(i: usize) -> String {
    let mut s = String::from("b");
    let mut n = i;
    for _ in 0..4 {
        s.push_str(SYLLABLES[n % 24]);
        n /= 24;
    }
    s
}

const FR_COMPLAINT: [&str; 8] = [
    "{B} : panne générale depuis ce matin, impossible de se connecter 😡",
    "Le service client de {B} est injoignable depuis trois jours, c'est une honte",
    "J'attends toujours mon remboursement de {B}, quelle arnaque !",
    "Encore une coupure chez @{b} ce soir, on paie pour quoi exactement ? #fail",
    "Franchement {B} c'est nul, je ne recommande pas du tout",
    "Facture erronée de {B} pour la deuxième fois, le conseiller ne répond pas",
    "Fuite de données chez {B} : des milliers de clients exposés, la CNIL saisie",
    "Appel au boycott de {B} après la polémique, le bad buzz enfle #boycott{b}",
];
const FR_PRAISE: [&str; 5] = [
    "J'adore la nouvelle offre de {B}, merci à l'équipe 😍",
    "Très bonne expérience avec le service client de {B}, rapide et efficace",
    "{B} lance une application vraiment réussie, bravo 👏",
    "Super accueil en boutique {B} à Lyon, je recommande",
    "Merci @{b} pour la réactivité, problème réglé en dix minutes",
];
const FR_NEWS: [&str; 6] = [
    "{B} annonce un partenariat avec la SNCF et Orange pour couvrir les zones rurales",
    "Selon l'Arcep, le marché des télécoms progresse de 3 % au troisième trimestre",
    "Le gouvernement présente son plan pour la fibre optique à Marseille et Toulouse",
    "{B} ouvre un nouveau centre de relation client à Bordeaux avec 200 emplois",
    "Résultats trimestriels : le chiffre d'affaires de {B} stable malgré la concurrence",
    "Une étude de l'UFC-Que Choisir compare les forfaits mobiles des opérateurs",
];
const EN_COMPLAINT: [&str; 7] = [
    "{B} outage again, no internet since this morning 😡",
    "Still waiting for my refund from {B}, this is a scam",
    "Worst customer service ever, {B} never answers the phone",
    "@{b} you charged me twice and nobody replies #fail",
    "Data breach at {B}: millions of customer records leaked online",
    "Calls to boycott {B} grow after the CEO's comments #boycott{b}",
    "{B} keeps dropping my calls, switching provider next month",
];
const EN_PRAISE: [&str; 4] = [
    "I love the new {B} app, great job 😍",
    "Really impressed by {B} support, fixed in ten minutes",
    "Thanks @{b} for the quick answer, much appreciated",
    "{B} has the best coverage I have had in years 👍",
];
const EN_NEWS: [&str; 5] = [
    "{B} announces a partnership with Vodafone to expand 5G coverage in Europe",
    "Telecom market grows 3% in the third quarter, regulator says",
    "{B} opens a new customer care centre in Dublin, hiring 200 people",
    "Quarterly results: {B} revenue flat as competition heats up",
    "A consumer group compares mobile plans from the main carriers in London",
];
const FR_FILLER: [&str; 6] = [
    "Les clients interrogés par notre rédaction décrivent des délais d'attente de plusieurs heures au téléphone.",
    "L'entreprise n'a pas souhaité répondre à nos questions avant la publication de cet article.",
    "Sur les réseaux sociaux, les messages se multiplient depuis lundi et le mot-clé est en tendance.",
    "Les associations de consommateurs demandent une compensation pour les abonnés concernés.",
    "Le directeur général promet des mesures concrètes dans les prochaines semaines.",
    "Les analystes estiment que l'impact sur l'image de marque pourrait durer plusieurs mois.",
];
const EN_FILLER: [&str; 6] = [
    "Customers we spoke to described waiting on hold for several hours.",
    "The company did not respond to a request for comment before publication.",
    "On social media, posts have multiplied since Monday and the hashtag is trending.",
    "Consumer groups are asking for compensation for the affected subscribers.",
    "The chief executive promised concrete measures in the coming weeks.",
    "Analysts believe the damage to the brand could last for months.",
];
const AUTHORS: [&str; 8] = [
    "Marie Dupont",
    "Jean Martin",
    "Sophie Bernard",
    "Lucas Petit",
    "Emma Wilson",
    "James Smith",
    "Olivia Brown",
    "Noah Taylor",
];

struct Item {
    title: String,
    text: String,
    author: &'static str,
    link: String,
    published: i64,
}

fn fill(template: &str, b: &str) -> String {
    let cap = {
        let mut c = b.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect::<String>())
            .unwrap_or_default()
    };
    template.replace("{B}", &cap).replace("{b}", b)
}

fn item(rng: &mut Rng, rules: usize, feed: usize, k: usize, base: i64) -> Item {
    let fr = rng.chance(60);
    // 70 % name a watched brand; the rest is the sector's news.
    let b = if rng.chance(70) {
        brand(rng.below(rules))
    } else {
        brand(rules + rng.below(1000))
    };
    let kind = rng.below(10);
    let (title_t, filler) = match (fr, kind) {
        (true, 0..=3) => (rng.pick(&FR_COMPLAINT), &FR_FILLER),
        (true, 4..=5) => (rng.pick(&FR_PRAISE), &FR_FILLER),
        (true, _) => (rng.pick(&FR_NEWS), &FR_FILLER),
        (false, 0..=3) => (rng.pick(&EN_COMPLAINT), &EN_FILLER),
        (false, 4..=5) => (rng.pick(&EN_PRAISE), &EN_FILLER),
        (false, _) => (rng.pick(&EN_NEWS), &EN_FILLER),
    };
    let title = fill(title_t, &b);
    // Short posts (the title again), medium and long articles.
    let sentences = match rng.below(10) {
        0..=3 => 0,
        4..=7 => 2,
        _ => 6,
    };
    let mut text = title.clone();
    for _ in 0..sentences {
        text.push(' ');
        text.push_str(&fill(rng.pick(filler), &b));
    }
    Item {
        title,
        text,
        author: rng.pick(&AUTHORS),
        link: format!("http://news{}.example.org/{feed}/{k}", feed % 97),
        published: base + rng.below(86_000) as i64,
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Feed `n`: RSS 2.0 for even `n`, Atom for odd.
fn feed_body(items: &[Item], n: usize) -> String {
    let mut s = String::with_capacity(items.len() * 700);
    if n.is_multiple_of(2) {
        s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>bench</title><link>http://example.org/</link>");
        for it in items {
            let date = chrono::DateTime::from_timestamp(it.published, 0)
                .unwrap()
                .to_rfc2822();
            let _ = write!(
                s,
                "<item><title>{}</title><link>{}</link><guid>{}</guid><author>{}</author><description>&lt;p&gt;{}&lt;/p&gt;</description><pubDate>{date}</pubDate></item>",
                escape(&it.title),
                it.link,
                it.link,
                it.author,
                escape(&escape(&it.text)),
            );
        }
        s.push_str("</channel></rss>");
    } else {
        s.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"><title>bench</title><id>urn:bench</id><updated>2026-01-01T00:00:00Z</updated>");
        for it in items {
            let date = chrono::DateTime::from_timestamp(it.published, 0)
                .unwrap()
                .to_rfc3339();
            let _ = write!(
                s,
                "<entry><title>{}</title><link href=\"{}\"/><id>{}</id><author><name>{}</name></author><updated>{date}</updated><summary type=\"html\">&lt;p&gt;{}&lt;/p&gt;</summary></entry>",
                escape(&it.title),
                it.link,
                it.link,
                it.author,
                escape(&escape(&it.text)),
            );
        }
        s.push_str("</feed>");
    }
    s
}

/// Watch `i`, in one of three shapes: the brand's name, handle or hashtag
/// (e-reputation); the brand with crisis words; the brand in French or
/// English only. Returns the rule file and the reference's form of it.
fn watch(i: usize) -> (String, serde_json::Value) {
    let b = brand(i);
    let alert = "\n[[alert]]\nname = \"spike\"\nkind = \"volume_spike\"\nwindow = \"1h\"\nnotify = [\"file\"]\n";
    match i % 3 {
        0 => (
            format!(
                "[watch]\nname = \"w{i}\"\nquery = '\"{b}\" OR @{b} OR #{b}'\nexclude = '\"{b} recrute\"'\n{alert}"
            ),
            serde_json::json!({"name": format!("w{i}"), "all": [], "any": [b, format!("@{b}"), format!("#{b}")], "none": [format!("{b} recrute")], "langs": []}),
        ),
        1 => {
            let crisis = [
                "panne",
                "arnaque",
                "service client",
                "remboursement",
                "outage",
                "scam",
                "refund",
                "customer service",
                "boycott",
                "fuite de donnees",
                "data breach",
            ];
            let q = crisis
                .iter()
                .map(|t| {
                    if t.contains(' ') {
                        format!("\"{t}\"")
                    } else {
                        t.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(" OR ");
            (
                format!("[watch]\nname = \"w{i}\"\nquery = '\"{b}\" AND ({q})'\n{alert}"),
                serde_json::json!({"name": format!("w{i}"), "all": [b], "any": crisis, "none": [], "langs": []}),
            )
        }
        _ => (
            format!(
                "[watch]\nname = \"w{i}\"\nquery = '\"{b}\"'\nlanguages = [\"fr\", \"en\"]\n{alert}"
            ),
            serde_json::json!({"name": format!("w{i}"), "all": [], "any": [b], "none": [], "langs": ["fr", "en"]}),
        ),
    }
}

// ---------------------------------------------------------------- server

struct Served {
    bodies: Vec<(String, String)>,
    first: Mutex<Option<Instant>>,
}

async fn serve_feed(
    State(s): State<Arc<Served>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let n: usize = name.trim_end_matches(".xml").parse().unwrap_or(usize::MAX);
    let Some((body, etag)) = s.bodies.get(n) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    s.first.lock().unwrap().get_or_insert_with(Instant::now);
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    (
        [
            (header::CONTENT_TYPE, "application/xml".to_string()),
            (header::ETAG, etag.clone()),
        ],
        body.clone(),
    )
        .into_response()
}

// ---------------------------------------------------------------- runs

/// What one side measured.
#[derive(Default, Clone)]
struct Outcome {
    /// Seconds from start to the last item committed.
    wall: f64,
    /// Seconds from the first feed request to the last item committed.
    from_first_fetch: f64,
    /// CPU seconds (user + system) from the first feed request to the last
    /// item committed: start-up (rules, models, lexicons) left out.
    cpu: f64,
    /// CPU seconds of the whole run, start-up included.
    cpu_total: f64,
    /// Peak RSS in bytes over the whole run.
    peak_rss: u64,
    /// Right after the ingest, still polling every `--interval`: RSS at the
    /// end of `--idle` seconds, and CPU share of one core during them.
    idle: Option<Idle>,
    /// The same after a restart on the ingested data, polling every
    /// `--idle-interval`: the daemon's real idle.
    restart_idle: Option<Idle>,
    /// Watch matches counted (a sanity check: both sides should be close).
    matches: u64,
    /// Seconds per stage, when the side reports them.
    stages: Vec<(String, f64)>,
    docs: u64,
}

/// (utime + stime) in seconds and VmRSS, VmHWM in bytes of `pid`.
fn proc_sample(pid: u32) -> Option<(f64, u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    let ticks: u64 = f[11].parse::<u64>().ok()? + f[12].parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = |key: &str| -> Option<u64> {
        status
            .lines()
            .find(|l| l.starts_with(key))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    Some((
        ticks as f64 / 100.0,
        kb("VmRSS:")? * 1024,
        kb("VmHWM:")? * 1024,
    ))
}

/// The process the wrapper (`time` or `perf`) started.
fn child_of(pid: u32) -> Option<u32> {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            && let Some(c) = s.split_whitespace().next()
        {
            return c.parse().ok();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

/// Wraps `cmd` in `/usr/bin/time` (or `perf record` with `perf`), writing
/// its figures to `out`.
fn wrapped(perf: Option<&FsPath>, out: &FsPath, program: &FsPath) -> Command {
    match perf {
        Some(data) => {
            let mut c = Command::new("perf");
            c.args(["record", "-F", "499", "-g", "-o"])
                .arg(data)
                .arg("--")
                .arg("/usr/bin/time")
                .args(["-f", "%e %U %S %M", "-o"])
                .arg(out)
                .arg(program);
            c
        }
        None => {
            let mut c = Command::new("/usr/bin/time");
            c.args(["-f", "%e %U %S %M", "-o"]).arg(out).arg(program);
            c
        }
    }
}

/// `%e %U %S %M` of GNU time: (wall, cpu, max RSS bytes).
fn read_time(path: &FsPath) -> (f64, f64, u64) {
    let s = std::fs::read_to_string(path).unwrap_or_default();
    let line = s.lines().last().unwrap_or_default();
    let f: Vec<f64> = line
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    if f.len() < 4 {
        return (0.0, 0.0, 0);
    }
    (f[0], f[1] + f[2], f[3] as u64 * 1024)
}

fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|r| r.starts_with(' ') || r.starts_with('{'))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn wait_exit(child: &mut Child, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The daemon under test: this build's, or `VEILLEUR_BIN` (another
/// build's copy, e.g. with another allocator, to compare them on one corpus).
fn veilleur_bin() -> PathBuf {
    std::env::var_os("VEILLEUR_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_veilleur")),
        PathBuf::from,
    )
}

/// A loopback port nobody listens on (for the daemon's `/metrics`).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The daemon's config: data and rules beside it, `/metrics` on `port`, one
/// feed source per served feed, polled every `interval` (none when `feeds`
/// is 0, for `import`).
fn daemon_config(
    port: u16,
    hosts: &[SocketAddr],
    feeds: usize,
    interval: &str,
    commit_docs: Option<usize>,
) -> String {
    let commit = commit_docs.map_or(String::new(), |n| format!("commit_docs = {n}\n"));
    let mut config = format!(
        "[daemon]\ndata_dir = \"data\"\nrules_dir = \"rules\"\nlisten = \"127.0.0.1:{port}\"\n{commit}\n[[channel]]\nname = \"file\"\nkind = \"file\"\ndir = \"alerts\"\n"
    );
    for n in 0..feeds {
        let host = hosts[n % hosts.len()];
        let _ = write!(
            config,
            "\n[[source]]\nname = \"f{n}\"\nkind = \"feed\"\nurl = \"http://{host}/f/{n}.xml\"\ninterval = \"{interval}\"\n"
        );
    }
    config
}

/// RSS of `pid` from `/proc/PID/smaps_rollup`: (anonymous, file-backed) bytes.
fn rss_split(pid: u32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let kb = |key: &str| -> Option<u64> {
        text.lines()
            .find(|l| l.starts_with(key))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    let rss = kb("Rss:")? * 1024;
    let anon = kb("Anonymous:")? * 1024;
    Some((anon, rss.saturating_sub(anon)))
}

/// What an idle daemon holds and spends: RSS (anonymous, file-backed) at the
/// end of `secs` seconds, and its CPU share of one core over them.
#[derive(Clone, Copy, Default)]
struct Idle {
    anon: u64,
    file: u64,
    cpu: f64,
}

impl Idle {
    fn rss(&self) -> u64 {
        self.anon + self.file
    }
}

fn measure_idle(pid: u32, secs: u64) -> Option<Idle> {
    let (cpu0, _, _) = proc_sample(pid)?;
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let (cpu1, _, _) = proc_sample(pid)?;
    let (anon, file) = rss_split(pid)?;
    Some(Idle {
        anon,
        file,
        cpu: (cpu1 - cpu0) / t0.elapsed().as_secs_f64(),
    })
}

/// Restarts the daemon on the data the ingest left (same rules, same feeds,
/// polled every `--idle-interval`), waits for its first polls (answered 304:
/// nothing new), then measures `--idle` seconds of a real idle.
fn idle_after_restart(a: &Args, dir: &FsPath, hosts: &[SocketAddr], feeds: usize) -> Option<Idle> {
    let port = free_port();
    let config_path = dir.join("veilleur-idle.toml");
    std::fs::write(
        &config_path,
        daemon_config(port, hosts, feeds, &a.idle_interval, a.commit_docs),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("daemon-idle.log")).unwrap();
    let mut child = Command::new(veilleur_bin())
        .args(["run", "--config"])
        .arg(&config_path)
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("restart veilleur run");
    // First polls come within a tenth of the interval, at most 10 s, plus
    // the host's turn: wait them out before measuring.
    std::thread::sleep(Duration::from_secs(15));
    let idle = measure_idle(child.id(), a.idle);
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    wait_exit(&mut child, 120);
    idle
}

/// Runs `veilleur ARGS` under `/usr/bin/time` in `dir`: (wall s, CPU s,
/// peak RSS bytes). Panics with its stderr when it fails.
fn timed_cli(dir: &FsPath, name: &str, args: &[&str]) -> (f64, f64, u64) {
    let time_out = dir.join(format!("{name}.time"));
    let mut c = wrapped(None, &time_out, &veilleur_bin());
    let out = c
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run veilleur");
    assert!(
        out.status.success(),
        "veilleur {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    read_time(&time_out)
}

/// `veilleur import` and `veilleur backtest` of the corpus's mentions (one
/// JSON line each, as the feeds carry them: no language, sentiment or
/// watches), each from a fresh state.
struct Offline {
    /// Import: wall s, CPU s.
    import: (f64, f64),
    /// Backtest: wall s, CPU s, and the same on an empty file (start-up:
    /// rules, models and lexicons).
    backtest: (f64, f64),
    backtest_startup: (f64, f64),
}

fn run_offline(dir: &FsPath, jsonl: &str) -> Offline {
    let mentions = dir.join("mentions.jsonl");
    std::fs::write(&mentions, jsonl).unwrap();
    std::fs::write(dir.join("empty.jsonl"), "").unwrap();
    let work = dir.join("offline");
    std::fs::create_dir_all(&work).unwrap();
    let _ = std::fs::remove_dir_all(work.join("data"));
    let rules = dir.join("rules");
    let rules = rules.to_str().unwrap();
    std::fs::write(
        work.join("import.toml"),
        daemon_config(free_port(), &[], 0, "1m", None)
            .replace("rules_dir = \"rules\"", &format!("rules_dir = \"{rules}\"")),
    )
    .unwrap();
    let (iw, ic, _) = timed_cli(
        &work,
        "import",
        &[
            "import",
            "--config",
            "import.toml",
            mentions.to_str().unwrap(),
        ],
    );
    let bt = |file: &FsPath, name: &str| {
        let (w, c, _) = timed_cli(
            &work,
            name,
            &[
                "backtest",
                "--rules",
                rules,
                "--mentions",
                file.to_str().unwrap(),
            ],
        );
        (w, c)
    };
    let backtest_startup = bt(&dir.join("empty.jsonl"), "backtest-empty");
    let backtest = bt(&mentions, "backtest");
    Offline {
        import: (iw, ic),
        backtest,
        backtest_startup,
    }
}

#[allow(clippy::too_many_arguments)]
fn run_veilleur(
    a: &Args,
    dir: &FsPath,
    hosts: &[SocketAddr],
    feeds: usize,
    items: usize,
    served: &Served,
    rt: &tokio::runtime::Runtime,
) -> Outcome {
    let port = free_port();
    let config_path = dir.join("veilleur.toml");
    std::fs::write(
        &config_path,
        daemon_config(port, hosts, feeds, &a.interval, a.commit_docs),
    )
    .unwrap();
    let time_out = dir.join("veilleur.time");
    let perf_data = a
        .perf
        .then(|| PathBuf::from(format!("target/e2e-perf-{items}.data")));
    let log_path = dir.join("daemon.log");
    let log = std::fs::File::create(&log_path).unwrap();
    *served.first.lock().unwrap() = None;
    let started = Instant::now();
    let mut child = wrapped(perf_data.as_deref(), &time_out, &veilleur_bin())
        .args(["run", "--config"])
        .arg(&config_path)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start veilleur run (is /usr/bin/time installed? apt-get install time)");
    let mut pid = child_of(child.id()).expect("the daemon started");
    if a.perf {
        pid = child_of(pid).expect("the daemon started under perf");
    }
    let metrics_url = format!("http://127.0.0.1:{port}/metrics");
    let http = reqwest::Client::new();
    let mut out = Outcome::default();
    let last_text;
    let mut cpu_at_first: Option<f64> = None;
    loop {
        // Not faster: a scrape of a thousand sources' series costs the
        // daemon CPU (5 % of its profile when scraped every 50 ms).
        std::thread::sleep(Duration::from_millis(250));
        if cpu_at_first.is_none() && served.first.lock().unwrap().is_some() {
            cpu_at_first = proc_sample(pid).map(|s| s.0);
        }
        if started.elapsed() > Duration::from_secs(900) || child.try_wait().ok().flatten().is_some()
        {
            panic!(
                "veilleur did not index {items} mentions in time; see {}",
                log_path.display()
            );
        }
        let text = rt.block_on(async {
            match http.get(&metrics_url).send().await {
                Ok(r) => r.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            }
        });
        let docs = metric_sum(&text, "veilleur_index_documents");
        if docs as usize >= items {
            let (cpu, _, hwm) = proc_sample(pid).unwrap_or_default();
            out.wall = started.elapsed().as_secs_f64();
            out.from_first_fetch = served
                .first
                .lock()
                .unwrap()
                .map_or(out.wall, |t| t.elapsed().as_secs_f64());
            out.cpu = cpu - cpu_at_first.unwrap_or(0.0);
            out.cpu_total = cpu;
            out.peak_rss = hwm;
            out.docs = docs as u64;
            last_text = text;
            break;
        }
    }
    out.matches = metric_sum(&last_text, "veilleur_watch_matches_total") as u64;
    if a.idle > 0 {
        out.idle = measure_idle(pid, a.idle);
    }
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    wait_exit(&mut child, 120);
    let (_, _, max_rss) = read_time(&time_out);
    out.peak_rss = out.peak_rss.max(max_rss);
    if a.idle > 0 && !a.perf {
        out.restart_idle = idle_after_restart(a, dir, hosts, feeds);
    }
    if let Some(data) = &perf_data {
        println!("perf data: {} (perf report -i …)", data.display());
    }
    out
}

fn run_reference(
    a: &Args,
    python: &FsPath,
    dir: &FsPath,
    urls: &[String],
    rules_json: &serde_json::Value,
    served: &Served,
) -> Outcome {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/peers/reference.py");
    let urls_path = dir.join("urls.txt");
    std::fs::write(&urls_path, urls.join("\n")).unwrap();
    let rules_path = dir.join("rules.json");
    std::fs::write(&rules_path, rules_json.to_string()).unwrap();
    let time_out = dir.join("python.time");
    let perf_data = a.perf.then(|| PathBuf::from("target/e2e-perf-python.data"));
    *served.first.lock().unwrap() = None;
    let started = Instant::now();
    let out = wrapped(perf_data.as_deref(), &time_out, python)
        .arg(&script)
        .arg("--urls")
        .arg(&urls_path)
        .arg("--rules")
        .arg(&rules_path)
        .arg("--index")
        .arg(dir.join("py-index"))
        .env("PYTHONWARNINGS", "ignore")
        .stderr(Stdio::inherit())
        .output()
        .expect("start the Python reference");
    let wall = started.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "the Python reference failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let report: serde_json::Value = String::from_utf8_lossy(&out.stdout)
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .expect("the reference prints its figures as a JSON line");
    let (_, cpu_total, max_rss) = read_time(&time_out);
    let cpu = cpu_total - report["setup_cpu"].as_f64().unwrap_or(0.0);
    let from_first = served
        .first
        .lock()
        .unwrap()
        .map_or(wall, |t| wall - (t - started).as_secs_f64());
    Outcome {
        wall,
        from_first_fetch: from_first,
        cpu,
        cpu_total,
        peak_rss: max_rss,
        idle: None,
        restart_idle: None,
        matches: report["matches"].as_u64().unwrap_or(0),
        stages: report["stages"]
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), v.as_f64().unwrap_or(0.0)))
                    .collect()
            })
            .unwrap_or_default(),
        docs: report["docs"].as_u64().unwrap_or(0),
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn mib(b: u64) -> String {
    format!("{:.0} MiB", b as f64 / (1024.0 * 1024.0))
}

fn main() {
    let a = args();
    veilleur::install_crypto_provider();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut rows: Vec<Row> = Vec::new();
    for &items in &a.items {
        let mut rng = Rng(a.seed);
        let feeds = items.div_ceil(a.per_feed);
        let base = chrono::Utc::now().timestamp() - 86_400;
        let mut bodies = Vec::with_capacity(feeds);
        // The same mentions as JSON lines, for `import` and `backtest`.
        let mut jsonl = String::new();
        for n in 0..feeds {
            let count = a.per_feed.min(items - n * a.per_feed);
            let its: Vec<Item> = (0..count)
                .map(|k| item(&mut rng, a.rules, n, k, base))
                .collect();
            for it in &its {
                let line = serde_json::json!({
                    "id": it.link,
                    "source": format!("f{n}"),
                    "url": it.link,
                    "title": it.title,
                    "text": it.text,
                    "author": it.author,
                    "published": chrono::DateTime::from_timestamp(it.published, 0).unwrap().to_rfc3339(),
                });
                jsonl.push_str(&line.to_string());
                jsonl.push('\n');
            }
            bodies.push((feed_body(&its, n), format!("\"f{n}-{}\"", a.seed)));
        }
        let bytes: usize = bodies.iter().map(|b| b.0.len()).sum();
        let served = Arc::new(Served {
            bodies,
            first: Mutex::new(None),
        });
        // Four feeds per address at most: under the per-host burst, so the
        // politeness of the client does not pace the bench.
        let addresses = feeds.div_ceil(4).clamp(1, 250);
        let hosts: Vec<SocketAddr> = rt.block_on(async {
            let mut hosts = Vec::new();
            for h in 0..addresses {
                let ip = Ipv4Addr::new(127, 0, (1 + h / 250) as u8, (1 + h % 250) as u8);
                let listener = tokio::net::TcpListener::bind(SocketAddr::from((ip, 0)))
                    .await
                    .expect("bind a loopback address (127.0.0.0/8 is all loopback on Linux)");
                hosts.push(listener.local_addr().unwrap());
                let app = Router::new()
                    .route("/f/{name}", get(serve_feed))
                    .route("/robots.txt", get(|| async { StatusCode::NOT_FOUND }))
                    .with_state(served.clone());
                tokio::spawn(async move { axum::serve(listener, app).await });
            }
            hosts
        });
        let dir = tempfile::tempdir().unwrap();
        let rules_dir = dir.path().join("rules");
        std::fs::create_dir_all(&rules_dir).unwrap();
        let mut rules_json = Vec::with_capacity(a.rules);
        for i in 0..a.rules {
            let (toml, json) = watch(i);
            std::fs::write(rules_dir.join(format!("w{i:05}.toml")), toml).unwrap();
            rules_json.push(json);
        }
        println!(
            "e2e: {items} items in {feeds} feeds ({:.1} MB of XML, RSS and Atom) on {addresses} addresses, {} rules; load average {}",
            bytes as f64 / 1e6,
            a.rules,
            load_average()
        );
        let v = run_veilleur(&a, dir.path(), &hosts, feeds, items, &served, &rt);
        let load_v = load_average();
        let urls: Vec<String> = (0..feeds)
            .map(|n| format!("http://{}/f/{n}.xml", hosts[n % hosts.len()]))
            .collect();
        let py = a.python.as_ref().map(|p| {
            run_reference(
                &a,
                p,
                dir.path(),
                &urls,
                &serde_json::Value::Array(rules_json),
                &served,
            )
        });
        let offline = (!a.perf).then(|| run_offline(dir.path(), &jsonl));
        let load = format!("{load_v} / {}", load_average());
        print_row(items, &v, py.as_ref(), &load);
        rows.push(Row {
            items,
            v,
            py,
            offline,
            load,
        });
    }
    println!();
    print_table(&a, &rows);
    let stages = a
        .stages
        .as_ref()
        .map(|p| Stages::parse(&std::fs::read_to_string(p).unwrap_or_default()))
        .unwrap_or_default();
    println!();
    print_goals(&rows, &stages);
}

/// One corpus size's results.
struct Row {
    items: usize,
    v: Outcome,
    py: Option<Outcome>,
    offline: Option<Offline>,
    load: String,
}

/// What the stage benches printed (`cargo bench --bench matcher --bench
/// backtest`, run by `benches/e2e/run` before this bench).
#[derive(Default)]
struct Stages {
    /// Matcher: (watches, mentions/s on one core).
    matcher: Vec<(usize, f64)>,
    /// Detection alone, mentions/s.
    detection: Option<f64>,
}

impl Stages {
    fn parse(text: &str) -> Stages {
        let mut st = Stages::default();
        for line in text.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            // The matcher's table: watches, mentions/s, ns/mention, hits.
            if f.len() == 4
                && let (Ok(w), Ok(r)) = (f[0].parse::<usize>(), f[1].parse::<f64>())
            {
                st.matcher.push((w, r));
            }
            // "backtest detection: N mentions in Xs = R mentions/s …"
            if line.starts_with("backtest detection:")
                && let Some(eq) = line.find(" = ")
            {
                st.detection = line[eq + 3..]
                    .split_whitespace()
                    .next()
                    .and_then(|r| r.parse().ok());
            }
        }
        st
    }

    fn matcher_at(&self, watches: usize) -> Option<f64> {
        self.matcher.iter().find(|m| m.0 == watches).map(|m| m.1)
    }
}

/// One goal of issue 14: what was measured, the goal, and met or how far.
fn goal(name: &str, figure: String, goal: &str, met: Option<bool>, far: String) {
    let verdict = match met {
        Some(true) => "**met**".to_string(),
        Some(false) => format!("not met: {far}"),
        None => "not measured".to_string(),
    };
    println!("| {name} | {figure} | {goal} | {verdict} |");
}

fn print_goals(rows: &[Row], st: &Stages) {
    println!("| goal (issue 14) | measured | goal | verdict |");
    println!("|---|---|---|---|");
    for r in rows {
        let n = r.items as f64;
        if let Some(p) = &r.py {
            let ratio = p.cpu / r.v.cpu.max(1e-3);
            let wall = p.from_first_fetch / r.v.from_first_fetch.max(1e-3);
            goal(
                &format!("end to end, {} items", r.items),
                format!(
                    "{ratio:.1}× in CPU s ({:.0} vs {:.0} mentions per CPU s), {wall:.1}× in wall time",
                    n / r.v.cpu.max(1e-3),
                    n / p.cpu.max(1e-3)
                ),
                "≥ 30×",
                Some(ratio >= 30.0),
                format!("{:.1}× short", 30.0 / ratio),
            );
            let peak = r.v.peak_rss as f64 / p.peak_rss.max(1) as f64;
            goal(
                &format!("peak RSS, {} items", r.items),
                format!("{} vs {}", mib(r.v.peak_rss), mib(p.peak_rss)),
                "≤ the reference",
                Some(peak <= 1.0),
                format!("{peak:.2}× the reference"),
            );
        }
        for (label, idle) in [
            (
                format!("RSS, CPU right after {} items (polling every 2 s)", r.items),
                r.v.idle,
            ),
            (
                format!("idle daemon after a restart on {} items' data", r.items),
                r.v.restart_idle,
            ),
        ] {
            match idle {
                Some(i) => goal(
                    &label,
                    format!(
                        "{} ({} anonymous, {} file), {:.2} % of a core",
                        mib(i.rss()),
                        mib(i.anon),
                        mib(i.file),
                        100.0 * i.cpu
                    ),
                    "< 100 MB, < 1 % of a core",
                    Some(i.rss() < 100_000_000 && i.cpu < 0.01),
                    format!(
                        "{:.2}× the RSS goal, {:.1} % CPU",
                        i.rss() as f64 / 1e8,
                        100.0 * i.cpu
                    ),
                ),
                None => goal(
                    &label,
                    "–".into(),
                    "< 100 MB, < 1 % of a core",
                    None,
                    String::new(),
                ),
            }
        }
        if let Some(o) = &r.offline {
            let bt = n / o.backtest.0.max(1e-3);
            let bt_warm = n / (o.backtest.0 - o.backtest_startup.0).max(1e-3);
            goal(
                &format!(
                    "`backtest` from raw mentions, {} items × 1,000 rules",
                    r.items
                ),
                format!(
                    "{bt:.0} mentions/s ({:.2} s wall, {:.2} CPU s; {bt_warm:.0}/s without the {:.2} s start-up)",
                    o.backtest.0, o.backtest.1, o.backtest_startup.0
                ),
                "≥ 300,000/s",
                Some(bt_warm >= 300_000.0),
                format!("{:.1}× short", 300_000.0 / bt_warm),
            );
            let py_index = r.py.as_ref().map(|p| {
                p.stages
                    .iter()
                    .filter(|(k, _)| k == "index" || k == "commit")
                    .map(|(_, s)| s)
                    .sum::<f64>()
            });
            let ratio = py_index.map(|py| py / o.import.0.max(1e-3));
            goal(
                &format!("`import`, {} mentions", r.items),
                format!(
                    "{:.2} s wall, {:.2} CPU s ({:.0}/s){}",
                    o.import.0,
                    o.import.1,
                    n / o.import.0.max(1e-3),
                    match (py_index, ratio) {
                        (Some(py), Some(x)) =>
                            format!("; tantivy-py index + commit {py:.2} s: {x:.1}×"),
                        _ => String::new(),
                    }
                ),
                "≥ 3× tantivy-py's index step",
                ratio.map(|x| x >= 3.0),
                ratio.map_or(String::new(), |x| format!("{:.1}× short", 3.0 / x)),
            );
        }
    }
    let m1k = st.matcher_at(1_000);
    let m10k = st.matcher_at(10_000);
    goal(
        "matcher, 1,000 watches",
        m1k.map_or("–".into(), |r| format!("{r:.0} mentions/s/core")),
        "≥ 1,000,000/s/core",
        m1k.map(|r| r >= 1e6),
        m1k.map_or(String::new(), |r| format!("{:.1}× short", 1e6 / r)),
    );
    let slow = m1k.zip(m10k).map(|(a, b)| a / b);
    goal(
        "matcher, 10,000 watches",
        m10k.zip(slow).map_or("–".into(), |(r, s)| {
            format!("{r:.0} mentions/s/core, {s:.2}× slower than 1,000")
        }),
        "≤ 2× slower than 1,000",
        slow.map(|s| s <= 2.0),
        slow.map_or(String::new(), |s| format!("{s:.2}× slower")),
    );
    goal(
        "detection alone",
        st.detection
            .map_or("–".into(), |r| format!("{r:.0} mentions/s")),
        "≥ 2,000,000/s",
        st.detection.map(|r| r >= 2e6),
        st.detection
            .map_or(String::new(), |r| format!("{:.1}× short", 2e6 / r)),
    );
}

fn print_row(items: usize, v: &Outcome, py: Option<&Outcome>, load: &str) {
    println!(
        "  veilleur: {} docs, {:.2} s wall ({:.2} s from first fetch), {:.2} CPU s ({:.2} with start-up), peak {}, {} matches; load {load}",
        v.docs,
        v.wall,
        v.from_first_fetch,
        v.cpu,
        v.cpu_total,
        mib(v.peak_rss),
        v.matches
    );
    for (when, idle) in [
        ("after the ingest (polling every 2 s)", v.idle),
        ("idle after a restart", v.restart_idle),
    ] {
        if let Some(i) = idle {
            println!(
                "  veilleur {when}: RSS {} ({} anonymous, {} file-backed), {:.2} % of a core",
                mib(i.rss()),
                mib(i.anon),
                mib(i.file),
                100.0 * i.cpu
            );
        }
    }
    if let Some(p) = py {
        let stages: Vec<String> = p
            .stages
            .iter()
            .map(|(k, s)| format!("{k} {s:.2}s"))
            .collect();
        println!(
            "  python:   {} docs, {:.2} s wall ({:.2} s from first fetch), {:.2} CPU s ({:.2} with start-up), peak {}, {} matches; {}",
            p.docs,
            p.wall,
            p.from_first_fetch,
            p.cpu,
            p.cpu_total,
            mib(p.peak_rss),
            p.matches,
            stages.join(", ")
        );
    }
    let _ = items;
}

fn print_table(a: &Args, rows: &[Row]) {
    println!(
        "| items × rules | side | mentions/s (wall) | mentions/s (from 1st fetch) | CPU s | mentions per CPU s | peak RSS | RSS, CPU after the ingest (polling every 2 s) | matches |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for Row {
        items, v, py, load, ..
    } in rows
    {
        let n = *items as f64;
        let line = |side: &str, o: &Outcome| {
            let idle = match o.idle {
                Some(i) => format!("{}, {:.1} %", mib(i.rss()), 100.0 * i.cpu),
                None => "–".into(),
            };
            println!(
                "| {items} × {} | {side} | {:.0} | {:.0} | {:.2} | {:.0} | {} | {idle} | {} |",
                a.rules,
                n / o.wall,
                n / o.from_first_fetch,
                o.cpu,
                n / o.cpu.max(1e-3),
                mib(o.peak_rss),
                o.matches
            );
        };
        line("veilleur", v);
        if let Some(p) = py {
            line("python", p);
            println!(
                "| {items} × {} | **ratio** | **{:.1}×** | **{:.1}×** | {:.2}× less | **{:.1}×** | {:.2}× | | load {load} |",
                a.rules,
                p.wall / v.wall,
                p.from_first_fetch / v.from_first_fetch,
                p.cpu / v.cpu.max(1e-3),
                p.cpu / v.cpu.max(1e-3),
                v.peak_rss as f64 / p.peak_rss.max(1) as f64,
            );
        }
    }
}
