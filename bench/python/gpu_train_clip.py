#!/usr/bin/env python3
"""The PyTorch-eager baseline of scripts/gpu-check (issue 10): CLIP training steps on one GPU with
OpenAI's model code (openai_clip.py), bf16 autocast, the relaxed contrastive loss composed in PyTorch
(fp32), clip_grad_norm_, torch.optim.AdamW (weight decay off for biases, norms, embeddings and the logit
scale), TF32 as asked. Each step copies a pinned host batch to the device with non_blocking=True (what a
DataLoader with pin_memory feeds), and the loss is read every --sync-every steps only, as our trainer does.

Prints one JSON object: images/s over the timed steps, ms/step, the losses read, peak device memory.

  python3 bench/python/gpu_train_clip.py --device cuda --batch 256 --size 224 --patch 16 --steps 20
  python3 bench/python/gpu_train_clip.py --device cpu --amp fp32 --batch 4 --size 32 --steps 2 --warmup 1   # plumbing check
"""
import argparse
import json
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clip_setup import make_model, make_optimizer  # noqa: E402
from relaxed_loss import MAX_LOGIT_SCALE, relaxed_loss  # noqa: E402

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--amp", choices=["bf16", "fp16", "fp32"], default="bf16")
    ap.add_argument("--tf32", type=int, default=1)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--patch", type=int, default=16)
    ap.add_argument("--context", type=int, default=77)
    ap.add_argument("--vocab", type=int, default=49408)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--sync-every", type=int, default=10)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--clip", type=float, default=0.8)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    dev = torch.device(a.device)
    cuda = dev.type == "cuda"
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = bool(a.tf32)
        torch.backends.cudnn.allow_tf32 = bool(a.tf32)
    torch.manual_seed(a.seed)
    model = make_model(a.vocab, a.context, a.size, patch=a.patch).to(dev)
    opt = make_optimizer(model, a.lr, 0.2)
    g = torch.Generator().manual_seed(a.seed)
    pixels = torch.randn(a.batch, 3, a.size, a.size, generator=g)
    tokens = torch.randint(1, a.vocab - 2, (a.batch, a.context), generator=g)
    for b in range(a.batch):  # CLIP rows: start, content, end (the highest id: argmax pooling), zeros
        n = 6 + (b * 7) % max(1, a.context - 8)
        tokens[b, 0] = a.vocab - 2
        tokens[b, n + 1] = a.vocab - 1
        tokens[b, n + 2:] = 0
    if cuda:
        pixels = pixels.pin_memory()
        tokens = tokens.pin_memory()
    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": None}[a.amp]
    scaler = torch.cuda.amp.GradScaler() if a.amp == "fp16" else None

    def sync():
        if cuda:
            torch.cuda.synchronize()

    losses = []
    acc = torch.zeros((), device=dev)
    pending = 0
    t_start = None
    total = a.warmup + a.steps
    for i in range(total):
        if i == a.warmup:
            sync()
            t_start = time.perf_counter()
        px = pixels.to(dev, non_blocking=True)
        tok = tokens.to(dev, non_blocking=True)
        opt.zero_grad(set_to_none=True)
        if amp_dtype is not None:
            with torch.autocast(device_type=dev.type, dtype=amp_dtype):
                img = model.encode_image(px)
                txt = model.encode_text(tok)
        else:
            img = model.encode_image(px)
            txt = model.encode_text(tok)
        loss = relaxed_loss(img.float(), txt.float(), model.logit_scale.float(), a.clip)  # the loss in fp32
        if scaler:
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, MAX_LOGIT_SCALE)
        acc += loss.detach()
        pending += 1
        if pending >= a.sync_every or i == total - 1:
            losses.append(float(acc) / pending)
            acc.zero_()
            pending = 0
    sync()
    secs = time.perf_counter() - t_start
    out = {
        "images_per_s": a.batch * a.steps / secs,
        "ms_per_step": 1000 * secs / a.steps,
        "losses": losses,
        "batch": a.batch,
        "amp": a.amp,
        "tf32": bool(a.tf32),
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(dev) if cuda else "cpu",
        "peak_mem_gib": torch.cuda.max_memory_allocated(dev) / 2 ** 30 if cuda else None,
        "params": sum(p.numel() for p in model.parameters()),
    }
    assert all(math.isfinite(x) for x in losses), losses
    print(json.dumps(out))


if __name__ == "__main__":
    main()
