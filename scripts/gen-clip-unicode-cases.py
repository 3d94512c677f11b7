#!/usr/bin/python3
"""Regenerate test/fixtures/text/clip_unicode_cases.json: expected normalisation (ftfy.fix_text,
basic_clean, the full CLIP normalisation, html.unescape twice) and OpenAI token ids for texts that
exercise the non-ASCII and HTML paths of lib/text/normalize.ts and lib/text/clip-tokenizer.ts.

Needs ftfy importable (e.g. PYTHONPATH holding ftfy + wcwidth) and the shared BPE vocabulary:
  PYTHONPATH=/path/to/ftfy /usr/bin/python3 scripts/gen-clip-unicode-cases.py ../shared/clip/bpe_simple_vocab_16e6.txt.gz \
      > test/fixtures/text/clip_unicode_cases.json
"""
import html
import json
import os
import re
import sys

import ftfy

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "bench", "python"))
from simple_tokenizer_bench import SimpleTokenizer  # noqa: E402

NORM = [
    "&amp;amp;lt;b&gt; ok",
    "a < b &amp;amp;lt; c",
    "line1 &amp;lt;\nline2 < &amp;amp;",
    "&EACUTE;T&Eacute; &SZLIG; &notit; &not &copy &#x41;&#66;&#0;&#128;&#x110000;&#xD800;&#11; x",
    "\u201cQuoted\u201d \u2018single\u2019 \u02bcmod \u201e low",
    "\ufb01ne \ufb02at \ufb00 \ufb03 \ufb04 \u0132 \u01c6",
    "\uff21\uff22\uff23\uff11\uff12\u3000\uff08x\uff09 \uff61\uff62",
    "ctrl\x00\x01\x08\x0b\x0e\x1f\x7f keep\ttab\ufeffbom \u206a\ufffc",
    "c1 \x80 \x85 \x91 \x92 \x81",
    "\x1b[31mred\x1b[0m plain",
    "cr\r\nlf\rcr\u2028ls\u2029ps",
    "e\u0301 A\u030a \u1e9b\u0323",
    "NBSP\u00a0and\u2003em\u202fnarrow\u3000ideo\x1cfs\x85nel",
    "\u0130stanbul \u03a3\u039f\u03a3 \u1e9e STRASSE",
    "3.5\u00a0cm \u00b0C \u00b1 2 \u2013 \u2014 \u00d7 \u00bd",
]
MORE = [
    "Größe 3,5 cm – Befund: kein Erguss.", "naïve café résumé", "Temp 38.5°C ± 0.2", "Ⅻ ½ ² ① 𝒥ohn",
    "emoji 🙂👍🏽 ok", "中文报告 正常", "\u0130STANBUL \u03a3\u039f\u03a3 'ſ 'S", "HELLO World's <|STARTOFTEXT|> x<|endoftext|>y",
    "it'S THEY'RE we'Ve", "a'b 'x '' ''s", "\u00a0\u2003lead and trail\u3000", "tab\there\x1cfs\x1dgs\x85nel",
    "x\u200by zero-width", "combining e\u0301 vs \u00e9",
]


def basic_clean(t):
    return html.unescape(html.unescape(ftfy.fix_text(t))).strip()


def main():
    tok = SimpleTokenizer(sys.argv[1], use_ftfy=True)
    norm = [{
        "text": t,
        "ftfy": ftfy.fix_text(t),
        "basic": basic_clean(t),
        "norm": re.sub(r"\s+", " ", basic_clean(t)).strip().lower(),
        "unescape2": html.unescape(html.unescape(t)),
    } for t in NORM]
    ids = [{"text": t, "ids": tok.encode(t)} for t in NORM + MORE]
    json.dump({
        "_comment": "Expected values from Python html + ftfy %s + OpenAI simple_tokenizer (scripts/gen-clip-unicode-cases.py)." % ftfy.__version__,
        "normalization": norm,
        "ids": ids,
    }, sys.stdout, ensure_ascii=True, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
