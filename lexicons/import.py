#!/usr/bin/env python3
"""Regenerates the third-party lexicon files of this folder from the packages
they ship in (see README.md for the exact package versions and checksums).

    pip download --no-deps -d /tmp/lex vaderSentiment==3.3.2 vaderSentiment-fr==1.3.4 textblob-fr==0.2.0 afinn==0.1
    (cd /tmp/lex && for f in *.whl; do unzip -oq "$f"; done && for f in *.tar.gz; do tar xzf "$f"; done)
    python3 lexicons/import.py /tmp/lex lexicons

Only the term and its mean valence are kept; the conversion is otherwise
lossless (no row is dropped except empty ones)."""
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

src, dst = Path(sys.argv[1]), Path(sys.argv[2])


def write(name, header, rows):
    with open(dst / name, "w", encoding="utf-8") as f:
        f.write(header)
        for term, val in rows:
            f.write(f"{term}\t{val}\n")


# VADER (MIT): term TAB mean TAB std TAB ratings
rows = []
for line in open(src / "vaderSentiment/vader_lexicon.txt", encoding="utf-8"):
    parts = line.rstrip("\n").split("\t")
    if len(parts) >= 2 and parts[0]:
        rows.append((parts[0], parts[1]))
write("en-vader.tsv",
      "# term\tvalence (-4..4). From vaderSentiment 3.3.2 (PyPI), vaderSentiment/vader_lexicon.txt, MIT, (c) 2016 C.J. Hutto.\n",
      rows)

# vaderSentiment-fr (MIT): term->valence
rows = []
base = next(src.glob("vaderSentiment_fr-*/vaderSentiment_fr"))
for line in open(base / "fr_lexicon.txt", encoding="utf-8"):
    line = line.rstrip("\n")
    m = re.match(r"^(.*)->(-?[0-9.]+)$", line)
    if m and m.group(1):
        rows.append((m.group(1), m.group(2)))
write("fr-vader.tsv",
      "# term\tvalence (-4..4). From vaderSentiment-fr 1.3.4 (PyPI), vaderSentiment_fr/fr_lexicon.txt, MIT.\n",
      rows)

# textblob-fr / Pattern (PDDL): adjective polarity -1..1, scaled to -4..4.
# Several senses of one form are averaged, as Pattern does.
acc = {}
tree = ET.parse(src / "textblob_fr/fr-sentiment.xml")
for w in tree.getroot().iter("word"):
    form = w.get("form", "").strip().lower()
    if not form:
        continue
    acc.setdefault(form, []).append(float(w.get("polarity", "0")))
rows = []
for form, pols in sorted(acc.items()):
    p = sum(pols) / len(pols)
    if abs(p) >= 0.05:
        rows.append((form, f"{p * 4:.2f}"))
write("fr-pattern.tsv",
      "# term\tvalence (-4..4) = 4 x mean Pattern polarity. From textblob-fr 0.2.0 (PyPI), textblob_fr/fr-sentiment.xml, PDDL (Tom De Smedt, Walter Daelemans, fabelier.org).\n",
      rows)

# AFINN-165 (ODbL 1.0): term TAB integer valence -5..5, copied as is (the
# x0.8 scaling to -4..4 happens at load). Its license goes alongside.
base = next(src.glob("afinn-*/afinn/data"))
rows = []
for line in open(base / "AFINN-en-165.txt", encoding="utf-8"):
    parts = line.rstrip("\n").split("\t")
    if len(parts) == 2 and parts[0]:
        rows.append((parts[0], parts[1]))
write("en-afinn.tsv",
      "# term\tvalence (-5..5, scaled x0.8 at load). AFINN-en-165.txt from the PyPI package afinn 0.1 (afinn/data/), (c) Finn Årup Nielsen, ODbL 1.0 (see README.md).\n",
      rows)
(dst / "en-afinn.LICENSE").write_bytes((base / "LICENSE").read_bytes())
