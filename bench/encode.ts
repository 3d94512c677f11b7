/**
 * CLIP ViT-B/32 image encoding, 224 px, batch 32, fp32 on the CPU: our native encoder against
 * OpenAI's CLIP code in PyTorch-in-Python (bench/python/encode_vitb32.py, Debian python3-torch
 * 1.13.1 = the same LibTorch), running the same weights (random CLIP init from our side, saved
 * as OpenAI-named safetensors and loaded by the Python model) on the same pixels, with the same
 * number of intra-op threads, both in inference mode. Rounds alternate ours / Python so both see
 * the machine's momentary load; the figure per side is the median batch time over all rounds.
 * The embeddings of both are compared (max relative difference, reported in the notes).
 *
 *   node dist/bench/encode.js            (or: npm run bench -- encode)
 * Env: XT_BENCH_ITERS (timed batches per round, default 5), XT_BENCH_ROUNDS (default 2).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { native } from '../lib/native';
import { ClipModel } from '../lib/model/clip';
import type { BenchModule, BenchResult } from './types';
import { speedRatio } from './types';

interface PyResult {
  times: number[];
  load_s: number;
  threads: number;
  torch: string;
  python: string;
  error?: string;
}

const BATCH = 32;
const SIZE = 224;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Deterministic pseudo-normal pixels (already "normalised" CLIP input). */
function pixels(n: number): Float32Array {
  const out = new Float32Array(n);
  let s = 0x9e3779b9;
  const rnd = (): number => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = 0; i < n; i++) out[i] = (rnd() + rnd() + rnd() - 1.5) * 2;
  return out;
}

function runPython(args: string[]): PyResult {
  const script = path.resolve(__dirname, '..', '..', 'bench', 'python', 'encode_vitb32.py');
  const r = spawnSync('/usr/bin/python3', [script, ...args], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const last = (r.stdout || '').trim().split('\n').pop() || '{}';
  let res: PyResult;
  try {
    res = JSON.parse(last) as PyResult;
  } catch {
    throw new Error(`python baseline printed no result (${r.status}): ${r.stderr}`);
  }
  if (r.status !== 0 || res.error) throw new Error(`python baseline failed (${r.status}): ${res.error ?? r.stderr}`);
  return res;
}

export const bench: BenchModule = {
  name: 'encode',
  async run(): Promise<BenchResult> {
    const iters = Number(process.env.XT_BENCH_ITERS) || 5;
    const rounds = Number(process.env.XT_BENCH_ROUNDS) || 2;
    const threads = native().runtimeInfo().intraOpThreads;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xt-encode-bench-'));
    try {
      const model = await ClipModel.create('ViT-B-32', { seed: 0 });
      const weights = path.join(dir, 'vitb32.safetensors');
      await model.save(weights, { layout: 'openai', dtype: 'float32' });
      const px = pixels(BATCH * 3 * SIZE * SIZE);
      const pxFile = path.join(dir, 'pixels.f32');
      fs.writeFileSync(pxFile, Buffer.from(px.buffer, px.byteOffset, px.byteLength));
      const shape = [BATCH, 3, SIZE, SIZE];

      let ours = await model.encodeImages(px, shape); // warm-up
      const oursTimes: number[] = [];
      const pyTimes: number[] = [];
      let py: PyResult | undefined;
      const pyOut = path.join(dir, 'py-embeds.f32');
      for (let r = 0; r < rounds; r++) {
        for (let i = 0; i < iters; i++) {
          const t = process.hrtime.bigint();
          ours = await model.encodeImages(px, shape);
          oursTimes.push(Number(process.hrtime.bigint() - t) / 1e9);
        }
        py = runPython(['--weights', weights, '--pixels', pxFile, '--batch', String(BATCH), '--size', String(SIZE),
          '--iters', String(iters), '--threads', String(threads), ...(r === 0 ? ['--out', pyOut] : [])]);
        pyTimes.push(...py.times);
      }
      // Same weights, same pixels: the embeddings must agree.
      const pyEmb = new Float32Array(fs.readFileSync(pyOut).buffer.slice(0));
      let maxDiff = 0;
      let maxRef = 0;
      for (let i = 0; i < pyEmb.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(pyEmb[i] - ours.data[i]));
        maxRef = Math.max(maxRef, Math.abs(pyEmb[i]));
      }
      model.dispose();

      const oursRate = BATCH / median(oursTimes);
      const pyRate = BATCH / median(pyTimes);
      const row = {
        metric: `ViT-B/32 image encode, ${SIZE} px, batch ${BATCH}, fp32 CPU (median of ${oursTimes.length} batches)`,
        ours: Math.round(oursRate * 100) / 100,
        baseline: Math.round(pyRate * 100) / 100,
        unit: 'images/s',
        higherIsBetter: true,
        target: 1,
      };
      const ratio = speedRatio(row);
      return {
        title: 'CLIP image encoding: ViT-B/32, 224 px, batch 32, fp32 CPU (issue 3)',
        baseline: `OpenAI CLIP code in PyTorch-in-Python (torch ${py?.torch}, Python ${py?.python}), same weights and pixels, ` +
          `${py?.threads} intra-op threads on both sides, inference mode`,
        rows: [row],
        notes: [
          `Batch seconds, ours: ${oursTimes.map((t) => t.toFixed(3)).join(', ')}`,
          `Batch seconds, Python: ${pyTimes.map((t) => t.toFixed(3)).join(', ')}`,
          `Embeddings agree: max |ours - python| / max |python| = ${(maxDiff / maxRef).toExponential(2)}; ratio ${ratio?.toFixed(3)}×.`,
        ],
      };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
};

if (require.main === module) {
  bench
    .run()
    .then((r) => process.stdout.write(JSON.stringify(r, null, 2) + '\n'))
    .catch((e) => {
      process.stderr.write(`encode bench: ${(e as Error).stack}\n`);
      process.exit(1);
    });
}
