/**
 * Data-parallel training throughput on this machine (issue 9 §6): `xray-torch train` with 1 process
 * (2 intra-op threads) against `--nproc 2` (2 Gloo processes, 1 thread each), the same model, data,
 * seed and GLOBAL batch (1 × B against 2 × B/2), in training pairs/s from rank 0's metrics.jsonl
 * (the time between the end of the warm-up steps and the last step; setup and the final save are not
 * counted). Both configurations use the machine's 2 cores, so the ideal ratio here is ~1.0: what the
 * 2-process run costs is the gradient all-reduce, the embedding all-gather and two smaller GEMMs
 * instead of one larger one.
 *
 *   npm run bench -- dist-train
 * Env: XT_BENCH_DT_MODEL (default scratch:small), XT_BENCH_DT_SIZE (128), XT_BENCH_DT_BATCH (global, 32),
 * XT_BENCH_DT_STEPS (timed, 10), XT_BENCH_DT_WARMUP (2).
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { BenchModule, BenchResult } from './types';

const CLI = path.resolve(__dirname, '..', '..', 'bin', 'xray-torch.js');

interface Run {
  pairsPerSec: number;
  stepSeconds: number[];
  losses: number[];
  wall: number;
}

function runTrain(args: string[], threads: number): Promise<{ code: number | null; err: string; wall: number }> {
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = { ...process.env, XRAY_TORCH_THREADS: String(threads), OMP_NUM_THREADS: String(threads) };
    for (const k of ['WORLD_SIZE', 'RANK', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT']) delete env[k];
    const t0 = Date.now();
    const p = spawn(process.execPath, [CLI, 'train', ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-6000)));
    p.on('exit', (code) => resolve({ code, err, wall: (Date.now() - t0) / 1000 }));
  });
}

async function measure(data: string, out: string, nproc: number, o: { model: string; size: number; batch: number; steps: number; warmup: number }): Promise<Run> {
  const total = o.steps + o.warmup;
  const args = ['--data', data, '--model', o.model, '--image-size', String(o.size), '--out', out, '--steps', String(total),
    '--batch-size', String(o.batch / nproc), '--lr', '5e-4', '--seed', '0', '--no-validate', '--quiet', '--keep', '1'];
  if (nproc > 1) args.push('--nproc', String(nproc));
  const r = await runTrain(args, nproc > 1 ? 1 : 2);
  if (r.code !== 0) throw new Error(`train --nproc ${nproc} failed (${r.code}):\n${r.err}`);
  const steps = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l))
    .filter((e) => e.event === 'step') as { time: string; step: number; loss: number }[];
  if (steps.length !== total) throw new Error(`expected ${total} step events, got ${steps.length}`);
  const t = steps.map((s) => Date.parse(s.time) / 1000);
  const timed = t[total - 1] - t[o.warmup - 1];
  return {
    pairsPerSec: (o.batch * o.steps) / timed,
    stepSeconds: t.slice(o.warmup).map((x, i) => x - t[o.warmup - 1 + i]),
    losses: steps.map((s) => s.loss),
    wall: r.wall,
  };
}

export const bench: BenchModule = {
  name: 'dist-train',
  async run(): Promise<BenchResult> {
    const o = {
      model: process.env.XT_BENCH_DT_MODEL || 'scratch:small',
      size: Number(process.env.XT_BENCH_DT_SIZE) || 128,
      batch: Number(process.env.XT_BENCH_DT_BATCH) || 32,
      steps: Number(process.env.XT_BENCH_DT_STEPS) || 10,
      warmup: Number(process.env.XT_BENCH_DT_WARMUP) || 2,
    };
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xt-dist-train-'));
    try {
      const { generateSynthetic } = await import('../lib/data/synth');
      const syn = await generateSynthetic({ out: path.join(dir, 'data'), n: 600, seed: 3, size: o.size });
      const loads = [os.loadavg()[0].toFixed(2)];
      const one = await measure(syn.manifest, path.join(dir, 'one'), 1, o);
      loads.push(os.loadavg()[0].toFixed(2));
      const two = await measure(syn.manifest, path.join(dir, 'two'), 2, o);
      loads.push(os.loadavg()[0].toFixed(2));
      const f = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(', ');
      return {
        title: `Data-parallel training throughput: 1 process × 2 threads vs 2 Gloo processes × 1 thread (issue 9)`,
        baseline: '1 process, 2 intra-op threads, the same global batch',
        rows: [{
          metric: `${o.model} @ ${o.size} px, global batch ${o.batch}, ${o.steps} timed steps after ${o.warmup} warm-up`,
          ours: Number(two.pairsPerSec.toFixed(2)), baseline: Number(one.pairsPerSec.toFixed(2)), unit: 'pairs/s', higherIsBetter: true,
        }],
        notes: [
          `Step seconds, 1 process: ${f(one.stepSeconds)}; 2 processes: ${f(two.stepSeconds)}.`,
          `Losses of the first steps (the same seed and global batch, so they should be close; the 2-process run computes the loss over the gathered global batch): ` +
            `1 process ${f(one.losses.slice(0, 4))}; 2 processes ${f(two.losses.slice(0, 4))}.`,
          `Wall time of each whole command (setup, tokenizer training, final save included): ${one.wall.toFixed(0)} s and ${two.wall.toFixed(0)} s.`,
          `Load average (1 min) before / between / after: ${loads.join(' / ')} on this shared 2-core machine.`,
        ],
      };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
};
