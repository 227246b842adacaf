// veilleur's web page: watches with their charts, active alerts, search.
// Reads /api/* with the token typed once (kept in sessionStorage); draws
// charts as inline SVG; inserts every text from the API as text, never as
// markup. French and English; the server picks the first language from
// Accept-Language, the switch keeps the choice in localStorage.
"use strict";

const T = {
  fr: {
    skip: "Aller au contenu", token: "Jeton d'accès", save: "Enregistrer",
    back: "← Toutes les veilles", alerts: "Alertes actives", noAlerts: "Aucune alerte active.",
    watches: "Veilles", reload: "Recharger les règles", search: "Rechercher les mentions",
    query: "Requête", watch: "Veille", all: "Toutes", sentiment: "Tonalité",
    neg: "Négative", neu: "Neutre", pos: "Positive", since: "Depuis", anytime: "Toujours",
    h1: "1 heure", h24: "24 heures", d7: "7 jours", d30: "30 jours", go: "Rechercher",
    more: "Plus de résultats", firing: "en alerte", pending: "en attente", quiet: "calme",
    warm: "référence établie", warming: "apprentissage jusqu'au {0}", cold: "pas encore d'historique",
    lastHour: "{0} mentions la dernière heure", lastDay: "{0} sur 24 h",
    negShare: "{0} % négatives", score: "×{0} par rapport à l'habituel",
    chart: "{0} mentions sur {1}, dont {2} négatives", mentionsOf: "Mentions de {0}",
    results: "{0} résultat(s)", noResults: "Aucune mention.", since2: "depuis {0}",
    observed: "{0} mentions observées pour {1} attendues", observedOnly: "{0} mentions observées",
    perStep: "max {0} par {1}", terms: "Termes : {0}",
    open: "Voir la veille", needToken: "Cette page demande un jeton : saisissez-le ci-dessus.",
    access_admin: "accès administrateur", access_read: "accès lecture", access_none: "aucun accès",
    reloaded: "Règles rechargées ({0} veilles).", refused: "Règles refusées :",
    total: "mentions", negative: "négatives", period24: "24 h", period7: "7 jours",
    untitled: "(sans titre)", by: "par {0}",
    silence6h: "Silence 6 h", silenced: "Silence n° {0} jusqu'au {1}.", ack: "Pris en charge",
    acked: "Alerte prise en charge : plus de rappels jusqu'à sa fin.",
  },
  en: {
    skip: "Skip to content", token: "Access token", save: "Save",
    back: "← All watches", alerts: "Active alerts", noAlerts: "No active alert.",
    watches: "Watches", reload: "Reload rules", search: "Search mentions",
    query: "Query", watch: "Watch", all: "All", sentiment: "Sentiment",
    neg: "Negative", neu: "Neutral", pos: "Positive", since: "Since", anytime: "Any time",
    h1: "1 hour", h24: "24 hours", d7: "7 days", d30: "30 days", go: "Search",
    more: "More results", firing: "firing", pending: "pending", quiet: "quiet",
    warm: "baseline ready", warming: "learning until {0}", cold: "no history yet",
    lastHour: "{0} mentions in the last hour", lastDay: "{0} in 24 h",
    negShare: "{0}% negative", score: "×{0} the usual",
    chart: "{0} mentions over {1}, {2} negative", mentionsOf: "Mentions of {0}",
    results: "{0} result(s)", noResults: "No mention.", since2: "since {0}",
    observed: "{0} mentions observed, {1} expected", observedOnly: "{0} mentions observed",
    perStep: "max {0} per {1}", terms: "Terms: {0}",
    open: "Open the watch", needToken: "This page needs a token: type it above.",
    access_admin: "admin access", access_read: "read access", access_none: "no access",
    reloaded: "Rules reloaded ({0} watches).", refused: "Rules refused:",
    total: "mentions", negative: "negative", period24: "24 h", period7: "7 days",
    untitled: "(untitled)", by: "by {0}",
    silence6h: "Silence 6 h", silenced: "Silence #{0} until {1}.", ack: "Acknowledge",
    acked: "Alert acknowledged: no more reminders until it ends.",
  },
};

let lang = localStorage.getItem("veilleur.lang") || document.documentElement.lang || "fr";
if (!T[lang]) lang = "en";

function t(key, ...args) {
  let s = (T[lang] && T[lang][key]) || T.en[key] || key;
  args.forEach((a, i) => { s = s.replace("{" + i + "}", String(a)); });
  return s;
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return e;
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  return e;
}

function fmtTime(iso) {
  const d = new Date(iso);
  return d.toLocaleString(lang === "fr" ? "fr-FR" : "en-GB", {
    day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
  });
}

function pct(x) { return Math.round((x || 0) * 100); }

function stepName(secs) {
  return secs % 3600 === 0 ? (secs / 3600) + " h" : (secs / 60) + " min";
}

function token() { return sessionStorage.getItem("veilleur.token") || ""; }

// Set by loadAccess: admin tokens see the silence and acknowledge buttons.
let isAdmin = false;

// An admin action: a button that POSTs, then says what happened next to it.
function adminButton(label, path, body, done) {
  const status = el("span", { class: "muted", role: "status" });
  const b = el("button", { type: "button", text: label });
  b.addEventListener("click", async () => {
    b.disabled = true;
    status.textContent = "…";
    try {
      const opts = { method: "POST" };
      if (body) {
        opts.body = JSON.stringify(body);
        opts.headers = { "Content-Type": "application/json" };
        if (token()) opts.headers.Authorization = "Bearer " + token();
      }
      const r = await api(path, opts);
      status.textContent = done(r);
    } catch (e) {
      status.textContent = e.message;
    } finally {
      b.disabled = false;
    }
  });
  return el("p", { class: "admin-actions" }, b, " ", status);
}

async function api(path, opts) {
  const headers = {};
  if (token()) headers.Authorization = "Bearer " + token();
  const r = await fetch(path, Object.assign({ headers }, opts || {}));
  let body = null;
  try { body = await r.json(); } catch (_) { body = null; }
  if (r.status === 401) throw new Error(t("needToken"));
  if (!r.ok) throw new Error((body && body.error) || r.status + " " + r.statusText);
  return body;
}

function showError(e) {
  const p = document.getElementById("error");
  if (!e) { p.hidden = true; p.textContent = ""; return; }
  p.hidden = false;
  p.textContent = e.message || String(e);
}

function translate() {
  document.documentElement.lang = lang;
  for (const n of document.querySelectorAll("[data-i18n]")) n.textContent = t(n.dataset.i18n);
  for (const b of document.querySelectorAll("[data-lang]")) {
    b.setAttribute("aria-pressed", b.dataset.lang === lang ? "true" : "false");
  }
  const only = pageWatch();
  if (only) {
    document.getElementById("watches-title").textContent = t("watch") + " " + only;
    document.getElementById("search-title").textContent = t("mentionsOf", only);
    document.title = only + " · veilleur";
  }
}

// The watch a page is about: /watch/{name}.
function pageWatch() {
  const m = location.pathname.match(/^\/watch\/([^/]+)\/?$/);
  return m ? decodeURIComponent(m[1]) : null;
}

// ---- charts ----

// A bar chart of volume, negatives stacked in red, with a text summary.
function chart(stats, period) {
  const pts = stats.points || [];
  const W = 320, H = 96, pad = 2, head = 14;
  const max = Math.max(1, ...pts.map(p => p.total));
  const total = pts.reduce((a, p) => a + p.total, 0);
  const neg = pts.reduce((a, p) => a + p.negative, 0);
  const label = t("chart", total, period, neg);
  const s = svg("svg", { viewBox: `0 -${head} ${W} ${H + head + 14}`, role: "img", "aria-label": label, class: "chart" });
  const title = svg("title"); title.textContent = label; s.append(title);
  const bw = pts.length ? (W - pad * 2) / pts.length : W;
  pts.forEach((p, i) => {
    const x = pad + i * bw;
    const h = (p.total / max) * H;
    const hn = (p.negative / max) * H;
    if (p.total > 0) s.append(svg("rect", { x: x.toFixed(1), y: (H - h).toFixed(1), width: Math.max(1, bw - 1).toFixed(1), height: h.toFixed(1), class: "bar" }));
    if (p.negative > 0) s.append(svg("rect", { x: x.toFixed(1), y: (H - hn).toFixed(1), width: Math.max(1, bw - 1).toFixed(1), height: hn.toFixed(1), class: "bar-neg" }));
  });
  s.append(svg("line", { x1: 0, y1: H + 0.5, x2: W, y2: H + 0.5, class: "axis" }));
  s.append(svg("line", { x1: 0, y1: 0.5, x2: W, y2: 0.5, class: "grid" }));
  const top = svg("text", { x: W - 2, y: -4, "text-anchor": "end", class: "tick" });
  top.textContent = t("perStep", max, stepName(stats.step_secs));
  s.append(top);
  if (pts.length) {
    const a = svg("text", { x: 2, y: H + 12, class: "tick" }); a.textContent = fmtTime(pts[0].t);
    const b = svg("text", { x: W - 2, y: H + 12, "text-anchor": "end", class: "tick" }); b.textContent = fmtTime(pts[pts.length - 1].t);
    s.append(a, b);
  }
  const legend = el("p", { class: "legend" },
    el("span", { class: "key key-total", "aria-hidden": "true" }), " " + t("total") + " ",
    el("span", { class: "key key-neg", "aria-hidden": "true" }), " " + t("negative"));
  return el("figure", { class: "figure" }, s, legend);
}

// ---- watches ----

function stateBadge(state) {
  return el("span", { class: "badge badge-" + state, text: t(state) });
}

function warmText(w) {
  if (w.warm) return t("warm");
  if (w.warm_at) return t("warming", fmtTime(w.warm_at));
  return t("cold");
}

async function watchCard(w, big) {
  const href = "/watch/" + encodeURIComponent(w.name);
  const head = el("h3", {}, big ? w.name : el("a", { href }, w.name), " ", stateBadge(w.state));
  const facts = el("ul", { class: "facts" },
    el("li", { text: t("lastHour", w.mentions_last_hour) + " · " + t("lastDay", w.mentions_last_day) }),
    el("li", { text: t("negShare", pct(w.negative_share)) + (w.anomaly_score > 0 ? " · " + t("score", w.anomaly_score.toFixed(1)) : "") }),
    el("li", { class: "muted", text: warmText(w) }));
  const card = el("article", { class: "card card-" + w.state + (big ? " card-big" : ""), "aria-label": w.name }, head, facts);
  if (w.tags && w.tags.length) card.append(el("p", { class: "tags", text: w.tags.map(x => "#" + x).join(" ") }));
  if (isAdmin) {
    card.append(adminButton(t("silence6h"), "/api/silences",
      { watch: w.name, for: "6h", created_by: "web" },
      r => t("silenced", r.id, fmtTime(r.ends_at))));
  }
  try {
    const since = big ? "7d" : "24h";
    const step = big ? "3h" : "1h";
    const stats = await api(`/api/stats?watch=${encodeURIComponent(w.name)}&since=${since}&step=${step}`);
    card.append(chart(stats, big ? t("period7") : t("period24")));
  } catch (e) { card.append(el("p", { class: "error", text: e.message })); }
  return card;
}

async function loadWatches(only) {
  const box = document.getElementById("watches");
  const data = await api("/api/watches");
  const select = document.getElementById("watch");
  const keep = select.value;
  while (select.options.length > 1) select.remove(1);
  for (const w of data.watches) select.append(el("option", { value: w.name, text: w.name }));
  select.value = keep;
  const list = only ? data.watches.filter(w => w.name === only) : data.watches;
  if (only && !list.length) throw new Error(`no watch named ${only}`);
  const cards = await Promise.all(list.map(w => watchCard(w, !!only)));
  box.replaceChildren(...cards);
  return data;
}

// ---- alerts ----

function alertItem(a) {
  const ev = a.event;
  const title = el("p", { class: "alert-title" },
    stateBadge(a.state), " ",
    el("strong", {}, el("a", { href: "/watch/" + encodeURIComponent(a.watch) }, a.watch)),
    " — " + a.rule + " (" + a.severity + ")",
    a.since ? " · " + t("since2", fmtTime(a.since)) : "");
  const li = el("li", { class: "alert sev-" + a.severity }, title);
  if (isAdmin && a.state === "firing") {
    li.append(adminButton(t("ack"), "/api/alerts/" + encodeURIComponent(a.watch + "/" + a.rule) + "/ack",
      null, () => t("acked")));
  }
  if (ev) {
    // In the daemon's language (summary_local); `summary` is the English machine text.
    li.append(el("p", { class: "alert-summary", text: ev.summary_local || ev.summary }));
    const why = [ev.expected > 0 ? t("observed", ev.observed, Number(ev.expected).toFixed(1)) : t("observedOnly", ev.observed), t("negShare", pct(ev.negative_share))];
    li.append(el("p", { class: "muted", text: why.join(" · ") }));
    const terms = (ev.emerging_terms && ev.emerging_terms.length ? ev.emerging_terms.map(x => x.term) : ev.top_terms) || [];
    if (terms.length) li.append(el("p", { class: "muted", text: t("terms", terms.join(", ")) }));
    if (ev.top_mentions && ev.top_mentions.length) {
      li.append(el("ul", { class: "top" }, ...ev.top_mentions.slice(0, 3).map(m =>
        el("li", {}, safeLink(m.url, m.title || t("untitled")), m.author ? " " + t("by", m.author) : ""))));
    }
  }
  return li;
}

async function loadAlerts(only) {
  const data = await api("/api/alerts" + (only ? "?watch=" + encodeURIComponent(only) : ""));
  const ul = document.getElementById("alerts");
  ul.replaceChildren(...data.active.map(alertItem));
  document.getElementById("no-alerts").hidden = data.active.length > 0;
}

// ---- search ----

// Only http(s) links are made clickable: a mention's URL is untrusted.
function safeLink(url, text) {
  try {
    const u = new URL(url);
    if (u.protocol === "http:" || u.protocol === "https:") {
      return el("a", { href: u.href, rel: "noopener noreferrer nofollow", target: "_blank" }, text);
    }
  } catch (_) { /* not a URL */ }
  return el("span", {}, text);
}

function sentimentOf(m) {
  if (m.sentiment === undefined || m.sentiment === null) return "neu";
  return m.sentiment <= -0.05 ? "neg" : m.sentiment >= 0.05 ? "pos" : "neu";
}

function resultItem(m) {
  const s = sentimentOf(m);
  const text = (m.text || "").length > 280 ? m.text.slice(0, 277) + "…" : (m.text || "");
  return el("li", { class: "result" },
    el("p", { class: "result-title" }, safeLink(m.url, m.title || t("untitled"))),
    el("p", { class: "muted" },
      fmtTime(m.published) + " · " + m.source + (m.author ? " · " + m.author : "") + " · ",
      el("span", { class: "tone tone-" + s, text: t(s) })),
    text ? el("p", { class: "excerpt", text }) : null);
}

let nextCursor = null;

function searchParams() {
  const p = new URLSearchParams();
  for (const k of ["q", "watch", "sentiment", "since"]) {
    const v = document.getElementById(k).value.trim();
    if (v) p.set(k, v);
  }
  if (untilParam) p.set("until", untilParam);
  return p;
}

let untilParam = "";

async function runSearch(more) {
  const p = searchParams();
  p.set("limit", "20");
  if (more && nextCursor) p.set("cursor", nextCursor);
  const data = await api("/api/mentions?" + p.toString());
  const ol = document.getElementById("results");
  const items = data.mentions.map(resultItem);
  if (more) ol.append(...items); else ol.replaceChildren(...items);
  nextCursor = data.next;
  document.getElementById("more").hidden = !nextCursor;
  const n = ol.children.length;
  document.getElementById("results-count").textContent = n ? t("results", n + (nextCursor ? "+" : "")) : t("noResults");
}

// `/?q=watch:acme&since=…&until=…` (alert emails): the watch term moves to
// the watch filter, the times to the filters.
function fromUrl() {
  const u = new URLSearchParams(location.search);
  let q = u.get("q") || "";
  const w = q.match(/(?:^|\s)watch:("([^"]+)"|(\S+))/);
  const watch = pageWatch() || (w ? (w[2] || w[3]) : "");
  if (w) q = q.replace(w[0], " ").trim();
  document.getElementById("q").value = q;
  const since = u.get("since") || "";
  const sel = document.getElementById("since");
  if (since && ![...sel.options].some(o => o.value === since)) {
    sel.append(el("option", { value: since, text: /^\d{4}-/.test(since) ? fmtTime(since) : since }));
  }
  sel.value = since;
  untilParam = u.get("until") || "";
  for (const k of ["sentiment"]) if (u.get(k)) document.getElementById(k).value = u.get(k);
  return { watch, search: !!(u.get("q") || since || pageWatch()) };
}

// ---- admin ----

async function loadAccess() {
  const who = await api("/api/whoami");
  document.getElementById("access").textContent = t("access_" + (who.access || "none"));
  isAdmin = who.access === "admin";
  document.getElementById("admin").hidden = !isAdmin;
}

async function reloadRules() {
  const status = document.getElementById("reload-status");
  status.textContent = "…";
  try {
    const r = await api("/-/reload", { method: "POST" });
    status.textContent = t("reloaded", r.watches);
    await refresh();
  } catch (e) {
    status.textContent = t("refused") + " " + e.message;
  }
}

// ---- page ----

async function refresh() {
  const only = pageWatch();
  try {
    await loadAccess();
    await Promise.all([loadWatches(only), loadAlerts(only)]);
    showError(null);
  } catch (e) { showError(e); }
}

async function start() {
  translate();
  const only = pageWatch();
  document.getElementById("back").hidden = !only;
  document.getElementById("token").value = token();
  for (const b of document.querySelectorAll("[data-lang]")) {
    b.addEventListener("click", () => {
      lang = b.dataset.lang;
      localStorage.setItem("veilleur.lang", lang);
      translate();
      refresh();
      if (document.getElementById("results").children.length) runSearch(false).catch(showError);
    });
  }
  document.getElementById("token-form").addEventListener("submit", ev => {
    ev.preventDefault();
    sessionStorage.setItem("veilleur.token", document.getElementById("token").value.trim());
    refresh();
  });
  document.getElementById("search").addEventListener("submit", ev => {
    ev.preventDefault();
    untilParam = "";
    runSearch(false).catch(showError);
  });
  document.getElementById("more").addEventListener("click", () => runSearch(true).catch(showError));
  document.getElementById("reload").addEventListener("click", reloadRules);
  const wanted = fromUrl();
  await refresh();
  if (wanted.watch) document.getElementById("watch").value = wanted.watch;
  if (wanted.search) await runSearch(false).catch(showError);
  document.body.dataset.ready = "true";
  setInterval(refresh, 60000);
}

document.addEventListener("DOMContentLoaded", start);
