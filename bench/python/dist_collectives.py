"""Baseline for bench/dist.ts: the same collectives through PyTorch's torch.distributed (Gloo), 2
processes started by our launcher with torchrun's variables. Prints one `RESULT {json}` line.
usage: python3 dist_collectives.py '{"allreduceBytes":..., "gatherBytes":..., "reducerBytes":..., "bucketBytes":..., "iters":...}'
"""
import json
import os
import sys
import time

import torch
import torch.distributed as dist


def timed(fn, iters):
    fn()  # warm-up
    dist.barrier()
    t0 = time.perf_counter()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - t0) / iters


def main():
    o = json.loads(sys.argv[1])
    torch.set_num_threads(int(os.environ.get("XRAY_TORCH_THREADS", "1")))
    dist.init_process_group("gloo")  # env:// (MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK)
    ws = dist.get_world_size()
    iters = o["iters"]
    out = {"rank": dist.get_rank()}

    buf = torch.ones(o["allreduceBytes"] // 4)
    out["allreduce"] = timed(lambda: dist.all_reduce(buf), iters)

    rows = torch.ones(max(1, o["gatherBytes"] // 4 // 512), 512)
    def gather():
        parts = [torch.empty_like(rows) for _ in range(ws)]
        dist.all_gather(parts, rows)
        return torch.cat(parts)
    out["allgather"] = timed(gather, iters)

    # What DDP does after backward without overlap: flatten each 25 MB bucket (reverse order),
    # all-reduce it, copy back.
    chunk = 1 << 20
    n = o["reducerBytes"] // 4
    grads = [torch.ones(min(chunk, n - i)) for i in range(0, n, chunk)]
    buckets, cur, size = [], [], 0
    for g in reversed(grads):
        if cur and size + g.numel() * 4 > o["bucketBytes"]:
            buckets.append(cur)
            cur, size = [], 0
        cur.append(g)
        size += g.numel() * 4
    if cur:
        buckets.append(cur)
    def reduce_all():
        works = []
        flats = []
        for b in buckets:
            flat = torch.cat([g.view(-1) for g in b])
            flats.append((b, flat))
            works.append(dist.all_reduce(flat, async_op=True))
        for w in works:
            w.wait()
        for b, flat in flats:
            off = 0
            for g in b:
                g.copy_(flat[off:off + g.numel()].view_as(g))
                off += g.numel()
    out["reducer"] = timed(reduce_all, max(1, iters // 2))
    out["buckets"] = len(buckets)
    print("RESULT " + json.dumps(out), flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
