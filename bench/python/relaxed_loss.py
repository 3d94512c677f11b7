"""The relaxed contrastive loss composed in PyTorch-in-Python, timed forward + backward: the
Python baseline for bench/loss.ts (Debian python3-torch 1.13.1, the same LibTorch as the addon).

Same definition as binding/loss/relaxed_loss_reference.cc: normalise, one similarity GEMM,
torch.where for the relaxation of the positives, scale = exp(min(logit_scale, 4.6052)),
cross-entropy over rows and columns. Prints one JSON line: {"times": [seconds...], ...}.
"""
import argparse
import json
import sys
import time

import torch
import torch.nn.functional as F


MAX_LOGIT_SCALE = 4.605170185988092  # ln(100)


def relaxed_loss(image, text, logit_scale, clip):
    """The loss on any device (the training baselines import it too)."""
    a = image / image.norm(dim=1, keepdim=True)
    b = text / text.norm(dim=1, keepdim=True)
    s = a @ b.t()
    eye = torch.eye(s.shape[0], dtype=torch.bool, device=s.device)
    s = torch.where(eye, s.clamp(max=clip), s)
    logits = logit_scale.clamp(max=MAX_LOGIT_SCALE).exp() * s
    target = torch.arange(s.shape[0], device=s.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--B", type=int, default=1024)
    p.add_argument("--D", type=int, default=512)
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--clip", type=float, default=0.8)
    p.add_argument("--logit-scale", type=float, default=2.6592)
    p.add_argument("--dtype", default="float32")
    args = p.parse_args()
    try:
        torch.set_num_threads(args.threads)
        dtype = getattr(torch, args.dtype)
        g = torch.Generator().manual_seed(20240607)
        base = torch.randn(args.B, args.D, generator=g)
        img0 = (base + 0.8 * torch.randn(args.B, args.D, generator=g)).to(dtype)
        txt0 = (base + 0.8 * torch.randn(args.B, args.D, generator=g)).to(dtype)

        def step():
            img = img0.detach().requires_grad_(True)
            txt = txt0.detach().requires_grad_(True)
            ls = torch.tensor(args.logit_scale, dtype=dtype, requires_grad=True)
            loss = relaxed_loss(img, txt, ls, args.clip)
            torch.autograd.grad(loss, [img, txt, ls])
            return loss.item()

        for _ in range(args.warmup):
            step()
        times = []
        loss = 0.0
        for _ in range(args.iters):
            t = time.perf_counter()
            loss = step()
            times.append(time.perf_counter() - t)
        print(json.dumps({"times": times, "loss": loss, "threads": torch.get_num_threads(),
                          "torch": torch.__version__, "python": sys.version.split()[0]}))
    except Exception as e:  # reported to the benchmark, which fails with the message
        print(json.dumps({"error": repr(e)}))
        sys.exit(1)


if __name__ == "__main__":
    main()
