/**
 * Training speed (issue 7 §7), side by side in one run: a ViT-B/32 image tower + 12-layer 512-wide
 * text tower (the `ViT-B-32` preset) from random init, batch 32, 224 px, positive clip 0.8, AdamW
 * (weight decay 0.2, off for biases/norms/embeddings/logit scale), gradient clipping at 1.0, fp32
 * on the CPU, 2 intra-op threads on both sides, in training pairs/s.
 *
 *  (a) pre-decoded tensors: our native step (TrainSessionNative.step on fixed random 8-bit grey pixels
 *      [32, 224, 224], as the loader hands them over, normalised natively; Python gets their normalised
 *      float expansion [32, 3, 224, 224], what its DataLoader gives) and
 *      tokens: one sentence drawn from each report as `train` draws it; part `a-long` repeats it
 *      with rows of 6 .. context-3 tokens) against the same step in PyTorch-in-Python (bench/python/train_clip.py: OpenAI's
 *      CLIP code, the relaxed loss composed in PyTorch, clip_grad_norm_, torch.optim.AdamW with the
 *      same parameter groups; Debian python3-torch 1.13.1 = the same LibTorch). Both start from the
 *      same weights (ours, saved OpenAI-named) and see the same batch, so the losses and gradient
 *      norms of their steps must agree (checked, in the notes). Two resident child processes;
 *      single steps alternate (ours, Python, ours, …) so both see the same momentary load.
 *  (b) end to end from 512² JPEG files (SYNTHETIC images upscaled, short template reports, a
 *      manifest): `train()` (lib/train) against the same Python step fed by a 2-worker DataLoader
 *      (PIL + torchvision transforms, one sentence drawn from the report, BPE tokenised). Each side
 *      runs in its own child, one after the other; pairs/s from the time after each step, after the
 *      warm-up steps.
 *  (c) peak RSS of each side: ours = process.resourceUsage().maxRSS of our child; Python =
 *      ru_maxrss of its process (plus, in (b), its DataLoader workers' peaks). /proc VmHWM beside it.
 *
 *   node dist/bench/train.js        (or: npm run bench -- train)
 * Env: XT_BENCH_TRAIN_STEPS (timed steps per side and part, default 4), XT_BENCH_TRAIN_WARMUP
 * (default 2), XT_BENCH_TRAIN_IMAGES (JPEG files, default 256), XT_BENCH_TRAIN_PARTS (a,a-long,b; default all),
 * XT_BENCH_THREADS (default 2).
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as readline from 'readline';
import { median, pseudoNormal, runStandalone } from './util';
import type { BenchModule, BenchResult, BenchRow } from './types';

const BATCH = 32;
const SIZE = 224;
const CONTEXT = 48; // `train --model scratch:…` default text context
const POSITIVE_CLIP = 0.8;
const GRAD_CLIP = 1.0;
const LR = 5e-4;
const WEIGHT_DECAY = 0.2;
const PY_SCRIPT = path.resolve(__dirname, '..', '..', 'bench', 'python', 'train_clip.py');

interface Rss {
  /** getrusage ru_maxrss (kB). */
  maxrss_kb: number;
  /** /proc/self/status VmHWM (kB): the peak of this process image alone. */
  vmhwm_kb: number | null;
}

function vmHwmKb(): number | null {
  try {
    const m = /VmHWM:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function rssSelf(): Rss {
  return { maxrss_kb: process.resourceUsage().maxRSS, vmhwm_kb: vmHwmKb() };
}


const mib = (kb: number | null | undefined): string => (kb === null || kb === undefined ? '—' : (kb / 1024).toFixed(0));
const r2 = (x: number): number => Math.round(x * 100) / 100;

/** 8-bit grey pixels around mid-grey (pseudo-normal, clamped). */
const greyPixels = (n: number): Uint8Array => Uint8Array.from(pseudoNormal(n, 0x2545f491), (x) => Math.max(0, Math.min(255, Math.round(128 + 48 * x))));

/** Token rows as CLIP's tokenize gives them: start, ids, end (the highest id), zeros. */
function tokens(batch: number, ctx: number, vocab: number): Int32Array {
  const out = new Int32Array(batch * ctx);
  const sot = vocab - 2;
  const eot = vocab - 1;
  for (let b = 0; b < batch; b++) {
    const len = 6 + ((b * 7) % (ctx - 8)); // 6 .. ctx-3 content tokens
    out[b * ctx] = sot;
    for (let j = 1; j <= len; j++) out[b * ctx + j] = 1 + ((b * 131 + j * 37) % (vocab - 3));
    out[b * ctx + len + 1] = eot;
  }
  return out;
}

/** "text lengths (start/end tokens included) min … median … max of the context": how much of it the rows use. */
function textLengths(ids: Int32Array, ctx: number): string {
  const lens: number[] = [];
  for (let r = 0; r < ids.length / ctx; r++) {
    const row = ids.subarray(r * ctx, (r + 1) * ctx);
    let best = 0;
    for (let j = 1; j < ctx; j++) if (row[j] > row[best]) best = j;
    lens.push(best + 1);
  }
  lens.sort((x, y) => x - y);
  return `lengths with start and end tokens: min ${lens[0]}, median ${median(lens)}, max ${lens[lens.length - 1]} of ${ctx}`;
}

/** A child answering one JSON line per command (ours: this file with --child; Python: train_clip.py). */
class LineChild {
  private lines: string[] = [];
  private waiting: ((l: string) => void) | undefined;
  private stderr = '';
  readonly proc: ChildProcess;
  private exited: string | undefined;

  constructor(cmd: string, args: string[], env: NodeJS.ProcessEnv) {
    this.proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
    this.proc.stderr!.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-8000)));
    readline.createInterface({ input: this.proc.stdout! }).on('line', (l) => {
      if (!l.startsWith('{')) return;
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = undefined;
        w(l);
      } else this.lines.push(l);
    });
    this.proc.on('exit', (code, sig) => {
      this.exited = `exited (${code ?? sig}): ${this.stderr.slice(-3000)}`;
      if (this.waiting) this.waiting(JSON.stringify({ error: this.exited }));
    });
  }

  async next<T>(): Promise<T> {
    let line: string;
    if (this.lines.length) line = this.lines.shift()!;
    else if (this.exited) line = JSON.stringify({ error: this.exited });
    else line = await new Promise<string>((r) => (this.waiting = r));
    const v = JSON.parse(line) as T & { error?: string };
    if (v.error) throw new Error(`${path.basename(String(this.proc.spawnfile))} child failed: ${v.error}`);
    return v;
  }

  async command<T>(cmd: string): Promise<T> {
    this.proc.stdin!.write(cmd + '\n');
    return this.next<T>();
  }

  close(): void {
    if (this.proc.exitCode === null) this.proc.stdin!.end('quit\n');
  }

  async exit(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    await new Promise<void>((r) => this.proc.once('exit', () => r()));
  }
}

// ---------------------------------------------------------------------------------------------
// Child processes of our side
// ---------------------------------------------------------------------------------------------
interface TensorsChildCfg {
  dir: string;
  vocab: number;
  /** Columns of tokens.i32 (default the context length; fewer = a trimmed token matrix). */
  tokenLength?: number;
}

/** (a), ours: a resident TrainSessionNative over fixed tensors; saves its initial weights for Python. */
async function childTensors(cfg: TensorsChildCfg): Promise<void> {
  const { native } = await import('../lib/native');
  const { ClipModel } = await import('../lib/model/clip');
  const { defaultSessionOptions } = await import('../lib/train/options');
  const out = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');
  try {
    const px = new Uint8Array(fs.readFileSync(path.join(cfg.dir, 'pixels.u8')));
    const ids = new Int32Array(fs.readFileSync(path.join(cfg.dir, 'tokens.i32')).buffer.slice(0));
    const t0 = Date.now();
    const model = await ClipModel.create('ViT-B-32', { seed: 0, imageSize: SIZE, vocabSize: cfg.vocab, contextLength: CONTEXT });
    const weights = path.join(cfg.dir, 'init.safetensors');
    await model.save(weights, { layout: 'openai', dtype: 'float32' });
    const session = new (native().TrainSessionNative)(model.native, defaultSessionOptions({
      lr: LR, weightDecay: WEIGHT_DECAY, positiveClip: POSITIVE_CLIP, gradClip: GRAD_CLIP,
    }));
    out({
      ready: true, load_s: (Date.now() - t0) / 1000, threads: native().runtimeInfo().intraOpThreads, weights,
      params: model.numParameters, trainable: session.numTrainable, ...rssSelf(),
    });
    const rl = readline.createInterface({ input: process.stdin });
    for await (const line of rl) {
      const cmd = line.trim().split(/\s+/);
      if (cmd[0] === 'step') {
        const lr = cmd[1] ? Number(cmd[1]) : LR;
        const u0 = process.resourceUsage();
        const t = process.hrtime.bigint();
        const r = await session.step(px, [BATCH, SIZE, SIZE], ids, [BATCH, cfg.tokenLength ?? CONTEXT], null, lr);
        const secs = Number(process.hrtime.bigint() - t) / 1e9;
        const u1 = process.resourceUsage();
        out({
          t: secs, cpu: (u1.userCPUTime - u0.userCPUTime + u1.systemCPUTime - u0.systemCPUTime) / 1e6,
          sys: (u1.systemCPUTime - u0.systemCPUTime) / 1e6, minflt: u1.minorPageFault - u0.minorPageFault,
          loss: r.loss, grad_norm: r.gradNorm, logit_scale: r.logitScale,
        });
      } else if (cmd[0] === 'rss') out(rssSelf());
      else if (cmd[0]) break;
    }
    rl.close();
    model.dispose();
  } catch (e) {
    out({ error: (e as Error).stack ?? String(e) });
    process.exitCode = 1;
  }
}

interface JpegChildCfg {
  dir: string;
  manifest: string;
  tokenizer: string;
  steps: number;
}

/** (b), ours: train() over the JPEG manifest; the time after each step and the peak RSS. */
async function childJpeg(cfg: JpegChildCfg): Promise<void> {
  const { train } = await import('../lib/train/trainer');
  const out = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');
  try {
    const t0 = process.hrtime.bigint();
    const stamps: number[] = [];
    const cpu: number[] = [];
    const losses: number[] = [];
    let atLastStep: Rss | undefined;
    const run = train({
      data: cfg.manifest, format: 'manifest', model: 'scratch:ViT-B-32', tokenizer: cfg.tokenizer, contextLength: CONTEXT,
      imageSize: SIZE, out: path.join(cfg.dir, 'run'), steps: cfg.steps, batchSize: BATCH, lr: LR, weightDecay: WEIGHT_DECAY,
      positiveClip: POSITIVE_CLIP, gradClip: GRAD_CLIP, seed: 0, validate: false, progress: 'quiet', keep: 1,
    });
    run.on('step', (s) => {
      stamps.push(Number(process.hrtime.bigint() - t0) / 1e9);
      const c = process.cpuUsage();
      cpu.push((c.user + c.system) / 1e6);
      losses.push(s.loss ?? NaN);
      if (s.step === cfg.steps) atLastStep = rssSelf();
    });
    const summary = await run.done;
    out({ stamps, cpu, losses, rss_at_last_step: atLastStep, rss_end: rssSelf(), seconds: summary.seconds, summary_pairs_per_s: summary.pairsPerSec });
  } catch (e) {
    out({ error: (e as Error).stack ?? String(e) });
    process.exitCode = 1;
  }
}

// ---------------------------------------------------------------------------------------------
// The benchmark (parent)
// ---------------------------------------------------------------------------------------------
interface Ready extends Rss {
  ready: boolean;
  load_s: number;
  threads: number;
  params: number;
  trainable?: number;
  torch?: string;
  python?: string;
}

interface StepOut {
  t: number;
  cpu: number;
  sys: number;
  minflt: number;
  loss: number;
  grad_norm: number;
  logit_scale: number;
}

interface OursJpeg {
  stamps: number[];
  cpu: number[];
  losses: number[];
  rss_at_last_step: Rss;
  rss_end: Rss;
  seconds: number;
}

interface PyJpeg {
  stamps: number[];
  cpu: number[];
  losses: number[];
  setup_s: number;
  threads: number;
  workers: number;
  main: Rss;
  children_maxrss_kb: number;
  workers_vmhwm_kb: number;
  workers_pss_kb: number;
  torch: string;
}

function childEnv(threads: number): NodeJS.ProcessEnv {
  return { ...process.env, XRAY_TORCH_THREADS: String(threads), OMP_NUM_THREADS: String(threads) };
}

function ourChild(mode: 'tensors' | 'jpeg', cfg: unknown, threads: number): LineChild {
  return new LineChild(process.execPath, [__filename, '--child', mode, JSON.stringify(cfg)], childEnv(threads));
}

/** SYNTHETIC 512² JPEGs (synth images drawn at 256 px, upscaled), short reports, a manifest. */
async function makeJpegs(dir: string, n: number): Promise<{ manifest: string; reports: string[] }> {
  const sharp = (await import('sharp')).default;
  const { synthImage, synthRow } = await import('../lib/data/synth');
  fs.mkdirSync(path.join(dir, 'images'), { recursive: true });
  const rows: string[] = [];
  const reports: string[] = [];
  for (let i = 0; i < n; i++) {
    const px = synthImage(7, i, 256);
    const row = synthRow(7, i);
    const file = `images/s${String(i).padStart(4, '0')}.jpg`;
    await sharp(Buffer.from(px.buffer, px.byteOffset, px.byteLength), { raw: { width: 256, height: 256, channels: 1 } })
      .resize(512, 512, { kernel: 'lanczos3' })
      .toColourspace('b-w')
      .jpeg({ quality: 90 })
      .toFile(path.join(dir, file));
    rows.push(JSON.stringify({ id: row.id, image: file, report: row.report, split: 'train' }));
    reports.push(row.report);
  }
  const manifest = path.join(dir, 'manifest.jsonl');
  fs.writeFileSync(manifest, rows.join('\n') + '\n');
  return { manifest, reports };
}

async function loadAvg(): Promise<string> {
  return os.loadavg().map((x) => x.toFixed(2)).join(' / ');
}

export const bench: BenchModule = {
  name: 'train',
  async run(): Promise<BenchResult> {
    const steps = Number(process.env.XT_BENCH_TRAIN_STEPS) || 4;
    const warmup = Number(process.env.XT_BENCH_TRAIN_WARMUP ?? 2);
    const nImages = Number(process.env.XT_BENCH_TRAIN_IMAGES) || 256;
    const threads = Number(process.env.XT_BENCH_THREADS) || 2;
    const parts = (process.env.XT_BENCH_TRAIN_PARTS ?? 'a,a-long,b').split(',');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xt-train-bench-'));
    const rows: BenchRow[] = [];
    const notes: string[] = [];
    const loads: string[] = [`start ${await loadAvg()}`];
    let pyVersion = '';
    const children: LineChild[] = [];
    try {
      // The tokenizer `train --model scratch:…` would train (also sets the vocabulary of (a)).
      const { trainBpeTokenizer, saveBpeTokenizer } = await import('../lib/text/bpe-train');
      const { ClipTokenizer } = await import('../lib/text/clip-tokenizer');
      const { SentenceSampler } = await import('../lib/text/sampling');
      const data = await makeJpegs(path.join(dir, 'data'), nImages);
      const tokDir = path.join(dir, 'tokenizer');
      saveBpeTokenizer(trainBpeTokenizer(data.reports, { vocabSize: 2048 }), tokDir, { contextLength: CONTEXT });
      const vocab = ClipTokenizer.fromFile(tokDir).vocabSize;
      notes.push(`Model: ViT-B-32 preset (image: 12 × 768, patch 32, 224 px; text: 12 × 512, 8 heads, context ${CONTEXT}, ` +
        `vocabulary ${vocab} from the BPE tokenizer trained on the reports, as \`train --model scratch:ViT-B-32\` does), ` +
        `batch ${BATCH}, lr ${LR}, weight decay ${WEIGHT_DECAY} (0 for biases/norms/embeddings/logit scale), betas (0.9, 0.98), eps 1e-6, ` +
        `positive clip ${POSITIVE_CLIP}, grad clip ${GRAD_CLIP}, fp32, ${threads} intra-op threads per side, ${warmup} warm-up + ${steps} timed steps per side and part.`);

      // ---------------- (a) pre-decoded tensors ----------------
      // Run twice: token rows as train() draws them (one sentence per report: what the method
      // trains on), and long rows (6 .. context-3 content tokens, most of the context in use).
      const { greyToCHW } = await import('../lib/data/images');
      const px = greyPixels(BATCH * SIZE * SIZE);
      fs.writeFileSync(path.join(dir, 'pixels.u8'), px);
      const f32 = new Float32Array(BATCH * 3 * SIZE * SIZE);
      for (let b = 0; b < BATCH; b++)
        greyToCHW({ width: SIZE, height: SIZE, data: px.subarray(b * SIZE * SIZE, (b + 1) * SIZE * SIZE) }, f32, b * 3 * SIZE * SIZE);
      fs.writeFileSync(path.join(dir, 'pixels.f32'), Buffer.from(f32.buffer, f32.byteOffset, f32.byteLength));
      const partA = async (tag: string, ids: Int32Array, what: string): Promise<void> => {
        fs.writeFileSync(path.join(dir, 'tokens.i32'), Buffer.from(ids.buffer, ids.byteOffset, ids.byteLength));
        notes.push(`(a${tag}) token rows: ${what}; ${textLengths(ids, CONTEXT)}.`);
        const ours = ourChild('tensors', { dir, vocab } satisfies TensorsChildCfg, threads);
        children.push(ours);
        const oReady = await ours.next<Ready & { weights: string }>();
        const py = new LineChild('/usr/bin/python3', [PY_SCRIPT, '--mode', 'tensors', '--serve', '--weights', oReady.weights,
          '--pixels', path.join(dir, 'pixels.f32'), '--tokens', path.join(dir, 'tokens.i32'), '--batch', String(BATCH),
          '--size', String(SIZE), '--context', String(CONTEXT), '--vocab', String(vocab), '--threads', String(threads),
          '--lr', String(LR), '--weight-decay', String(WEIGHT_DECAY), '--clip', String(POSITIVE_CLIP), '--grad-clip', String(GRAD_CLIP)],
        childEnv(threads));
        children.push(py);
        const pReady = await py.next<Ready>();
        pyVersion = `torch ${pReady.torch}, Python ${pReady.python}`;
        if (oReady.params !== pReady.params) throw new Error(`parameter counts differ: ours ${oReady.params}, python ${pReady.params}`);
        const oSteps: StepOut[] = [];
        const pSteps: StepOut[] = [];
        for (let i = 0; i < warmup + steps; i++) {
          oSteps.push(await ours.command<StepOut>(`step ${LR}`));
          pSteps.push(await py.command<StepOut>(`step ${LR}`));
          process.stderr.write(`[train bench] (a${tag}) step ${i + 1}: ours ${oSteps[i].t.toFixed(2)} s, python ${pSteps[i].t.toFixed(2)} s\n`);
        }
        loads.push(`after (a${tag}) ${await loadAvg()}`);
        const oRss = await ours.command<Rss>('rss');
        const pRss = await py.command<Rss>('rss');
        ours.close();
        py.close();
        await Promise.all([ours.exit(), py.exit()]);
        const oT = oSteps.slice(warmup).map((s) => s.t);
        const pT = pSteps.slice(warmup).map((s) => s.t);
        const oSum = oT.reduce((a, b) => a + b, 0);
        const pSum = pT.reduce((a, b) => a + b, 0);
        rows.push({
          metric: `(a${tag}) training step on pre-decoded tensors (${steps} alternating steps after ${warmup} warm-up)`,
          ours: r2((BATCH * steps) / oSum), baseline: r2((BATCH * steps) / pSum), unit: 'pairs/s', higherIsBetter: true, target: 1,
        });
        rows.push({
          metric: `(a${tag}) peak RSS, ru_maxrss of each process`,
          ours: Math.round(oRss.maxrss_kb / 1024), baseline: Math.round(pRss.maxrss_kb / 1024), unit: 'MiB', higherIsBetter: false,
          target: r2(1 / 1.2),
        });
        const ratios = oT.map((t, i) => pT[i] / t);
        const oCpu = oSteps.slice(warmup).reduce((a, s) => a + s.cpu, 0) / steps;
        const pCpu = pSteps.slice(warmup).reduce((a, s) => a + s.cpu, 0) / steps;
        notes.push(`(a${tag}) step seconds, ours: ${oSteps.map((s) => s.t.toFixed(2)).join(', ')} (first ${warmup} = warm-up); ` +
          `Python: ${pSteps.map((s) => s.t.toFixed(2)).join(', ')}. Per-pair speed ratios (Python time / ours): ` +
          `${ratios.map((r) => r.toFixed(3)).join(', ')}, median ${median(ratios).toFixed(3)}×. Median step: ours ${median(oT).toFixed(2)} s, ` +
          `Python ${median(pT).toFixed(2)} s. Process CPU per timed step: ours ${oCpu.toFixed(1)} s, Python ${pCpu.toFixed(1)} s (ratio Python / ours ${(pCpu / oCpu).toFixed(3)}), ` +
          `of which system time ours ${(oSteps.slice(warmup).reduce((a, s) => a + s.sys, 0) / steps).toFixed(2)} s, Python ${(pSteps.slice(warmup).reduce((a, s) => a + s.sys, 0) / steps).toFixed(2)} s; ` +
          `minor page faults per timed step ours ${Math.round(oSteps.slice(warmup).reduce((a, s) => a + s.minflt, 0) / steps)}, Python ${Math.round(pSteps.slice(warmup).reduce((a, s) => a + s.minflt, 0) / steps)}.`);
        const rel = (x: number, y: number) => Math.abs(x - y) / Math.max(1e-12, Math.abs(y));
        notes.push(`(a${tag}) same weights and batch on both sides, so the steps must agree: loss per step ours ` +
          `${oSteps.map((s) => s.loss.toFixed(5)).join(', ')}; Python ${pSteps.map((s) => s.loss.toFixed(5)).join(', ')} ` +
          `(max rel. diff ${Math.max(...oSteps.map((s, i) => rel(s.loss, pSteps[i].loss))).toExponential(1)}); ` +
          `grad norm (before clipping) step 1: ours ${oSteps[0].grad_norm.toFixed(5)}, Python ${pSteps[0].grad_norm.toFixed(5)}, ` +
          `max rel. diff over all steps ${Math.max(...oSteps.map((s, i) => rel(s.grad_norm, pSteps[i].grad_norm))).toExponential(1)}.`);
        notes.push(`(a${tag}) peak RSS: ours ru_maxrss ${mib(oRss.maxrss_kb)} MiB (VmHWM ${mib(oRss.vmhwm_kb)}), ` +
          `Python ${mib(pRss.maxrss_kb)} MiB (VmHWM ${mib(pRss.vmhwm_kb)}); after setup (before the first step): ours ${mib(oReady.vmhwm_kb)}, Python ${mib(pReady.vmhwm_kb)} MiB VmHWM. ` +
          `Parameters: ${(oReady.params / 1e6).toFixed(2)} M on both sides.`);
      };
      if (parts.includes('a')) {
        const tok = ClipTokenizer.fromFile(tokDir);
        const sampler = new SentenceSampler({ seed: 0 });
        const drawn = sampler.sampleBatch(data.reports.slice(0, BATCH).map((r, i) => ({ id: i, report: r })), 0);
        await partA('', tok.tokenize(drawn.map((d) => d.text), CONTEXT), 'one sentence drawn from each of the first 32 reports, as `train` draws them (`--sentences 1`)');
        if (parts.includes('a-long')) {
          await partA(' long rows', tokens(BATCH, CONTEXT, vocab), `synthetic rows of 6 to ${CONTEXT - 3} content tokens`);
        }
      }

      // ---------------- (b) end to end from JPEG files ----------------
      if (parts.includes('b')) {
        const total = warmup + steps;
        const ours = ourChild('jpeg', { dir, manifest: data.manifest, tokenizer: tokDir, steps: total } satisfies JpegChildCfg, threads);
        children.push(ours);
        const o = await ours.next<OursJpeg>();
        await ours.exit();
        loads.push(`after (b) ours ${await loadAvg()}`);
        const py = new LineChild('/usr/bin/python3', [PY_SCRIPT, '--mode', 'jpeg', '--manifest', data.manifest, '--tokenizer', tokDir,
          '--steps', String(total), '--batch', String(BATCH), '--size', String(SIZE), '--context', String(CONTEXT), '--vocab', String(vocab),
          '--threads', String(threads), '--workers', '2', '--lr', String(LR), '--weight-decay', String(WEIGHT_DECAY),
          '--clip', String(POSITIVE_CLIP), '--grad-clip', String(GRAD_CLIP)], childEnv(threads));
        children.push(py);
        const p = await py.next<PyJpeg>();
        await py.exit();
        loads.push(`after (b) Python ${await loadAvg()}`);
        pyVersion ||= `torch ${p.torch}`;
        const rate = (st: number[]) => (BATCH * steps) / (st[total - 1] - st[warmup - 1]);
        rows.push({
          metric: `(b) end to end from ${nImages} 512² JPEGs: train() vs 2-worker DataLoader loop (${steps} steps after ${warmup} warm-up)`,
          ours: r2(rate(o.stamps)), baseline: r2(rate(p.stamps)), unit: 'pairs/s', higherIsBetter: true, target: 1.2,
        });
        const pyTotal = p.main.maxrss_kb + p.workers_vmhwm_kb;
        rows.push({
          metric: '(b) peak RSS: ours ru_maxrss (training) vs Python ru_maxrss + its 2 workers\' peaks',
          ours: Math.round(o.rss_at_last_step.maxrss_kb / 1024), baseline: Math.round(pyTotal / 1024), unit: 'MiB', higherIsBetter: false,
          target: r2(1 / 1.2),
        });
        const cpuPerStep = (c: number[]) => (c[total - 1] - c[warmup - 1]) / steps;
        notes.push(`(b) CPU seconds per timed step (every thread of our process; Python's main process + its workers): ` +
          `ours ${cpuPerStep(o.cpu).toFixed(1)}, Python ${cpuPerStep(p.cpu).toFixed(1)} (ratio Python / ours ${(cpuPerStep(p.cpu) / cpuPerStep(o.cpu)).toFixed(3)}).`);
        const gaps = (st: number[]) => st.map((t, i) => (i ? t - st[i - 1] : t)).map((x) => x.toFixed(2)).join(', ');
        notes.push(`(b) time per step (s; the first includes setup: ours trains no tokenizer here but builds the model, Python starts its workers first), ` +
          `ours: ${gaps(o.stamps)}; Python: ${gaps(p.stamps)} (Python setup before the loop ${p.setup_s.toFixed(1)} s). ` +
          `Losses: ours ${o.losses.map((l) => l.toFixed(3)).join(', ')}; Python ${p.losses.map((l) => l.toFixed(3)).join(', ')}.`);
        notes.push(`(b) peak RSS: ours ru_maxrss ${mib(o.rss_at_last_step.maxrss_kb)} MiB at the last step (VmHWM ${mib(o.rss_at_last_step.vmhwm_kb)}), ` +
          `${mib(o.rss_end.maxrss_kb)} MiB after train() saved its checkpoint and model; Python main ru_maxrss ${mib(p.main.maxrss_kb)} MiB ` +
          `(VmHWM ${mib(p.main.vmhwm_kb)}), workers' VmHWM summed ${mib(p.workers_vmhwm_kb)} MiB (largest worker's ru_maxrss ${mib(p.children_maxrss_kb)}; ` +
          `workers' PSS summed ${mib(p.workers_pss_kb)} MiB). Against Python's main process alone: ours / Python = ` +
          `${(o.rss_at_last_step.maxrss_kb / p.main.maxrss_kb).toFixed(2)}×; against main + workers: ${(o.rss_at_last_step.maxrss_kb / pyTotal).toFixed(2)}× (target ≤ 1.2×).`);
      }
      notes.push(`Load average (1 / 5 / 15 min) on this shared 2-core machine: ${loads.join('; ')}.`);
      return {
        title: `Training step: ViT-B/32 + 12-layer text tower from scratch, batch ${BATCH}, ${SIZE} px, fp32 CPU, ${threads} threads (issue 7)`,
        baseline: `PyTorch-in-Python (${pyVersion}, Debian python3-torch = the same LibTorch): OpenAI's CLIP code, the relaxed loss composed in PyTorch, ` +
          `clip_grad_norm_, torch.optim.AdamW with the same parameter groups; (b) fed by a 2-worker DataLoader (PIL + torchvision)`,
        rows,
        notes,
      };
    } finally {
      for (const c of children) {
        if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
      }
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
};

if (require.main === module) {
  const i = process.argv.indexOf('--child');
  if (i >= 0) {
    const mode = process.argv[i + 1];
    const cfg = JSON.parse(process.argv[i + 2]);
    (mode === 'tensors' ? childTensors(cfg) : childJpeg(cfg)).catch((e) => {
      process.stdout.write(JSON.stringify({ error: String(e) }) + '\n');
      process.exitCode = 1;
    });
  } else {
    runStandalone(bench);
  }
}
