#!/usr/bin/python3
"""Baseline for bench/images.ts: a PyTorch DataLoader with PIL + torchvision transforms, as CLIP's own
preprocessing does it (Resize(224, bicubic) on the shorter side, CenterCrop(224), ToTensor,
Normalize with CLIP's mean/std; images converted to RGB), 2 worker processes, batch 32.

Times whole epochs over the files of one extension in --dir; the first epoch starts the workers
(persistent_workers=True), the best of the following --epochs epochs is reported (steady state).
Prints one JSON object: {"ext": {"images": n, "images_per_s": x, "first_epoch_s": s, "epochs_s": [...],
"cpu_ms_per_image": c}} where c is the CPU time of this process and its (exited) workers over all epochs,
per image decoded: a figure that the machine's other load disturbs much less than wall time.

Usage: /usr/bin/python3 bench/python/images_dataloader.py --dir DIR --ext png jpg [--workers 2] [--batch 32] [--epochs 3]
"""
import argparse
import glob
import json
import gc
import os
import resource
import sys
import time

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


class Files(Dataset):
    def __init__(self, files, size):
        self.files = files
        self.tf = transforms.Compose([
            transforms.Resize(size, interpolation=transforms.InterpolationMode.BICUBIC),
            transforms.CenterCrop(size),
            transforms.ToTensor(),
            transforms.Normalize(MEAN, STD),
        ])

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        with Image.open(self.files[i]) as im:
            return self.tf(im.convert("RGB"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--ext", nargs="+", default=["png", "jpg"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--size", type=int, default=224)
    a = ap.parse_args()
    out = {"torch": torch.__version__, "workers": a.workers, "batch": a.batch}
    for ext in a.ext:
        files = sorted(glob.glob(os.path.join(a.dir, "*." + ext)))
        cpu0 = time.process_time()
        ch0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        dl = DataLoader(Files(files, a.size), batch_size=a.batch, shuffle=False, num_workers=a.workers,
                        persistent_workers=a.workers > 0)
        times = []
        n = 0
        for e in range(a.epochs + 1):
            t = time.perf_counter()
            n = 0
            for x in dl:
                assert x.shape[1:] == (3, a.size, a.size)
                n += x.shape[0]
            times.append(time.perf_counter() - t)
        best = min(times[1:])
        del dl
        gc.collect()
        time.sleep(0.5)  # let the workers exit so their CPU time is reaped into RUSAGE_CHILDREN
        ch1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (time.process_time() - cpu0) + (ch1.ru_utime - ch0.ru_utime) + (ch1.ru_stime - ch0.ru_stime)
        out[ext] = {"images": n, "images_per_s": n / best, "first_epoch_s": times[0], "epochs_s": times[1:],
                    "cpu_ms_per_image": 1000 * cpu / (n * (a.epochs + 1))}
    print(json.dumps(out))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001
        print(json.dumps({"error": repr(e)}))
        sys.exit(1)
