"""The Python reference of the end-to-end bench (benches/e2e.rs).

What a competent Python user would script for the same job as veilleur's
ingest path: fetch the feeds (a thread pool), parse them with feedparser,
identify the language (langid, restricted to veilleur's seven languages:
fastText's model must be downloaded from a model hub, which this bench
cannot do, and langid ships its model inside the package), score sentiment
with VADER (vaderSentiment for English, vaderSentiment-fr for French), match
every watch with one Aho-Corasick automaton over every rule term
(pyahocorasick) and a per-watch boolean check, and index every mention with
tantivy-py, committed once at the end.

Prints one JSON line: documents, matches, the CPU seconds spent before the
first fetch (imports, models, lexicons) and seconds per stage. Run by
benches/e2e.rs from its own virtual environment (benches/e2e/run makes it);
never needed by the tests.
"""

import argparse
import concurrent.futures
import datetime
import html
import json
import os
import re
import resource
import time
import unicodedata
import urllib.request

import ahocorasick
import feedparser
import langid
import tantivy
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer as VaderEn
from vaderSentiment_fr.vaderSentiment import SentimentIntensityAnalyzer as VaderFr

TAGS = re.compile(r"<[^>]+>")
# Words, with the sigil of @handles and #hashtags kept (as veilleur does).
TOKEN = re.compile(r"[@#]?\w+")


def fold(text):
    """Lowercase without diacritics, as veilleur's analyzer."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def tokens(text):
    # French elision: l'arnaque -> l arnaque (the apostrophe splits).
    return TOKEN.findall(fold(text).replace("'", " ").replace("\u2019", " "))


def fetch(url):
    with urllib.request.urlopen(url, timeout=60) as r:
        return r.read()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--urls", required=True)
    p.add_argument("--rules", required=True)
    p.add_argument("--index", required=True)
    a = p.parse_args()
    stages = {}

    def stage(name, t0):
        stages[name] = stages.get(name, 0.0) + time.perf_counter() - t0

    t = time.perf_counter()
    watches = json.load(open(a.rules))
    automaton = ahocorasick.Automaton()
    for wi, w in enumerate(watches):
        for role in ("all", "any", "none"):
            for term in w[role]:
                key = " " + " ".join(tokens(term)) + " "
                if key.strip():
                    hits = automaton.get(key, [])
                    hits.append((wi, role))
                    automaton.add_word(key, hits)
    automaton.make_automaton()
    langid.set_languages(["fr", "en", "es", "de", "it", "pt", "nl"])
    langid.classify("warm up")
    vader_en, vader_fr = VaderEn(), VaderFr()
    builder = tantivy.SchemaBuilder()
    for name in ("id", "source", "lang", "watches"):
        builder.add_text_field(name, stored=True, tokenizer_name="raw")
    for name in ("url", "title", "text", "author"):
        builder.add_text_field(name, stored=True)
    builder.add_float_field("sentiment", stored=True)
    builder.add_date_field("published", stored=True, indexed=True)
    os.makedirs(a.index, exist_ok=True)
    index = tantivy.Index(builder.build(), path=a.index)
    writer = index.writer(heap_size=128_000_000)
    stage("setup", t)
    ru = resource.getrusage(resource.RUSAGE_SELF)
    setup_cpu = ru.ru_utime + ru.ru_stime

    urls = [u for u in open(a.urls).read().split("\n") if u]
    t = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        bodies = list(pool.map(fetch, urls))
    stage("fetch", t)

    docs = 0
    matches = 0
    for url, body in zip(urls, bodies):
        t = time.perf_counter()
        parsed = feedparser.parse(body)
        entries = []
        for e in parsed.entries:
            title = e.get("title", "")
            text = html.unescape(TAGS.sub(" ", e.get("summary", "")))
            published = e.get("published_parsed") or e.get("updated_parsed")
            entries.append((e.get("id") or e.get("link"), e.get("link", ""), title,
                            text, e.get("author", ""), published))
        stage("parse", t)
        for eid, link, title, text, author, published in entries:
            whole = title + " " + text
            t = time.perf_counter()
            lang, _ = langid.classify(whole)
            stage("language", t)
            t = time.perf_counter()
            analyzer = vader_fr if lang == "fr" else vader_en
            score = analyzer.polarity_scores(whole)["compound"]
            stage("sentiment", t)
            t = time.perf_counter()
            seen = {}
            for part in (title, text):
                haystack = " " + " ".join(tokens(part)) + " "
                for _, hits in automaton.iter(haystack):
                    for wi, role in hits:
                        seen.setdefault(wi, set()).add(role)
            matched = []
            for wi, roles in seen.items():
                w = watches[wi]
                if w["all"] and "all" not in roles:
                    continue
                if w["any"] and "any" not in roles:
                    continue
                if "none" in roles:
                    continue
                if w["langs"] and lang not in w["langs"]:
                    continue
                matched.append(w["name"])
            matches += len(matched)
            stage("match", t)
            t = time.perf_counter()
            doc = tantivy.Document()
            doc.add_text("id", eid)
            doc.add_text("source", url)
            doc.add_text("lang", lang)
            for name in matched:
                doc.add_text("watches", name)
            doc.add_text("url", link)
            doc.add_text("title", title)
            doc.add_text("text", text)
            doc.add_text("author", author)
            doc.add_float("sentiment", score)
            if published:
                doc.add_date("published", datetime.datetime(*published[:6]))
            writer.add_document(doc)
            docs += 1
            stage("index", t)
    t = time.perf_counter()
    writer.commit()
    writer.wait_merging_threads()
    stage("commit", t)
    print(json.dumps({"docs": docs, "matches": matches, "setup_cpu": setup_cpu,
                      "stages": stages}))


if __name__ == "__main__":
    main()
