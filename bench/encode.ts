/**
 * CLIP ViT-B/32 image encoding, 224 px, batch 32, fp32 on the CPU: our native encoder against
 * OpenAI's CLIP code in PyTorch-in-Python (bench/python/encode_vitb32.py, Debian python3-torch
 * 1.13.1 = the same LibTorch), running the same weights (random CLIP init from our side, saved
 * as OpenAI-named safetensors and loaded by the Python model) on the same pixels, with the same
 * number of intra-op threads, both in inference mode. Ours takes the 8-bit grey pixels [32, 224, 224] (as
 * the decoders give them; normalised and expanded to 3 channels natively, inside the timed call), Python
 * their normalised float expansion [32, 3, 224, 224] (what its DataLoader hands to the model).
 *
 * The Python model stays loaded in a child process (--serve) and the two sides alternate single
 * batches (ours, Python, ours, Python, ...): both see the same momentary load of these shared
 * machines. Figures: the median batch time per side, and the median of the per-pair ratios.
 * The embeddings of both are compared (max relative difference, in the notes).
 *
 *   node dist/bench/encode.js            (or: npm run bench -- encode)
 * Env: XT_BENCH_PAIRS (alternating batch pairs, default 12).
 */
import { spawn } from 'child_process';
import * as readline from 'readline';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { native } from '../lib/native';
import { ClipModel } from '../lib/model/clip';
import { greyToCHW } from '../lib/data/images';
import { median, pseudoNormal, runStandalone } from './util';
import type { BenchModule, BenchResult } from './types';

interface PyReady {
  ready: boolean;
  load_s: number;
  threads: number;
  torch: string;
  python: string;
  error?: string;
}

const BATCH = 32;
const SIZE = 224;


/** 8-bit grey pixels around mid-grey (pseudo-normal, clamped). */
const greyPixels = (n: number): Uint8Array => Uint8Array.from(pseudoNormal(n, 0x9e3779b9), (x) => Math.max(0, Math.min(255, Math.round(128 + 48 * x))));

/** The Python baseline as a resident child answering one command per line. */
class PyServer {
  private lines: string[] = [];
  private waiting: ((l: string) => void) | undefined;
  private stderr = '';
  private readonly proc;

  constructor(args: string[]) {
    const script = path.resolve(__dirname, '..', '..', 'bench', 'python', 'encode_vitb32.py');
    this.proc = spawn('/usr/bin/python3', [script, '--serve', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
    readline.createInterface({ input: this.proc.stdout }).on('line', (l) => {
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = undefined;
        w(l);
      } else this.lines.push(l);
    });
    this.proc.on('exit', (code) => {
      if (this.waiting) this.waiting(JSON.stringify({ error: `python exited (${code}): ${this.stderr.slice(-2000)}` }));
    });
  }

  async next<T>(): Promise<T> {
    const line = this.lines.length ? this.lines.shift()! : await new Promise<string>((r) => (this.waiting = r));
    const v = JSON.parse(line) as T & { error?: string };
    if (v.error) throw new Error(`python baseline failed: ${v.error}`);
    return v;
  }

  async command<T>(cmd: string): Promise<T> {
    this.proc.stdin.write(cmd + '\n');
    return this.next<T>();
  }

  close(): void {
    this.proc.stdin.end('quit\n');
  }
}

export const bench: BenchModule = {
  name: 'encode',
  async run(): Promise<BenchResult> {
    const pairs = Number(process.env.XT_BENCH_PAIRS) || 12;
    const threads = native().runtimeInfo().intraOpThreads;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xt-encode-bench-'));
    let py: PyServer | undefined;
    try {
      const model = await ClipModel.create('ViT-B-32', { seed: 0 });
      const weights = path.join(dir, 'vitb32.safetensors');
      await model.save(weights, { layout: 'openai', dtype: 'float32' });
      const px = greyPixels(BATCH * SIZE * SIZE);
      const f32 = new Float32Array(BATCH * 3 * SIZE * SIZE);
      for (let b = 0; b < BATCH; b++)
        greyToCHW({ width: SIZE, height: SIZE, data: px.subarray(b * SIZE * SIZE, (b + 1) * SIZE * SIZE) }, f32, b * 3 * SIZE * SIZE);
      const pxFile = path.join(dir, 'pixels.f32');
      fs.writeFileSync(pxFile, Buffer.from(f32.buffer, f32.byteOffset, f32.byteLength));
      const shape = [BATCH, SIZE, SIZE];

      py = new PyServer(['--weights', weights, '--pixels', pxFile, '--batch', String(BATCH), '--size', String(SIZE),
        '--threads', String(threads), '--warmup', '1']);
      const ready = await py.next<PyReady>();
      let ours = await model.encodeImages(px, shape); // warm-up (Python warmed up before "ready")

      const oursTimes: number[] = [];
      const pyTimes: number[] = [];
      const oursCpu: number[] = [];
      const pyCpu: number[] = [];
      const ratios: number[] = [];
      for (let i = 0; i < pairs; i++) {
        const c = process.cpuUsage();
        const t = process.hrtime.bigint();
        ours = await model.encodeImages(px, shape);
        const o = Number(process.hrtime.bigint() - t) / 1e9;
        const u = process.cpuUsage(c);
        const p = await py.command<{ t: number; cpu: number }>('run');
        oursTimes.push(o);
        oursCpu.push((u.user + u.system) / 1e6);
        pyTimes.push(p.t);
        pyCpu.push(p.cpu);
        ratios.push(p.t / o);
      }
      // Same weights, same pixels: the embeddings must agree.
      const pyOut = path.join(dir, 'py-embeds.f32');
      await py.command(`out ${pyOut}`);
      const pyEmb = new Float32Array(fs.readFileSync(pyOut).buffer.slice(0));
      let maxDiff = 0;
      let maxRef = 0;
      for (let i = 0; i < pyEmb.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(pyEmb[i] - ours.data[i]));
        maxRef = Math.max(maxRef, Math.abs(pyEmb[i]));
      }
      model.dispose();

      const row = {
        metric: `ViT-B/32 image encode, ${SIZE} px, batch ${BATCH}, fp32 CPU (median of ${pairs} alternating batches)`,
        ours: Math.round((BATCH / median(oursTimes)) * 100) / 100,
        baseline: Math.round((BATCH / median(pyTimes)) * 100) / 100,
        unit: 'images/s',
        higherIsBetter: true,
        target: 1,
      };
      // Process CPU seconds per batch (all threads, both sides): less sensitive to other jobs'
      // load than wall time, though spin-waiting threads count too.
      const cpuRow = {
        metric: 'CPU seconds per batch (process, all threads; median)',
        ours: Math.round(median(oursCpu) * 1000) / 1000,
        baseline: Math.round(median(pyCpu) * 1000) / 1000,
        unit: 'CPU s',
        higherIsBetter: false,
      };
      const sorted = [...ratios].sort((a, b) => a - b);
      return {
        title: 'CLIP image encoding: ViT-B/32, 224 px, batch 32, fp32 CPU (issue 3)',
        baseline: `OpenAI CLIP code in PyTorch-in-Python (torch ${ready.torch}, Python ${ready.python}), same weights and pixels, ` +
          `${ready.threads} intra-op threads on both sides (ours: ${threads}), inference mode; single batches alternated`,
        rows: [row, cpuRow],
        notes: [
          `Per-pair speed ratios (python time / our time): median ${median(ratios).toFixed(3)}×, ` +
            `range ${sorted[0].toFixed(3)}–${sorted[sorted.length - 1].toFixed(3)}×, ours faster in ${ratios.filter((r) => r > 1).length} of ${pairs} pairs.`,
          `Batch seconds, ours: ${oursTimes.map((t) => t.toFixed(3)).join(', ')}`,
          `Batch seconds, Python: ${pyTimes.map((t) => t.toFixed(3)).join(', ')}`,
          `Embeddings agree: max |ours - python| / max |python| = ${(maxDiff / maxRef).toExponential(2)}.`,
        ],
      };
    } finally {
      py?.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
};

if (require.main === module) runStandalone(bench);
