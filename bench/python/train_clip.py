#!/usr/bin/python3
"""The PyTorch-in-Python baseline of bench/train.ts: one CLIP training step (both encoders forward,
the positive-pair-relaxed contrastive loss composed in PyTorch, backward, clip_grad_norm_,
torch.optim.AdamW with weight decay off for biases, norms, embeddings and the logit scale), on the
model of openai_clip.py (OpenAI's clip/model.py), Debian python3-torch 1.13.1 (the same LibTorch as
the addon), fp32 on the CPU.

Two modes, each printing JSON lines on stdout:

  --mode tensors --serve: a resident server on fixed pre-decoded tensors. Loads the given OpenAI-named
      safetensors weights (written by our side, so that both start from the same weights), the pixels
      (raw float32 [B, 3, S, S]) and tokens (raw int32 [B, L]); prints {"ready": ...}; then answers
      stdin commands: "step LR" runs one training step ({"t", "loss", "grad_norm", "logit_scale"}),
      "rss" reports the peak RSS, "quit" exits. The caller alternates single steps with its own.

  --mode jpeg: end to end from JPEG files listed in a manifest (JSONL: image path relative to the
      manifest, report): a DataLoader with --workers worker processes (PIL decode + torchvision
      transforms: Resize(1.15 S), RandomResizedCrop(S, scale 0.8-1), RandomRotation(10),
      ColorJitter(0.2, 0.2), grey -> 3 channels, CLIP mean/std; one sentence drawn from the report and
      tokenized with the BPE of --tokenizer (vocab.json + merges.txt, OpenAI's simple_tokenizer
      algorithm)) feeding the same step. The workers are started before the model is built, so that
      their resident set does not count the parent's model pages (fork). Prints one JSON object with
      the time after each step and the peak RSS of this process and of the workers.

  /usr/bin/python3 bench/python/train_clip.py --mode tensors --serve --weights W --pixels P --tokens T \
      --batch 32 --size 224 --context 48 --threads 2
  /usr/bin/python3 bench/python/train_clip.py --mode jpeg --manifest M --tokenizer DIR --steps 6 \
      --batch 32 --size 224 --context 48 --vocab V --threads 2 --workers 2
"""
import argparse
import json
import math
import os
import random
import resource
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clip_setup import make_model, make_optimizer  # noqa: E402
from relaxed_loss import MAX_LOGIT_SCALE, relaxed_loss  # noqa: E402  (as binding/loss's reference)

MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


# --------------------------------------------------------------------------------------------
# Memory figures
# --------------------------------------------------------------------------------------------
def proc_kb(pid, field, file="status"):
    """A "Field:  N kB" line of /proc/PID/<file> (status, smaps_rollup), in kB; None if unreadable."""
    try:
        with open("/proc/%s/%s" % (pid, file)) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def proc_cpu_s(pid):
    """utime + stime of a process (seconds), from /proc/PID/stat."""
    try:
        with open("/proc/%s/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def rss_self():
    return {"maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "vmhwm_kb": proc_kb("self", "VmHWM")}


# --------------------------------------------------------------------------------------------
# Model, loss, optimiser
# --------------------------------------------------------------------------------------------
def load_weights_lean(model, path):
    """Copy OpenAI-named safetensors (F32) into the model tensor by tensor (no whole-file buffer)."""
    params = dict(model.named_parameters())
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        header.pop("__metadata__", None)
        base = 8 + n
        seen = set()
        with torch.no_grad():
            for name, info in header.items():
                if name not in params:
                    continue
                assert info["dtype"] == "F32", "%s: %s (expected F32)" % (name, info["dtype"])
                b, e = info["data_offsets"]
                f.seek(base + b)
                arr = np.fromfile(f, dtype=np.float32, count=(e - b) // 4).reshape(info["shape"])
                params[name].copy_(torch.from_numpy(arr))
                seen.add(name)
    missing = set(params) - seen
    if missing:
        raise ValueError("weights lack %d parameters, e.g. %s" % (len(missing), sorted(missing)[:3]))


def train_step(model, opt, pixels, tokens, lr, clip, grad_clip):
    model.train()
    for g in opt.param_groups:
        g["lr"] = lr
    # torch 1.13's default (set_to_none=False): the gradients stay allocated and are zeroed, as
    # LibTorch's C++ Optimizer::zero_grad (our step) does.
    opt.zero_grad()
    img = model.encode_image(pixels)
    txt = model.encode_text(tokens)
    loss = relaxed_loss(img, txt, model.logit_scale, clip)
    loss.backward()
    gn = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    opt.step()
    with torch.no_grad():
        model.logit_scale.clamp_(0, MAX_LOGIT_SCALE)
    return loss.item(), float(gn), math.exp(model.logit_scale.item())


# --------------------------------------------------------------------------------------------
# (a) pre-decoded tensors, resident server
# --------------------------------------------------------------------------------------------
def serve_tensors(a):
    t0 = time.perf_counter()
    tokens = torch.from_numpy(np.fromfile(a.tokens, dtype=np.int32).reshape(a.batch, a.context).astype(np.int64))
    pixels = torch.from_numpy(np.fromfile(a.pixels, dtype=np.float32).reshape(a.batch, 3, a.size, a.size))
    vocab = a.vocab
    model = make_model(vocab, a.context, a.size)
    load_weights_lean(model, a.weights)
    opt = make_optimizer(model, a.lr, a.weight_decay)
    nparams = sum(p.numel() for p in model.parameters())
    print(json.dumps({"ready": True, "load_s": time.perf_counter() - t0, "threads": torch.get_num_threads(),
                      "params": nparams, "torch": torch.__version__, "python": sys.version.split()[0],
                      **rss_self()}), flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "step":
            lr = float(cmd[1]) if len(cmd) > 1 else a.lr
            t, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
            loss, gn, ls = train_step(model, opt, pixels, tokens, lr, a.clip, a.grad_clip)
            t = time.perf_counter() - t
            r1 = resource.getrusage(resource.RUSAGE_SELF)
            print(json.dumps({"t": t, "cpu": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime),
                              "sys": r1.ru_stime - r0.ru_stime, "minflt": r1.ru_minflt - r0.ru_minflt, "loss": loss,
                              "grad_norm": gn, "logit_scale": ls}), flush=True)
        elif cmd[0] == "rss":
            print(json.dumps(rss_self()), flush=True)
        else:
            break


# --------------------------------------------------------------------------------------------
# (b) end to end from JPEG files
# --------------------------------------------------------------------------------------------
class BpeTokenizer:
    """OpenAI's simple_tokenizer algorithm over a Hugging Face-style vocab.json + merges.txt."""

    def __init__(self, folder):
        import regex as re
        from simple_tokenizer_bench import bytes_to_unicode, get_pairs, whitespace_clean  # noqa: F401
        self.re = re
        self.get_pairs = get_pairs
        self.whitespace_clean = whitespace_clean
        with open(os.path.join(folder, "vocab.json"), encoding="utf-8") as f:
            self.encoder = json.load(f)
        with open(os.path.join(folder, "merges.txt"), encoding="utf-8") as f:
            lines = [l for l in f.read().split("\n") if l and not l.startswith("#version")]
        self.bpe_ranks = {tuple(l.split()): i for i, l in enumerate(lines)}
        self.byte_encoder = bytes_to_unicode()
        self.cache = {}
        self.pat = re.compile(
            r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
            re.IGNORECASE)
        self.sot = self.encoder["<|startoftext|>"]
        self.eot = self.encoder["<|endoftext|>"]

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        pairs = self.get_pairs(word)
        if not pairs:
            return [token + "</w>"]
        while True:
            bigram = min(pairs, key=lambda p: self.bpe_ranks.get(p, float("inf")))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            new_word, i = [], 0
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
            word = tuple(new_word)
            if len(word) == 1:
                break
            pairs = self.get_pairs(word)
        self.cache[token] = list(word)
        return list(word)

    def tokenize(self, text, context):
        ids = []
        text = self.whitespace_clean(text).lower()
        for token in self.re.findall(self.pat, text):
            token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            ids.extend(self.encoder.get(t, self.eot) for t in self.bpe(token))
        ids = [self.sot] + ids[:context - 2] + [self.eot]
        out = torch.zeros(context, dtype=torch.long)
        out[:len(ids)] = torch.tensor(ids)
        return out


class ReportImages(torch.utils.data.Dataset):
    def __init__(self, manifest, size, tokenizer_dir, context):
        from torchvision import transforms
        base = os.path.dirname(os.path.abspath(manifest))
        self.rows = []
        with open(manifest, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    self.rows.append((os.path.join(base, r["image"]), r["report"]))
        self.tok = BpeTokenizer(tokenizer_dir)
        self.context = context
        self.tf = transforms.Compose([
            transforms.Resize(int(math.ceil(size * 1.15)), interpolation=transforms.InterpolationMode.BICUBIC),
            transforms.RandomResizedCrop(size, scale=(0.8, 1.0)),
            transforms.RandomRotation(10),
            transforms.ColorJitter(brightness=0.2, contrast=0.2),
            transforms.Grayscale(num_output_channels=3),
            transforms.ToTensor(),
            transforms.Normalize(MEAN, STD),
        ])

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        from PIL import Image
        path, report = self.rows[i]
        with Image.open(path) as im:
            x = self.tf(im.convert("L"))
        sentences = [s for s in (t.strip() for t in report.replace("\n", " ").split(". ")) if s]
        text = random.choice(sentences) if sentences else report
        return x, self.tok.tokenize(text, self.context)


def run_jpeg(a):
    t_start = time.perf_counter()
    ds = ReportImages(a.manifest, a.size, a.tokenizer, a.context)
    g = torch.Generator()
    g.manual_seed(a.seed)
    dl = torch.utils.data.DataLoader(ds, batch_size=a.batch, shuffle=True, drop_last=True, num_workers=a.workers,
                                     persistent_workers=a.workers > 0, generator=g)
    it = iter(dl)  # start the workers now, before the model exists (see the module docstring)
    workers = [w.pid for w in getattr(it, "_workers", [])]
    torch.manual_seed(a.seed)
    model = make_model(a.vocab, a.context, a.size)
    opt = make_optimizer(model, a.lr, a.weight_decay)
    setup_s = time.perf_counter() - t_start
    stamps = []
    cpu = []  # CPU seconds of this process + its workers after each step
    losses = []
    worker_hwm = {}
    worker_pss = {}
    t0 = time.perf_counter()
    step = 0
    while step < a.steps:
        try:
            x, ids = next(it)
        except StopIteration:
            it = iter(dl)
            continue
        loss, _, _ = train_step(model, opt, x, ids, a.lr, a.clip, a.grad_clip)
        stamps.append(time.perf_counter() - t0)
        cpu.append(time.process_time() + sum(proc_cpu_s(pid) or 0.0 for pid in workers))
        losses.append(loss)
        step += 1
        for pid in workers:  # the workers' peaks, read while they live
            h = proc_kb(pid, "VmHWM")
            if h is not None:
                worker_hwm[pid] = max(worker_hwm.get(pid, 0), h)
            p = proc_kb(pid, "Pss", "smaps_rollup")
            if p is not None:
                worker_pss[pid] = max(worker_pss.get(pid, 0), p)
    main = rss_self()
    del it, dl
    import gc
    gc.collect()
    time.sleep(0.5)  # let the workers exit, so RUSAGE_CHILDREN holds them
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({
        "stamps": stamps, "cpu": cpu, "losses": losses, "setup_s": setup_s, "threads": torch.get_num_threads(),
        "workers": len(workers), "main": main, "children_maxrss_kb": ch.ru_maxrss,
        "workers_vmhwm_kb": sum(worker_hwm.values()), "workers_pss_kb": sum(worker_pss.values()),
        "torch": torch.__version__, "python": sys.version.split()[0],
    }), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["tensors", "jpeg"], required=True)
    ap.add_argument("--serve", action="store_true")
    ap.add_argument("--weights")
    ap.add_argument("--pixels")
    ap.add_argument("--tokens")
    ap.add_argument("--manifest")
    ap.add_argument("--tokenizer")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--context", type=int, default=48)
    ap.add_argument("--vocab", type=int, required=True)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--weight-decay", type=float, default=0.2)
    ap.add_argument("--clip", type=float, default=0.8)
    ap.add_argument("--grad-clip", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    try:
        torch.set_num_threads(a.threads)
        if a.mode == "tensors":
            serve_tensors(a)
        else:
            run_jpeg(a)
    except Exception as e:  # reported to the caller as JSON
        import traceback
        traceback.print_exc()
        print(json.dumps({"error": "%s: %s" % (type(e).__name__, e)}), flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
