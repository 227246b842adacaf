#!/usr/bin/env python3
"""Regenerates the third-party training files of this folder (goemotions-en,
xed-en, xed-fr, tes-en, smile-en) from the upstream files recorded in ../README.md.

    mkdir -p /tmp/src
    # GoEmotions (Apache-2.0 repository; data CC BY 4.0), the split files as in
    # google-research/google-research goemotions/data/, from the copy in
    # monologg/GoEmotions-pytorch commit b75f9d3a8b76bc1060687925b04ca98a1b8ea66b
    for s in train dev test; do git -C GoEmotions-pytorch show b75f9d3:data/original/$s.tsv > /tmp/src/go-$s.tsv; done
    # XED (CC BY 4.0), Helsinki-NLP/XED commit 76666d251f147cf518071bef4f8415dab6b96115
    for f in AnnotatedData/en-annotated.tsv AnnotatedData/neu_en.txt Projections/fr-projections.tsv \
             subtitle-retrieval/students/pairs-fr.txt; do git -C XED show 76666d2:$f > /tmp/src/$(basename $f); done
    # Twitter Entity Sentiment Analysis (Kaggle, jp797498e; CC0 1.0), one row per
    # tweet id, from the copy in arjund1999learn/DataSets commit 0d09885ec440fbdd01613a8d9d36d27d8eece403
    git -C DataSets show 0d09885:twitter_training.csv > /tmp/src/twitter_training.csv
    # SMILE Twitter Emotion (Wang et al. 2016, figshare 3187909; annotations CC BY), all
    # 3,085 rows, from the copy in pitithree/Data commit d3f8bd92ca03bdbfce9532bd8a51d070149d074a
    git -C Data show d3f8bd9:smile-annotations-final.csv > /tmp/src/smile-annotations-final.csv
    python3 models/data/import.py /tmp/src models/data [HELDOUT_DIR]

The inputs' SHA-256 are checked (a different file is an error). Labels:

* GoEmotions: Google's own sentiment grouping (goemotions/data/sentiment_dict.json):
  every label positive -> pos, every label negative -> neg, only `neutral`
  -> neu; rows mixing groups, or with an ambiguous emotion (realization,
  surprise, curiosity, confusion), are dropped. Train split only (with a
  HELDOUT_DIR, dev and test go to HELDOUT_DIR/goemotions-en-heldout.tsv, for
  choosing settings; not shipped).
* XED: anger, disgust, fear, sadness -> neg; joy, trust -> pos;
  anticipation and surprise are ignored; a row with both polarities, or none,
  is dropped. English neutral lines (neu_en.txt) -> neu; French neutral lines
  are the French side of pairs-fr.txt whose English side is a neu_en.txt line.

* Twitter Entity Sentiment (tes-en): Positive -> pos, Negative -> neg,
  Neutral -> neu, with ids `tes:<entity>:<tweet id>`; Irrelevant rows (the
  tweet is not about the entity) -> neu with ids `tes-irr:<entity>:<tweet id>`,
  so that training can leave them out (`--exclude tes-irr:`) or keep them.
  Rows whose normalised text (lower case, letters and digits only) was seen
  before are dropped (retweets and reposts), and so is `<unavailable>`.
* SMILE (smile-en): tweets to British museums' handles. happy -> pos;
  angry, disgust, sad (alone or together) -> neg; nocode (no emotion) ->
  neu; surprise is ignored (happy|surprise -> pos, surprise alone dropped);
  both polarities (happy|sad) dropped; not-relevant dropped. Ids
  `smile:<row>` (data row number, from 1); the rows whose number starts
  with the digit 1 are the held-out rows of round senti2 (`--exclude
  smile:1`). Duplicate normalised texts dropped, as for tes-en.

Texts: whitespace collapsed, empty and duplicate (text, lang) rows dropped,
rows shorter than 3 characters dropped; order kept as upstream. Written
gzip-compressed (level 9, no name, no time stamp: the same bytes each run
with the same zlib); the SHA-256 of the uncompressed TSVs is in ../README.md."""
import csv
import gzip
import re
import hashlib
import sys
from pathlib import Path

src, dst = Path(sys.argv[1]), Path(sys.argv[2])
heldout = Path(sys.argv[3]) if len(sys.argv) > 3 else None

SHA = {
    "go-train.tsv": "1c254a142be5c00e80d819b9ae1bbd36d94b2eeb8f4b1271846508d57e57d9c5",
    "go-dev.tsv": "575489c079c9de1097062a01738f998590d6b7ead66dd1c9fd1d2ba01fd8bc62",
    "go-test.tsv": "0587b2dd8b27b97352adbfc3fb083d46005c8946657fdc2b1ca8b1cc7f1f8be4",
    "en-annotated.tsv": "26ac0254fbdb8b09cf2b00d44041d9084ece31bd200ae7c0e0662fbd8b037d98",
    "neu_en.txt": "6e8b38af83b80fb64ec1139007973b1f09ec16d48549e82de22423cdba259f08",
    "fr-projections.tsv": "261c9ed2de974d8e38882699825bd2905ae0482c620dd15200bc5f43055b04b6",
    "pairs-fr.txt": "572fb2f3065fcfa7eabb6e1cb4ea168542acb774e6ee4c16d5c688c21908b7a2",
    "twitter_training.csv": "4034d1271f61556522ab995f59493aaa6bdd7aa1db6a45413501756b48f4178c",
    "smile-annotations-final.csv": "5938e5e8124454eac61672fe53c61733f7836cfd76b16b8f4ba94986f04a1d39",
}
for name, want in SHA.items():
    got = hashlib.sha256((src / name).read_bytes()).hexdigest()
    if got != want:
        sys.exit(f"{name}: sha256 {got}, expected {want}: not the recorded upstream file")

GO_LABELS = ("admiration amusement anger annoyance approval caring confusion curiosity "
             "desire disappointment disapproval disgust embarrassment excitement fear "
             "gratitude grief joy love nervousness optimism pride realization relief "
             "remorse sadness surprise neutral").split()
GO_POS = {"amusement", "excitement", "joy", "love", "desire", "optimism", "caring",
          "pride", "admiration", "gratitude", "relief", "approval"}
GO_NEG = {"fear", "nervousness", "remorse", "embarrassment", "disappointment", "sadness",
          "grief", "disgust", "anger", "annoyance", "disapproval"}
# XED: anger:1, anticipation:2, disgust:3, fear:4, joy:5, sadness:6, surprise:7, trust:8
XED_NEG = {1, 3, 4, 6}
XED_POS = {5, 8}


def clean(text):
    return " ".join(text.split())


class Out:
    def __init__(self, path):
        self.path = path
        self.text = ["id\tlang\tlabel\ttext\n"]
        self.seen = set()
        self.n = 0

    def row(self, id_, lang, label, text):
        text = clean(text)
        if len(text) < 3 or (lang, text) in self.seen:
            return
        self.seen.add((lang, text))
        self.text.append(f"{id_}\t{lang}\t{label}\t{text}\n")
        self.n += 1

    def close(self):
        data = "".join(self.text).encode("utf-8")
        if self.path.suffix == ".gz":
            with open(self.path, "wb") as raw:
                with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=raw, mtime=0) as f:
                    f.write(data)
        else:
            self.path.write_bytes(data)
        print(f"{self.path}: {self.n} rows, uncompressed sha256 {hashlib.sha256(data).hexdigest()}")


def goemotions(split, out):
    for line in open(src / f"go-{split}.tsv", encoding="utf-8"):
        parts = line.rstrip("\n").split("\t")
        if len(parts) != 3:
            continue
        text, ids, cid = parts
        names = {GO_LABELS[int(i)] for i in ids.split(",")}
        if names == {"neutral"}:
            label = "neu"
        elif names <= GO_POS:
            label = "pos"
        elif names <= GO_NEG:
            label = "neg"
        else:
            continue
        out.row(f"goemotions:{cid}", "en", label, text)


def xed_label(ids):
    nums = {int(x) for x in ids.replace(" ", "").split(",") if x}
    neg, pos = bool(nums & XED_NEG), bool(nums & XED_POS)
    if neg == pos:
        return None
    return "neg" if neg else "pos"


out = Out(dst / "goemotions-en.tsv.gz")
goemotions("train", out)
out.close()
if heldout:
    held = Out(heldout / "goemotions-en-heldout.tsv")
    goemotions("dev", held)
    goemotions("test", held)
    held.close()

out = Out(dst / "xed-en.tsv.gz")
for i, line in enumerate(open(src / "en-annotated.tsv", encoding="utf-8"), 1):
    parts = line.rstrip("\n").split("\t")
    if len(parts) == 2 and (label := xed_label(parts[1])):
        out.row(f"xed-en:{i}", "en", label, parts[0])
neutral_en = set()
for i, line in enumerate(open(src / "neu_en.txt", encoding="utf-8"), 1):
    parts = line.rstrip("\n").split("\t", 1)
    if len(parts) == 2:
        neutral_en.add(clean(parts[1]))
        out.row(f"xed-en-neu:{i}", "en", "neu", parts[1])
out.close()

out = Out(dst / "xed-fr.tsv.gz")
for i, line in enumerate(open(src / "fr-projections.tsv", encoding="utf-8"), 1):
    parts = line.rstrip("\n").split("\t")
    if len(parts) == 2 and (label := xed_label(parts[1])):
        out.row(f"xed-fr:{i}", "fr", label, parts[0])
for i, line in enumerate(open(src / "pairs-fr.txt", encoding="utf-8"), 1):
    parts = line.rstrip("\n").split("\t")
    if len(parts) == 6 and clean(parts[4]) in neutral_en:
        out.row(f"xed-fr-neu:{i}", "fr", "neu", parts[5])
out.close()

out = Out(dst / "tes-en.tsv.gz")
TES_LABELS = {"Positive": "pos", "Negative": "neg", "Neutral": "neu", "Irrelevant": "neu"}
tes_seen = set()
with open(src / "twitter_training.csv", encoding="utf-8", newline="") as f:
    for parts in csv.reader(f):
        if len(parts) != 4 or parts[2] not in TES_LABELS:
            continue
        tweet_id, entity, sentiment, text = parts
        key = re.sub(r"[\W_]+", "", text.lower())
        if len(key) < 3 or key == "unavailable" or key in tes_seen:
            continue
        tes_seen.add(key)
        prefix = "tes-irr" if sentiment == "Irrelevant" else "tes"
        out.row(f"{prefix}:{entity}:{tweet_id}", "en", TES_LABELS[sentiment], text)
out.close()

out = Out(dst / "smile-en.tsv.gz")
SMILE_NEG = {"angry", "disgust", "sad"}
smile_seen = set()
with open(src / "smile-annotations-final.csv", encoding="utf-8", newline="") as f:
    rows = csv.reader(f)
    next(rows)  # id,text,Category
    for i, parts in enumerate(rows, 1):
        if len(parts) != 3:
            continue
        emotions = set(parts[2].split("|")) - {"surprise"}
        if emotions == {"happy"}:
            label = "pos"
        elif emotions and emotions <= SMILE_NEG:
            label = "neg"
        elif emotions == {"nocode"}:
            label = "neu"
        else:
            continue
        key = re.sub(r"[\W_]+", "", parts[1].lower())
        if len(key) < 3 or key in smile_seen:
            continue
        smile_seen.add(key)
        out.row(f"smile:{i}", "en", label, parts[1])
out.close()
