/**
 * Distributed collectives on this machine: 2 Gloo processes on loopback (our launcher + native
 * c10d calls) vs the same collectives through PyTorch's torch.distributed (Gloo, 1.13), 2 processes
 * started by the same launcher. Sizes: one 25 MB bucket all-reduce; an all-gather of 512-d fp32
 * embeddings (256 rows per rank); the gradient reducer over CLIP ViT-B/16's ~150M fp32 gradients
 * (25 MB buckets, after backward).
 */
import * as path from 'path';
import { PassThrough } from 'stream';
import { launch } from '../lib/distributed/launcher';
import type { BenchModule } from './types';
import type { DistBenchPlan } from './dist-worker';

const PLAN: DistBenchPlan = {
  allreduceBytes: 25 * 1024 * 1024,
  gatherBytes: 256 * 512 * 4,
  reducerBytes: 149.6e6 * 4,
  bucketBytes: 25 * 1024 * 1024,
  iters: 6,
};

interface Figures { allreduce: number; allgather: number; reducer: number; buckets: number }

async function runTwo(command: string, args: string[]): Promise<Figures> {
  const out = new PassThrough();
  const err = new PassThrough();
  let text = '';
  let errText = '';
  out.on('data', (b: Buffer) => (text += b.toString()));
  err.on('data', (b: Buffer) => (errText += b.toString()));
  const env: NodeJS.ProcessEnv = { ...process.env, XRAY_TORCH_THREADS: '1' };
  for (const k of ['WORLD_SIZE', 'RANK', 'MASTER_PORT']) delete env[k];
  const r = await launch({ nproc: 2, command, args, env, stdout: out, stderr: err, forwardSignals: false });
  if (r.exitCode !== 0) throw new Error(`${command} ${args[0]} failed (${r.message}):\n${errText.slice(-2000)}`);
  const rows = text.split('\n').map((l) => /^\[rank (\d)\] RESULT (.*)$/.exec(l)).filter((m): m is RegExpExecArray => !!m)
    .map((m) => JSON.parse(m[2]) as Figures);
  if (rows.length !== 2) throw new Error(`expected 2 results, got:\n${text}`);
  // The slower rank sets the pace of a collective.
  return {
    allreduce: Math.max(rows[0].allreduce, rows[1].allreduce),
    allgather: Math.max(rows[0].allgather, rows[1].allgather),
    reducer: Math.max(rows[0].reducer, rows[1].reducer),
    buckets: rows[0].buckets,
  };
}

export const bench: BenchModule = {
  name: 'dist',
  async run() {
    const ours = await runTwo(process.execPath, [path.join(__dirname, 'dist-worker.js'), JSON.stringify(PLAN)]);
    const py = await runTwo('/usr/bin/python3', [path.resolve(__dirname, '..', '..', 'bench', 'python', 'dist_collectives.py'), JSON.stringify(PLAN)]);
    const ms = (s: number) => Number((s * 1000).toFixed(2));
    // Ring all-reduce moves 2(n-1)/n of the buffer per rank: "bus bandwidth" as nccl-tests report it.
    const busGBs = (bytes: number, s: number) => Number(((bytes * 2 * (2 - 1)) / 2 / s / 1e9).toFixed(2));
    return {
      title: 'Distributed collectives, 2 Gloo processes on loopback (issue 9)',
      baseline: 'PyTorch 1.13 torch.distributed (Gloo), same sizes, same launcher',
      rows: [
        { metric: 'all-reduce 25 MB fp32', ours: ms(ours.allreduce), baseline: ms(py.allreduce), unit: 'ms', higherIsBetter: false },
        { metric: 'all-reduce 25 MB bus bandwidth', ours: busGBs(PLAN.allreduceBytes, ours.allreduce), baseline: busGBs(PLAN.allreduceBytes, py.allreduce), unit: 'GB/s', higherIsBetter: true },
        { metric: 'all-gather 256×512 fp32 per rank', ours: ms(ours.allgather), baseline: ms(py.allgather), unit: 'ms', higherIsBetter: false },
        { metric: `gradient reduce, ViT-B/16 CLIP 149.6M fp32 (${ours.buckets} buckets)`, ours: ms(ours.reducer), baseline: ms(py.reducer), unit: 'ms', higherIsBetter: false },
      ],
      notes: ['Both sides run the same Gloo library (Debian libgloo via LibTorch 1.13) on 2 shared cores; XRAY_TORCH_THREADS=1 per process.'],
    };
  },
};
