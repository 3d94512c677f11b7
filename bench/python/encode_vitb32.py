#!/usr/bin/python3
"""Image-encoding throughput of OpenAI's CLIP in PyTorch-in-Python: the baseline of bench/encode.ts.

Loads the given OpenAI-named safetensors weights (written by our side) into the model of
openai_clip.py (OpenAI's clip/model.py), then times `encode_image` on a fixed batch under
torch.inference_mode(), with the given number of intra-op threads. Prints one JSON line.

  /usr/bin/python3 bench/python/encode_vitb32.py --weights W.safetensors --pixels P.f32 \
      --batch 32 --size 224 --iters 5 --threads 2 [--out E.f32]

With --serve it loads, warms up, prints {"ready": ...} and then answers stdin commands one line
each: "run" times one batch ({"t": seconds, "cpu": process CPU seconds}), "out PATH" writes the
embeddings, "quit" exits. The caller alternates single batches with its own, so both sides see
the same momentary machine load.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from openai_clip import build_model, read_safetensors  # noqa: E402


def serve(model, pixels, a, load_s):
    with torch.inference_mode():
        for _ in range(a.warmup):
            emb = model.encode_image(pixels)
        print(json.dumps({"ready": True, "load_s": load_s, "threads": torch.get_num_threads(),
                          "torch": torch.__version__, "python": sys.version.split()[0]}), flush=True)
        for line in sys.stdin:
            cmd = line.strip().split(" ", 1)
            if cmd[0] == "run":
                t, c = time.perf_counter(), time.process_time()
                emb = model.encode_image(pixels)
                print(json.dumps({"t": time.perf_counter() - t, "cpu": time.process_time() - c}), flush=True)
            elif cmd[0] == "out":
                emb.float().numpy().astype(np.float32).tofile(cmd[1])
                print(json.dumps({"ok": True}), flush=True)
            else:
                break


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--pixels", required=True, help="raw float32 [batch, 3, size, size]")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", help="write the embeddings of the batch (raw float32) here")
    ap.add_argument("--serve", action="store_true", help="answer run/out/quit commands on stdin")
    a = ap.parse_args()
    try:
        torch.set_num_threads(a.threads)
        t0 = time.perf_counter()
        sd, _ = read_safetensors(a.weights)
        model = build_model(sd)
        del sd
        load_s = time.perf_counter() - t0
        pixels = torch.from_numpy(np.fromfile(a.pixels, dtype=np.float32).reshape(a.batch, 3, a.size, a.size))
        if a.serve:
            serve(model, pixels, a, load_s)
            return
        times = []
        with torch.inference_mode():
            for _ in range(a.warmup):
                emb = model.encode_image(pixels)
            for _ in range(a.iters):
                t = time.perf_counter()
                emb = model.encode_image(pixels)
                times.append(time.perf_counter() - t)
        if a.out:
            emb.float().numpy().astype(np.float32).tofile(a.out)
        print(json.dumps({"times": times, "load_s": load_s, "threads": torch.get_num_threads(),
                          "torch": torch.__version__, "python": sys.version.split()[0]}))
    except Exception as e:  # reported to the caller as JSON
        print(json.dumps({"error": "%s: %s" % (type(e).__name__, e)}))
        sys.exit(1)


if __name__ == "__main__":
    main()
