#!/usr/bin/env python3
"""Makes tatoeba-fr.tsv.gz: French sentences labelled by the shipped English
model through their English translation (round senti3, ../README.md).

    mkdir -p /tmp/src
    # Tatoeba en-fr pairs (CC BY 2.0 FR, tatoeba.org contributors), as packaged
    # by manythings.org/anki, from the copy in
    # Soubhagya264/Language_Translator-Encoder-Decoder- commit f6c89651306aa93d2f0f0447ce15b553a530abb0
    git -C Language_Translator-Encoder-Decoder- show f6c8965:fra.txt > /tmp/src/fra.txt
    cargo build --release
    python3 models/data/tatoeba.py /tmp/src target/release/veilleur models/data

The input's SHA-256 and the teacher's (models/sentiment-en.bin) are checked:
another file is an error, since the labels are the teacher's. Each line is
`English<TAB>French`; the copy ends inside a line, which is dropped. The
English side is scored by `veilleur sentiment` with `"lang":"en"` (the
English file alone); its French side gets that label. Ids are
`tatoeba-fr:<line>` (line number in fra.txt, from 1), except a positive or
negative label whose score is less than 0.5 away from 0, which gets
`tatoeba-fr-low:<line>` so that training can leave the teacher's unsure
calls out (`--exclude tatoeba-fr-low:`). French texts are cleaned and
de-duplicated as in import.py (the first pair of a repeated French text
keeps it). Order is kept."""
import gzip
import hashlib
import json
import subprocess
import sys
from pathlib import Path


def clean(text):
    return " ".join(text.split())


class Out:
    """As in import.py: repeated (lang, text) rows and texts under 3
    characters dropped; gzip with no name and no time stamp."""

    def __init__(self, path):
        self.path, self.text, self.seen, self.n = path, ["id\tlang\tlabel\ttext\n"], set(), 0

    def row(self, id_, lang, label, text):
        text = clean(text)
        if len(text) < 3 or (lang, text) in self.seen:
            return
        self.seen.add((lang, text))
        self.text.append(f"{id_}\t{lang}\t{label}\t{text}\n")
        self.n += 1

    def close(self):
        data = "".join(self.text).encode("utf-8")
        with open(self.path, "wb") as raw:
            with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=raw, mtime=0) as f:
                f.write(data)
        print(f"{self.path}: {self.n} rows, uncompressed sha256 {hashlib.sha256(data).hexdigest()}")

FRA_SHA = "ab1d28db65ab062e06d7fc3b399872d431becfb8af152268dc4b6cdf50260530"
TEACHER = Path(__file__).resolve().parent.parent / "sentiment-en.bin"
TEACHER_SHA = "5199a73d4e64ce6a159c72e2e2c14ee504caf31ce3a586b94c6b4ce4bab1ca03"
CONFIDENT = 0.5

src, veilleur, dst = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
raw = (src / "fra.txt").read_bytes()
if hashlib.sha256(raw).hexdigest() != FRA_SHA:
    sys.exit("fra.txt: not the recorded upstream file (sha256 differs)")
if hashlib.sha256(TEACHER.read_bytes()).hexdigest() != TEACHER_SHA:
    sys.exit(f"{TEACHER}: not the teacher these labels were made with (sha256 differs)")

lines = raw.decode("utf-8").split("\n")
if not raw.endswith(b"\n"):
    lines = lines[:-1]  # the copy's last line is cut short
pairs = []
for n, line in enumerate(lines, 1):
    parts = line.split("\t")
    if len(parts) >= 2 and clean(parts[0]) and clean(parts[1]):
        pairs.append((n, clean(parts[0]), clean(parts[1])))

query = "".join(json.dumps({"id": n, "text": en, "lang": "en"}) + "\n" for n, en, _ in pairs)
run = subprocess.run([str(veilleur), "sentiment"], input=query.encode(), capture_output=True, check=True)
scored = {}
for line in run.stdout.decode().splitlines():
    r = json.loads(line)
    scored[r["id"]] = (r["label"], r["score"])
if len(scored) != len(pairs):
    sys.exit(f"the teacher scored {len(scored)} of {len(pairs)} lines")

out = Out(dst / "tatoeba-fr.tsv.gz")
for n, _, fr in pairs:
    label, score = scored[n]
    unsure = label != "neu" and abs(score) < CONFIDENT
    out.row(f"tatoeba-fr{'-low' if unsure else ''}:{n}", "fr", label, fr)
out.close()
