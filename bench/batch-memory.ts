/**
 * Fitting a big batch (issue 16 §6): peak RSS and training pairs/s of one step configuration per child
 * process (peak RSS only grows, so each configuration gets a fresh process): a ViT-B/16 image tower +
 * 12-layer 512-wide text tower (the `ViT-B-16` preset, random init), batch 64, 224 px, fp32 on the CPU,
 * 2 intra-op threads, the native step (TrainSessionNative.step) on fixed random 8-bit grey pixels and
 * token rows of one drawn sentence's length (12–20 tokens, as `train` draws them), for:
 *   baseline; --accum 4; --grad-checkpointing; both; --patch-dropout 0.5.
 * The baseline column is the baseline configuration, so "speed ratio" is pairs/s against it and the
 * RSS rows give the fraction of the baseline's peak.
 *
 *   node dist/bench/batch-memory.js        (or: npm run bench -- batch-memory)
 * Env: XT_BENCH_MEM_STEPS (timed steps per configuration after one warm-up step, default 2; 0 times the
 * one step, warm-up included: for a quick look), XT_BENCH_MEM_BATCH (default 64),
 * XT_BENCH_MEM_CONFIGS (comma list of names below, default all), XT_BENCH_THREADS (default 2).
 */
import { spawnSync } from 'child_process';
import { median, runStandalone } from './util';
import type { BenchModule, BenchRow } from './types';

const SIZE = 224;
const CONTEXT = 77;

interface Config {
  name: string;
  accumSteps: number;
  gradCheckpointing: boolean;
  patchDropout: number;
}

const CONFIGS: Config[] = [
  { name: 'baseline', accumSteps: 1, gradCheckpointing: false, patchDropout: 0 },
  { name: 'accum4', accumSteps: 4, gradCheckpointing: false, patchDropout: 0 },
  { name: 'checkpointing', accumSteps: 1, gradCheckpointing: true, patchDropout: 0 },
  { name: 'accum4+checkpointing', accumSteps: 4, gradCheckpointing: true, patchDropout: 0 },
  { name: 'patch-dropout-0.5', accumSteps: 1, gradCheckpointing: false, patchDropout: 0.5 },
];

interface ChildResult {
  step_s: number[];
  maxrss_kb: number;
  losses: number[];
  params: number;
}

/** The child: one configuration, warm-up + timed steps, then its peak RSS. */
async function child(cfg: Config & { batch: number; steps: number }): Promise<void> {
  const { native } = await import('../lib/native');
  const { ClipModel } = await import('../lib/model/clip');
  const { defaultSessionOptions } = await import('../lib/train/options');
  const B = cfg.batch;
  const model = await ClipModel.create('ViT-B-16', { seed: 0, imageSize: SIZE, contextLength: CONTEXT });
  const vocab = model.config.vocabSize;
  const session = new (native().TrainSessionNative)(model.native, defaultSessionOptions({
    lr: 5e-4, positiveClip: 0.8, gradClip: 1, accumSteps: cfg.accumSteps, gradCheckpointing: cfg.gradCheckpointing,
    patchDropout: cfg.patchDropout,
  }));
  const px = new Uint8Array(B * SIZE * SIZE);
  let s = 12345;
  const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let i = 0; i < px.length; i++) px[i] = Math.floor(rnd() * 256);
  const ids = new Int32Array(B * CONTEXT);
  for (let r = 0; r < B; r++) {
    const len = 12 + (r % 9);
    ids[r * CONTEXT] = vocab - 2; // start of text
    for (let j = 1; j < len - 1; j++) ids[r * CONTEXT + j] = 1 + Math.floor(rnd() * (vocab - 3));
    ids[r * CONTEXT + len - 1] = vocab - 1; // end of text (the largest id: the pooled position)
  }
  const times: number[] = [];
  const losses: number[] = [];
  for (let k = 0; k < cfg.steps + 1; k++) {
    const t = process.hrtime.bigint();
    const r = await session.step(px, [B, SIZE, SIZE], ids, [B, CONTEXT], null, 5e-4);
    if (k > 0 || cfg.steps === 0) times.push(Number(process.hrtime.bigint() - t) / 1e9);
    losses.push(r.loss);
  }
  const out: ChildResult = { step_s: times, maxrss_kb: process.resourceUsage().maxRSS, losses, params: model.numParameters };
  process.stdout.write(JSON.stringify(out) + '\n');
  model.dispose();
}

export const bench: BenchModule = {
  name: 'batch-memory',
  async run() {
    const batch = Number(process.env.XT_BENCH_MEM_BATCH ?? 64);
    const steps = Number(process.env.XT_BENCH_MEM_STEPS ?? 2);
    const threads = process.env.XT_BENCH_THREADS ?? '2';
    const only = process.env.XT_BENCH_MEM_CONFIGS?.split(',').map((x) => x.trim());
    const results = new Map<string, ChildResult>();
    for (const c of CONFIGS.filter((x) => !only || only.includes(x.name) || x.name === 'baseline')) {
      const r = spawnSync(process.execPath, [__filename, '--child', JSON.stringify({ ...c, batch, steps })], {
        encoding: 'utf8', env: { ...process.env, XRAY_TORCH_THREADS: threads, OMP_NUM_THREADS: threads }, maxBuffer: 1 << 24,
      });
      const line = r.stdout.trim().split('\n').pop() ?? '';
      if (r.status !== 0 || !line.startsWith('{')) throw new Error(`${c.name}: child failed (${r.status})\n${r.stderr}`);
      results.set(c.name, JSON.parse(line) as ChildResult);
    }
    const base = results.get('baseline')!;
    const pairs = (x: ChildResult) => batch / median(x.step_s);
    const rows: BenchRow[] = [];
    const targets: Record<string, { rss?: number; time?: number; speed?: number }> = {
      accum4: { rss: 0.55, time: 1.45 }, checkpointing: { rss: 0.5, time: 1.4 }, 'accum4+checkpointing': { rss: 0.35 },
      'patch-dropout-0.5': { speed: 1.6 },
    };
    for (const [name, x] of results) {
      const t = targets[name] ?? {};
      rows.push({ metric: `${name}: pairs/s`, ours: +pairs(x).toFixed(2), baseline: +pairs(base).toFixed(2), unit: 'pairs/s', higherIsBetter: true,
        ...(t.speed ? { target: t.speed } : t.time ? { target: +(1 / t.time).toFixed(3) } : {}) });
      rows.push({ metric: `${name}: peak RSS`, ours: Math.round(x.maxrss_kb / 1024), baseline: Math.round(base.maxrss_kb / 1024), unit: 'MiB', higherIsBetter: false,
        ...(t.rss ? { target: +(1 / t.rss).toFixed(3) } : {}) });
    }
    const notes = [
      (steps > 0 ? `Batch ${batch}, ${steps} timed step(s) after one warm-up step per configuration` : `Batch ${batch}, one step per configuration (warm-up included)`) +
        ', each in its own process; ' +
        `${(base.params / 1e6).toFixed(1)}M parameters. Speed ratio > 1 is faster than the baseline; for the RSS rows it is ` +
        'baseline / ours (a target of 1/0.55 = 1.82 means "at most 0.55x of the baseline\'s peak").',
      'First-step losses (all start from the same weights and batch; accumulation and checkpointing must give the baseline\'s, ' +
        'patch dropout another): ' + [...results].map(([n, x]) => `${n} ${x.losses[0].toFixed(5)}`).join(', '),
    ];
    return { title: `Fitting a big batch: ViT-B/16 + 12-layer text, batch ${batch}, 224 px, fp32 CPU`, baseline: 'the baseline configuration', rows, notes };
  },
};

if (require.main === module) {
  const i = process.argv.indexOf('--child');
  if (i > 0) {
    child(JSON.parse(process.argv[i + 1])).catch((e) => {
      process.stderr.write(String((e as Error).stack ?? e) + '\n');
      process.exit(1);
    });
  } else runStandalone(bench);
}
