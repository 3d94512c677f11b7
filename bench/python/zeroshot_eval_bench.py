#!/usr/bin/python3
"""Python baseline for bench/eval.ts: a CheXzero-style zero-shot eval loop in PyTorch on CPU.

For a manifest of images (JSONL with "image" paths relative to it): open each image with PIL, grey -> RGB,
resize the shorter side to R (bicubic) and centre-crop (CLIP's transform), normalise with CLIP's mean/std,
encode batches with OpenAI's CLIP ViT (bench/python/openai_clip.py, random init: speed only), normalise, and
turn the similarities to each label's (positive, negative) prompt embeddings into softmax probabilities.
Prompt embeddings are computed once beforehand (random token ids stand in for the tokenised prompts).

Prints one JSON line: images, seconds (whole loop), images_per_s, encode_images_per_s (forward passes only).
Run: /usr/bin/python3 bench/python/zeroshot_eval_bench.py --manifest M --batch 32 --threads 2
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from openai_clip import CLIP  # noqa: E402

MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)


def preprocess(path, res):
    im = Image.open(path).convert('L').convert('RGB')
    w, h = im.size
    s = res / min(w, h)
    im = im.resize((max(res, round(w * s)), max(res, round(h * s))), Image.BICUBIC)
    w, h = im.size
    left, top = (w - res) // 2, (h - res) // 2
    im = im.crop((left, top, left + res, top + res))
    a = (np.asarray(im, dtype=np.float32) / 255.0 - MEAN) / STD
    return torch.from_numpy(a.transpose(2, 0, 1).copy())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--manifest', required=True)
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--labels', type=int, default=5)
    ap.add_argument('--resolution', type=int, default=224)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    base = os.path.dirname(os.path.abspath(args.manifest))
    paths = []
    with open(args.manifest) as f:
        for line in f:
            if line.strip():
                paths.append(os.path.join(base, json.loads(line)['image']))
    # ViT-B/32: embed 512, vision 12 x 768, patch 32; text 12 x 512, context 77, vocab 49408
    model = CLIP(512, args.resolution, 12, 768, 32, 77, 49408, 512, 8, 12).eval()
    with torch.no_grad():
        toks = torch.randint(1, 49407, (2 * args.labels, 77))
        toks[:, 10] = 49407  # end token position (argmax)
        t = model.encode_text(toks)
        t = t / t.norm(dim=1, keepdim=True)
        pos, neg = t[: args.labels], t[args.labels:]
        # warm-up
        model.encode_image(torch.zeros(2, 3, args.resolution, args.resolution))
        probs = []
        enc = 0.0
        t0 = time.perf_counter()
        for i in range(0, len(paths), args.batch):
            x = torch.stack([preprocess(p, args.resolution) for p in paths[i:i + args.batch]])
            e0 = time.perf_counter()
            f = model.encode_image(x)
            enc += time.perf_counter() - e0
            f = f / f.norm(dim=1, keepdim=True)
            sp, sn = f @ pos.t(), f @ neg.t()
            probs.append(torch.softmax(torch.stack([sp, sn]), dim=0)[0])
        secs = time.perf_counter() - t0
    n = len(paths)
    print(json.dumps({'images': n, 'seconds': secs, 'images_per_s': n / secs, 'encode_images_per_s': n / enc,
                      'torch': torch.__version__, 'threads': torch.get_num_threads()}))


if __name__ == '__main__':
    main()
