/**
 * Zero-shot eval throughput on CPU, ViT-B/32 at 224 px (random weights: speed only), side by side in one run
 * with a CheXzero-style PyTorch loop (bench/python/zeroshot_eval_bench.py: PIL decode + CLIP transform +
 * OpenAI's ViT forward + paired softmax) on the same images.
 *
 * Data: SYNTHETIC radiograph-like PNGs (lib/data/synth), 512 px, all in the test split. Ours is the real
 * `eval` path: dataset reader → streaming loader (native decode of the 8-bit grey PNGs, bounded prefetch) →
 * encoder (8-bit grey in, normalised natively) → paired softmax; images/s counts the streaming loop only (the
 * prompts are encoded once before it, in both).
 * Also the image encoder alone (one fixed batch of 32, repeated) on both sides: ours from 8-bit grey pixels
 * (as `eval` hands them over, normalisation included), Python from its normalised float tensor.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ClipModel } from '../lib/model/clip';
import { ClipTokenizer } from '../lib/text/clip-tokenizer';
import { generateSynthetic, SYNTH_LABELS } from '../lib/data/synth';
import { adaptClip } from '../lib/eval/model';
import { runZeroShotEval } from '../lib/eval/pipeline';
import { resolveLabels } from '../lib/eval/labelsets';
import { setThreads } from '../lib/runtime/threads';
import { sharedPath } from '../test/helpers/shared';
import type { BenchModule, BenchResult } from './types';

const N = Number(process.env.XT_BENCH_EVAL_N ?? 256);
const BATCH = 32;
const THREADS = Math.max(1, Math.min(2, os.cpus().length));

interface PyResult {
  images: number;
  seconds: number;
  images_per_s: number;
  encode_images_per_s: number;
  torch: string;
  threads: number;
}

export const bench: BenchModule = {
  name: 'eval',
  async run(): Promise<BenchResult> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xt-evalbench-'));
    const data = path.join(dir, 'synth');
    await generateSynthetic({ out: data, n: N, size: 512, seed: 1, fractions: { train: 0, valid: 0, test: 1 } });

    // Python first, then ours (same images, same thread count).
    const script = path.resolve(__dirname, '..', '..', 'bench', 'python', 'zeroshot_eval_bench.py');
    const py = spawnSync('/usr/bin/python3', [script, '--manifest', path.join(data, 'manifest.jsonl'), '--batch', String(BATCH),
      '--threads', String(THREADS), '--labels', String(SYNTH_LABELS.length)], { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (py.status !== 0) throw new Error(`python baseline failed: ${py.stderr}`);
    const base = JSON.parse(py.stdout.trim().split('\n').pop()!) as PyResult;

    setThreads(THREADS);
    const clip = await ClipModel.create('ViT-B-32', { seed: 0 });
    clip.tokenizer = ClipTokenizer.fromFile(sharedPath('clip', 'bpe_simple_vocab_16e6.txt.gz'));
    const model = adaptClip(clip);
    try {
      // encoder alone: a fixed batch, one warm-up, then timed repeats
      const px = new Uint8Array(BATCH * 224 * 224).map((_, i) => Math.round(128 + 127 * Math.sin(i)));
      await clip.encodeImages(px, [BATCH, 224, 224]);
      const reps = Math.max(2, Math.ceil(N / BATCH / 2));
      const t0 = process.hrtime.bigint();
      for (let r = 0; r < reps; r++) await clip.encodeImages(px, [BATCH, 224, 224]);
      const encS = Number(process.hrtime.bigint() - t0) / 1e9;
      const encIps = (reps * BATCH) / encS;

      const r = await runZeroShotEval(model, { data, split: 'test', labels: resolveLabels([...SYNTH_LABELS]), batchSize: BATCH, bootstrap: false });
      const ips = r.predictions.images / r.predictions.seconds;
      return {
        title: `Zero-shot eval on CPU, ViT-B/32 @224, batch ${BATCH}, ${THREADS} threads, ${r.predictions.images} synthetic 512 px PNGs`,
        baseline: `PyTorch ${base.torch} (Debian python3-torch, same LibTorch) CheXzero-style loop: PIL decode + CLIP transform + OpenAI ViT`,
        rows: [
          { metric: 'eval: decode + preprocess + encode + paired softmax', ours: Number(ips.toFixed(2)), baseline: Number(base.images_per_s.toFixed(2)), unit: 'images/s', higherIsBetter: true },
          { metric: 'image encoder alone (batch 32)', ours: Number(encIps.toFixed(2)), baseline: Number(base.encode_images_per_s.toFixed(2)), unit: 'images/s', higherIsBetter: true },
        ],
        notes: [`Ours: ${r.predictions.images} images in ${r.predictions.seconds.toFixed(1)} s; Python: ${base.images} in ${base.seconds.toFixed(1)} s.`],
      };
    } finally {
      clip.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
};
