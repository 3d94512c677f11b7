#!/usr/bin/python3
"""Baseline for bench/tokenizer.ts: OpenAI CLIP's `simple_tokenizer` algorithm (public, MIT), written
out here with Debian's python3 + python3-regex so it runs without the `clip` package.

The code below follows clip/simple_tokenizer.py line for line (bytes_to_unicode, get_pairs,
basic_clean, whitespace_clean, the BPE loop with its cache, the pre-tokenisation pattern,
`encode`, and clip.tokenize's start/end/truncate/zero-pad). `ftfy.fix_text` is used when the
ftfy package can be imported (as in OpenAI's code); pass --no-ftfy to leave it out (a faster,
stricter baseline). Reads one JSON string per line, times one cold pass (empty BPE cache) and
--repeat warm passes (wall clock and process CPU time), writes the ids as JSON lines, prints a JSON
summary on stdout.

Usage: /usr/bin/python3 bench/python/simple_tokenizer_bench.py --bpe bpe_simple_vocab_16e6.txt.gz \
         --texts texts.jsonl [--ids-out ids.jsonl] [--repeat 3] [--no-ftfy]
"""
import argparse
import gzip
import html
import json
import sys
import time
from functools import lru_cache

import regex as re


@lru_cache()
def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(2**8):
        if b not in bs:
            bs.append(b)
            cs.append(2**8 + n)
            n += 1
    cs = [chr(n) for n in cs]
    return dict(zip(bs, cs))


def get_pairs(word):
    pairs = set()
    prev_char = word[0]
    for char in word[1:]:
        pairs.add((prev_char, char))
        prev_char = char
    return pairs


def make_basic_clean(use_ftfy):
    if use_ftfy:
        import ftfy

        def basic_clean(text):
            text = ftfy.fix_text(text)
            text = html.unescape(html.unescape(text))
            return text.strip()
    else:
        def basic_clean(text):
            text = html.unescape(html.unescape(text))
            return text.strip()
    return basic_clean


def whitespace_clean(text):
    text = re.sub(r"\s+", " ", text)
    text = text.strip()
    return text


class SimpleTokenizer(object):
    def __init__(self, bpe_path, use_ftfy=True):
        self.basic_clean = make_basic_clean(use_ftfy)
        self.byte_encoder = bytes_to_unicode()
        self.byte_decoder = {v: k for k, v in self.byte_encoder.items()}
        merges = gzip.open(bpe_path).read().decode("utf-8").split("\n")
        merges = merges[1:49152 - 256 - 2 + 1]
        merges = [tuple(merge.split()) for merge in merges]
        vocab = list(bytes_to_unicode().values())
        vocab = vocab + [v + "</w>" for v in vocab]
        for merge in merges:
            vocab.append("".join(merge))
        vocab.extend(["<|startoftext|>", "<|endoftext|>"])
        self.encoder = dict(zip(vocab, range(len(vocab))))
        self.decoder = {v: k for k, v in self.encoder.items()}
        self.bpe_ranks = dict(zip(merges, range(len(merges))))
        self.cache = {"<|startoftext|>": "<|startoftext|>", "<|endoftext|>": "<|endoftext|>"}
        self.pat = re.compile(
            r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
            re.IGNORECASE,
        )

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        pairs = get_pairs(word)

        if not pairs:
            return token + "</w>"

        while True:
            bigram = min(pairs, key=lambda pair: self.bpe_ranks.get(pair, float("inf")))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            new_word = []
            i = 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                    new_word.extend(word[i:j])
                    i = j
                except ValueError:
                    new_word.extend(word[i:])
                    break

                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            new_word = tuple(new_word)
            word = new_word
            if len(word) == 1:
                break
            else:
                pairs = get_pairs(word)
        word = " ".join(word)
        self.cache[token] = word
        return word

    def encode(self, text):
        bpe_tokens = []
        text = whitespace_clean(self.basic_clean(text)).lower()
        for token in re.findall(self.pat, text):
            token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            bpe_tokens.extend(self.encoder[bpe_token] for bpe_token in self.bpe(token).split(" "))
        return bpe_tokens


def tokenize(tok, texts, context_length=77):
    """clip.tokenize(texts, context_length, truncate=True), returning lists instead of a tensor."""
    sot = tok.encoder["<|startoftext|>"]
    eot = tok.encoder["<|endoftext|>"]
    out = []
    for text in texts:
        tokens = [sot] + tok.encode(text) + [eot]
        if len(tokens) > context_length:
            tokens = tokens[:context_length]
            tokens[-1] = eot
        out.append(tokens + [0] * (context_length - len(tokens)))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bpe", required=True)
    ap.add_argument("--texts", required=True, help="JSON lines, each a string")
    ap.add_argument("--ids-out", help="write the encode() ids of each text as JSON lines")
    ap.add_argument("--repeat", type=int, default=3, help="warm passes after the cold one")
    ap.add_argument("--no-ftfy", action="store_true")
    args = ap.parse_args()

    use_ftfy = not args.no_ftfy
    if use_ftfy:
        try:
            import ftfy  # noqa: F401
        except ImportError:
            print(json.dumps({"error": "ftfy not importable; rerun with --no-ftfy"}))
            sys.exit(3)

    with open(args.texts, encoding="utf-8") as f:
        texts = [json.loads(line) for line in f if line.strip()]

    t0 = time.perf_counter()
    tok = SimpleTokenizer(args.bpe, use_ftfy=use_ftfy)
    load_s = time.perf_counter() - t0

    t0, c0 = time.perf_counter(), time.process_time()
    ids = [tok.encode(t) for t in texts]
    cold_s, cold_cpu_s = time.perf_counter() - t0, time.process_time() - c0

    warm, warm_cpu = [], []
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        for t in texts:
            tok.encode(t)
        warm.append(time.perf_counter() - t0)
        warm_cpu.append(time.process_time() - c0)

    t0, c0 = time.perf_counter(), time.process_time()
    tokenize(tok, texts)
    tokenize_s, tokenize_cpu_s = time.perf_counter() - t0, time.process_time() - c0

    if args.ids_out:
        with open(args.ids_out, "w") as f:
            for row in ids:
                f.write(json.dumps(row) + "\n")

    print(json.dumps({
        "ftfy": use_ftfy,
        "texts": len(texts),
        "tokens": sum(len(r) for r in ids),
        "load_s": load_s,
        "cold_s": cold_s,
        "warm_s": min(warm) if warm else None,
        "tokenize77_s": tokenize_s,
        "cold_cpu_s": cold_cpu_s,
        "warm_cpu_s": min(warm_cpu) if warm_cpu else None,
        "tokenize77_cpu_s": tokenize_cpu_s,
        "python": sys.version.split()[0],
    }))


if __name__ == "__main__":
    main()
