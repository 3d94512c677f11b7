/**
 * `train(options)`: fine-tune (or train from scratch) a CLIP on images + reports with the paper's
 * method — sentence sampling from the report and the positive-pair–relaxed contrastive loss.
 *
 *   const run = train({ data: 'demo/manifest.jsonl', model: 'scratch:tiny', out: 'runs/demo', epochs: 5 });
 *   run.on('step', (s) => …);           // step, epoch, loss, lr, images/s, gradNorm, logitScale
 *   const summary = await run.done;     // final metrics, model folder
 *   // run.cancel() or an AbortSignal: finish the current step, save, resolve.
 *
 * Each step is one native call (binding/train): both encoders forward, the fused loss, backward,
 * clipping and AdamW. The data loader decodes the next batches (sharp, libuv threads) while the step
 * runs, so decoding overlaps compute; the event loop is never blocked.
 */
import { EventEmitter } from 'events';
import * as fs from 'fs';
import * as path from 'path';
import { native } from '../native';
import { xtError, isXtError } from '../errors';
import type { TrainSessionNative, TrainStepResult } from '../native';
import { ClipModel, loadModel } from '../model/clip';
import { openDataset, type DatasetFormat } from '../data/readers';
import { DataLoader } from '../data/loader';
import type { StudyRecord } from '../data/types';
import { SentenceSampler, type PreparedReport } from '../text/sampling';
import { ClipTokenizer } from '../text/clip-tokenizer';
import { trainBpeTokenizer, saveBpeTokenizer } from '../text/bpe-train';
import { parseReport } from '../text/reports';
import type { SectionSelection } from '../text/reports';
import { adaptClip } from '../eval/model';
import { runZeroShotEval } from '../eval/pipeline';
import { labelSpecs } from '../eval/labelsets';
import { resolveDevice } from '../runtime/device';
import { lrAt } from './schedule';
import { CheckpointStore } from './checkpoints';
import { MetricsLog } from './metrics-log';
import { Progress, type ProgressMode } from './progress';
import { writeFileAtomic } from '../util/atomic';
import { readDistEnv, type DistEnv } from '../distributed/env';
import { initDistributed, distNative } from '../distributed';
import type { DistBackend } from '../native';
import * as os from 'os';

/** The default relaxation; the sweep behind it is in the README ("Choosing `--positive-clip`"). */
export const DEFAULT_POSITIVE_CLIP = 0.8;

export interface TrainOptions {
  /** Dataset root or manifest (any reader of lib/data). */
  data: string;
  format?: DatasetFormat | 'auto';
  /** MIMIC: reports root. */
  reports?: string;
  trainSplit?: string;
  validSplit?: string;
  /** Pre-trained weights (any supported format) or `scratch:PRESET` (tiny, small, ViT-B-32, …). */
  model: string;
  /** Input resolution for scratch models (default the preset's). */
  imageSize?: number;
  /** Tokenizer file/folder (default: the model's own; scratch models train one). */
  tokenizer?: string;
  /** Scratch models: vocabulary size of the trained tokenizer (default 2048) and text context (default 48). */
  vocabSize?: number;
  contextLength?: number;
  /** Report sections to draw from (default both: findings + impression). */
  sections?: SectionSelection;
  /** Sentences drawn per example and epoch (default 1). */
  sentences?: number;
  /** The baseline: the whole selected text instead of sampled sentences. */
  fullReport?: boolean;
  /** Probability of using the full text instead of sampled sentences (default 0). */
  fullReportProb?: number;
  positiveClip?: number;
  multiPositive?: boolean;
  batchSize?: number;
  epochs?: number;
  steps?: number;
  lr?: number;
  weightDecay?: number;
  /** Warmup steps (default 5% of the steps). */
  warmup?: number;
  /** Max gradient norm (default 1; 0 = off). */
  gradClip?: number;
  /** Gradient accumulation: micro-batches per step (default 1). */
  accumSteps?: number;
  lockImage?: boolean;
  lockText?: boolean;
  /** Default: bf16 autocast on CUDA, fp32 on the CPU. */
  precision?: 'fp32' | 'bf16' | 'fp16';
  /** `auto` (default; or `XRAY_TORCH_DEVICE`), `cpu`, `cuda`, `cuda:N`; see lib/runtime/device.ts. */
  device?: string;
  seed?: number;
  /** Training augmentation (default true). */
  augment?: boolean;
  /** Output folder: final model, checkpoints/, metrics.jsonl, summary.json. */
  out: string;
  /** Continue from `out` (or the given run/checkpoint folder). */
  resume?: boolean | string;
  /** Checkpoints to keep besides the best (default 3). */
  keep?: number;
  /** Also checkpoint every N steps (default: at each epoch end only). */
  saveEvery?: number;
  /** Validation each epoch (loss + zero-shot AUROC when the split has labels). Default true. */
  validate?: boolean;
  /** Labels for the validation AUROC (default: the dataset's). */
  labels?: string[];
  skipNonfinite?: boolean;
  /** Read the loss from the device every N steps instead of every step, so that steps queue on the GPU
   * without a host synchronisation (default 10 on CUDA, 1 on the CPU where a read costs nothing). The last
   * step of an epoch, of a run and before a save always read. */
  syncEvery?: number;
  /** TF32 for fp32 matmuls/convolutions on CUDA (default true, as open_clip). */
  tf32?: boolean;
  onBadSample?: 'skip' | 'fail';
  progress?: ProgressMode;
  /** Data-parallel backend when started under a launcher (WORLD_SIZE > 1): auto, gloo, nccl. */
  distBackend?: DistBackend;
  /** Decoding concurrency (default 4). */
  concurrency?: number;
  signal?: AbortSignal;
}

export interface StepEvent {
  step: number;
  totalSteps: number;
  epoch: number;
  /** The loss of this step, or with `syncEvery` > 1 the mean over the steps since the last read; null on
   * the steps in between (read later). */
  loss: number | null;
  lr: number;
  gradNorm: number | null;
  logitScale: number;
  imagesPerSec: number;
  skipped: boolean;
}

export interface EpochEvent {
  epoch: number;
  step: number;
  trainLoss: number;
  validLoss?: number;
  validAuroc?: number | null;
  skippedSamples: number;
}

export interface TrainSummary {
  out: string;
  modelDir: string;
  steps: number;
  epochs: number;
  stoppedEarly: boolean;
  finalLoss: number | null;
  validLoss?: number;
  validAuroc?: number | null;
  best: { checkpoint: string; score: number; metric: string } | null;
  seconds: number;
  pairsPerSec: number;
  options: ResolvedOptions;
}

export interface TrainHandle extends EventEmitter {
  readonly done: Promise<TrainSummary>;
  /** Finish the current step, save a checkpoint, and resolve `done`. */
  cancel(): void;
  on(event: 'step', l: (e: StepEvent) => void): this;
  on(event: 'epoch', l: (e: EpochEvent) => void): this;
  on(event: 'checkpoint', l: (e: { path: string; step: number }) => void): this;
  on(event: 'log', l: (msg: string) => void): this;
  on(event: string, l: (...a: any[]) => void): this; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** The options a run was started with, after defaults (saved in every checkpoint). */
export type ResolvedOptions = Required<Omit<TrainOptions, 'signal' | 'resume' | 'steps' | 'epochs' | 'imageSize' | 'tokenizer' | 'labels' | 'reports' | 'device' | 'progress' | 'distBackend'>> & {
  steps: number;
  epochs: number;
  imageSize?: number;
  tokenizer?: string;
  labels?: string[];
  reports?: string;
  device: string;
};

interface SavedState {
  version: 1;
  step: number;
  epoch: number;
  /** Loader position within `epoch` after the last completed step. */
  position: number;
  batchIndex: number;
  options: ResolvedOptions;
  rng: string;
  losses: number[];
  lastEpoch?: EpochEvent;
}

const CRITICAL: (keyof ResolvedOptions)[] = ['data', 'model', 'batchSize', 'seed', 'sentences', 'fullReport', 'positiveClip', 'multiPositive', 'accumSteps', 'augment'];

/** The device of this process: `device`/XRAY_TORCH_DEVICE/auto resolved; under a distributed launch `auto` and
 * `cuda` mean `cuda:$LOCAL_RANK` (one GPU per process). */
function pickDevice(spec: string | undefined, denv: DistEnv): string {
  const choice = resolveDevice(spec);
  if (denv.worldSize > 1 && choice.device.startsWith('cuda') && (choice.requested === 'auto' || choice.requested === 'cuda')) return `cuda:${denv.localRank}`;
  return choice.device;
}

function resolveOptions(o: TrainOptions, batchesPerEpoch: (bs: number) => number, device: string): ResolvedOptions {
  // (batchSize is per process; with W data-parallel processes the global batch is W × batchSize)
  if (!o || typeof o !== 'object') throw xtError('XT_INVALID', 'train(options): options object required');
  if (typeof o.data !== 'string' || !o.data) throw xtError('XT_INVALID', 'train: `data` (a dataset root or manifest) is required');
  if (typeof o.model !== 'string' || !o.model) throw xtError('XT_INVALID', 'train: `model` (weights path or scratch:PRESET) is required');
  if (typeof o.out !== 'string' || !o.out) throw xtError('XT_INVALID', 'train: `out` (the output folder) is required');
  const int = (name: string, v: number | undefined, d: number, min: number): number => {
    const x = v ?? d;
    if (!Number.isInteger(x) || x < min) throw xtError('XT_INVALID', `train: ${name} must be an integer >= ${min}, got ${v}`);
    return x;
  };
  const num = (name: string, v: number | undefined, d: number, lo: number, hi: number): number => {
    const x = v ?? d;
    if (typeof x !== 'number' || !Number.isFinite(x) || x < lo || x > hi) throw xtError('XT_INVALID', `train: ${name} must be a number in [${lo}, ${hi}], got ${v}`);
    return x;
  };
  const batchSize = int('batchSize', o.batchSize, 32, 1);
  if (o.steps !== undefined && o.epochs !== undefined) throw xtError('XT_INVALID', 'train: give either steps or epochs, not both');
  const perEpoch = Math.max(1, batchesPerEpoch(batchSize));
  const steps = o.steps !== undefined ? int('steps', o.steps, 1, 1) : int('epochs', o.epochs, 1, 1) * perEpoch;
  const epochs = Math.ceil(steps / perEpoch);
  const scratch = o.model.startsWith('scratch:');
  return {
    data: o.data,
    format: o.format ?? 'auto',
    reports: o.reports,
    trainSplit: o.trainSplit ?? 'train',
    validSplit: o.validSplit ?? 'valid',
    model: o.model,
    imageSize: o.imageSize,
    tokenizer: o.tokenizer,
    vocabSize: int('vocabSize', o.vocabSize, 2048, 514),
    contextLength: int('contextLength', o.contextLength, scratch ? 48 : 77, 4),
    sections: o.sections ?? 'both',
    sentences: int('sentences', o.sentences, 1, 1),
    fullReport: !!o.fullReport,
    fullReportProb: num('fullReportProb', o.fullReportProb, 0, 0, 1),
    positiveClip: num('positiveClip', o.positiveClip, DEFAULT_POSITIVE_CLIP, -1, 1),
    multiPositive: !!o.multiPositive,
    batchSize,
    epochs,
    steps,
    lr: num('lr', o.lr, scratch ? 5e-4 : 1e-5, 1e-12, 1e6),
    weightDecay: num('weightDecay', o.weightDecay, 0.2, 0, 10),
    warmup: int('warmup', o.warmup, Math.round(steps * 0.05), 0),
    gradClip: num('gradClip', o.gradClip, 1, 0, 1e9),
    accumSteps: int('accumSteps', o.accumSteps, 1, 1),
    lockImage: !!o.lockImage,
    lockText: !!o.lockText,
    // bf16 autocast by default on CUDA (fp32 weights and optimiser state); fp32 on the CPU
    precision: o.precision ?? (device.startsWith('cuda') ? 'bf16' : 'fp32'),
    device,
    seed: int('seed', o.seed, 0, 0),
    augment: o.augment ?? true,
    out: path.resolve(o.out),
    keep: int('keep', o.keep, 3, 1),
    saveEvery: int('saveEvery', o.saveEvery, 0, 0),
    validate: o.validate ?? true,
    labels: o.labels,
    skipNonfinite: !!o.skipNonfinite,
    syncEvery: int('syncEvery', o.syncEvery, device.startsWith('cuda') ? 10 : 1, 1),
    tf32: o.tf32 ?? true,
    onBadSample: o.onBadSample ?? 'skip',
    concurrency: int('concurrency', o.concurrency, 4, 1),
  };
}

/** The report text a record offers (full report, or its sections joined with headers). */
function recordReport(r: StudyRecord): string | undefined {
  if (r.report && r.report.trim()) return r.report;
  if (r.sections) {
    const parts = Object.entries(r.sections).filter(([, t]) => t && t.trim()).map(([k, t]) => `${k.toUpperCase()}: ${t}`);
    if (parts.length) return parts.join('\n');
  }
  return undefined;
}

/** Start a training run. */
export function train(options: TrainOptions): TrainHandle {
  const em = new EventEmitter() as TrainHandle;
  const ctl = { cancelled: false };
  (em as { cancel: () => void }).cancel = () => {
    ctl.cancelled = true;
  };
  if (options?.signal) {
    if (options.signal.aborted) ctl.cancelled = true;
    options.signal.addEventListener('abort', () => (ctl.cancelled = true), { once: true });
  }
  const done = runTraining(options, em, ctl);
  done.catch(() => undefined); // rejection is delivered through `done`
  Object.defineProperty(em, 'done', { value: done });
  return em;
}

async function runTraining(o: TrainOptions, em: TrainHandle, ctl: { cancelled: boolean }): Promise<TrainSummary> {
  const t0 = Date.now();
  const log = (m: string) => em.emit('log', m);
  // first, so that a device that cannot be used fails before any data is read (a resume re-resolves it too)
  const denv = readDistEnv();
  const world = denv.worldSize;
  const rank = denv.rank;
  const lead = rank === 0; // only rank 0 writes checkpoints, logs and the final model
  const device = pickDevice(o?.device, denv);

  // ---- resume: the saved options win (a resumed run must be the same run) ----
  let saved: SavedState | undefined;
  let resumeDir: string | undefined;
  if (o?.resume) {
    const base = path.resolve(typeof o.resume === 'string' ? o.resume : o.out);
    const candidates = [base, path.join(base, 'checkpoints')];
    for (const c of candidates) {
      if (fs.existsSync(path.join(c, 'state.json'))) resumeDir = c;
      else if (fs.existsSync(path.join(c, 'index.json'))) {
        const latest = new CheckpointStore(path.dirname(c)).latest();
        if (latest) resumeDir = latest;
      }
      if (resumeDir) break;
    }
    if (!resumeDir) throw xtError('XT_IO', `${base}: no checkpoint to resume from (expected checkpoints/index.json or state.json)`);
    saved = JSON.parse(fs.readFileSync(path.join(resumeDir, 'state.json'), 'utf8')) as SavedState;
    for (const k of CRITICAL) {
      const given = (o as unknown as Record<string, unknown>)[k];
      if (given !== undefined && k !== 'data' && k !== 'model' && JSON.stringify(given) !== JSON.stringify(saved.options[k])) {
        throw xtError('XT_INVALID', `--resume: ${k} was ${JSON.stringify(saved.options[k])} in the saved run, got ${JSON.stringify(given)}`);
      }
    }
  }

  // ---- data ----
  const fmt = saved?.options.format ?? o.format ?? 'auto';
  const dataRoot = saved?.options.data ?? o.data;
  if (typeof dataRoot !== 'string') throw xtError('XT_INVALID', 'train: `data` (a dataset root or manifest) is required');
  const ds = await openDataset(fmt, dataRoot, { reports: saved?.options.reports ?? o.reports, uncertain: 'keep' });
  const trainSplit = saved?.options.trainSplit ?? o.trainSplit ?? 'train';
  const trainRecords = ds.records.filter((r) => r.split === trainSplit && recordReport(r) !== undefined && r.images.length > 0);
  if (trainRecords.length === 0) {
    throw xtError('XT_INVALID', `${dataRoot}: no studies with an image and a report in split "${trainSplit}" (format ${ds.format})`);
  }
  const opts: ResolvedOptions = saved
    ? { ...saved.options, out: path.resolve(o.out ?? saved.options.out), device }
    : resolveOptions(o, (bs) => Math.floor(trainRecords.length / (bs * world)), device);
  if (trainRecords.length < opts.batchSize) {
    throw xtError('XT_INVALID', `${dataRoot}: ${trainRecords.length} training studies, fewer than one batch of ${opts.batchSize}`);
  }
  // ---- data parallel: joined when a launcher started several processes (WORLD_SIZE > 1) ----
  if (world > 1) {
    if (Math.floor(trainRecords.length / (world * opts.batchSize)) < 1) {
      throw xtError('XT_INVALID', `${dataRoot}: ${trainRecords.length} training studies, fewer than one global batch of ${world} × ${opts.batchSize}`);
    }
    await initDistributed({ backend: o.distBackend ?? 'auto' });
  }
  if (lead) fs.mkdirSync(opts.out, { recursive: true });
  const metrics = lead ? new MetricsLog(path.join(opts.out, 'metrics.jsonl')) : { write: () => undefined, close: () => undefined };
  const progress = new Progress(lead ? o.progress ?? 'auto' : 'quiet');
  em.on('log', (m: string) => progress.log(m));

  // ---- text: sampler + prepared sentences (lazily, once per record) ----
  const sampler = new SentenceSampler({
    seed: opts.seed, k: opts.sentences, sections: opts.sections, full: opts.fullReport, fullProbability: opts.fullReportProb,
  });
  const prepared = new Map<number, PreparedReport>();
  const prep = (i: number, recs: StudyRecord[]) => {
    let p = prepared.get(i);
    if (!p) {
      p = sampler.prepare(parseReport(recordReport(recs[i]) ?? ''));
      if (p.sentences.length === 0) p = { sentences: [(recordReport(recs[i]) ?? '').replace(/\s+/g, ' ').trim()] };
      prepared.set(i, p);
    }
    return p;
  };

  // ---- model + tokenizer ----
  let model: ClipModel;
  let tokenizer: ClipTokenizer;
  const scratch = opts.model.startsWith('scratch:');
  if (saved && resumeDir) {
    model = await loadModel(resumeDir, { device: opts.device });
    if (!model.tokenizer) throw xtError('XT_IO', `${resumeDir}: the checkpoint has no tokenizer files`);
    tokenizer = model.tokenizer;
  } else if (scratch) {
    const preset = opts.model.slice('scratch:'.length);
    if (opts.tokenizer) tokenizer = ClipTokenizer.fromFile(opts.tokenizer);
    else {
      log(`training a ${opts.vocabSize}-token BPE tokenizer on ${trainRecords.length} reports`);
      const texts = trainRecords.map((_, i) => prep(i, trainRecords).sentences.join(' '));
      const trained = trainBpeTokenizer(texts, { vocabSize: opts.vocabSize });
      // every rank trains the same tokenizer (same data); rank 0 keeps it in the run folder
      const tokDir = lead ? path.join(opts.out, 'tokenizer') : fs.mkdtempSync(path.join(os.tmpdir(), `xt-tok-r${rank}-`));
      saveBpeTokenizer(trained, tokDir, { contextLength: opts.contextLength, info: { trainedOn: dataRoot, studies: trainRecords.length } });
      tokenizer = ClipTokenizer.fromFile(tokDir);
    }
    model = await ClipModel.create(preset, {
      seed: opts.seed, imageSize: opts.imageSize, vocabSize: tokenizer.vocabSize, contextLength: opts.contextLength, device: opts.device,
    });
  } else {
    model = await loadModel(opts.model, { device: opts.device });
    if (opts.tokenizer) model.tokenizer = ClipTokenizer.fromFile(opts.tokenizer);
    if (!model.tokenizer) {
      model.dispose();
      throw xtError('XT_INVALID', `${opts.model}: no tokenizer beside the weights; give one with --tokenizer FILE|DIR`);
    }
    tokenizer = model.tokenizer;
  }
  if (!model.tokenizer) {
    model.tokenizer = tokenizer;
  }
  const tokDir = tokenizerFolder(model, opts);
  if (tokDir) model.tokenizerDir = tokDir;
  const ctx = model.config.contextLength;
  const size = model.config.imageResolution;

  let session: TrainSessionNative;
  try {
    session = new (native().TrainSessionNative)(model.native, {
      lr: opts.lr, weightDecay: opts.weightDecay, positiveClip: opts.positiveClip, multiPositive: opts.multiPositive,
      gradClip: opts.gradClip, accumSteps: opts.accumSteps, lockImage: opts.lockImage, lockText: opts.lockText,
      skipNonfinite: opts.skipNonfinite, precision: opts.precision, syncEvery: opts.syncEvery,
    });
    if (opts.device.startsWith('cuda')) native().setTf32(opts.tf32 !== false);
    if (saved && resumeDir) {
      await session.loadOptimizer(path.join(resumeDir, 'optimizer.pt'));
      session.setRngState(Buffer.from(saved.rng, 'base64'));
    }
  } catch (e) {
    model.dispose();
    throw e;
  }

  const loader = new DataLoader(trainRecords, {
    batchSize: opts.batchSize, imageSize: size, seed: opts.seed, shuffle: true, dropLast: true,
    augment: opts.augment, onBadSample: opts.onBadSample, concurrency: opts.concurrency, prefetch: 2,
    labelNames: [], requireReport: false, ...(world > 1 ? { shard: { rank, world } } : {}),
    onBad: (b) => log(`skipped ${b.path}: ${b.reason}`),
  });
  const perEpoch = Math.max(1, loader.batchesPerEpoch);
  const store = new CheckpointStore(opts.out, opts.keep);
  const schedule = { baseLr: opts.lr, warmupSteps: opts.warmup, totalSteps: opts.steps };

  let step = saved?.step ?? 0;
  let epoch = saved?.epoch ?? 0;
  let position = saved?.position ?? 0;
  let batchIndex = saved?.batchIndex ?? 0;
  const losses: number[] = saved?.losses ?? [];
  let lastEpoch: EpochEvent | undefined = saved?.lastEpoch;
  let stoppedEarly = false;
  let lastSavedStep = saved?.step ?? -1;
  const validRecords = ds.records.filter((r) => r.split === opts.validSplit && r.images.length > 0);

  const stateFor = (): SavedState => ({
    version: 1, step, epoch, position, batchIndex, options: opts,
    rng: Buffer.from(session.rngState()).toString('base64'), losses, lastEpoch,
  });
  const saveCheckpoint = async (score?: { value: number; metric: string }) => {
    if (!lead) {
      lastSavedStep = step;
      return '';
    }
    const p = await store.save(step, async (tmp) => {
      await model.save(tmp);
      await session.saveOptimizer(path.join(tmp, 'optimizer.pt'));
      fs.writeFileSync(path.join(tmp, 'state.json'), JSON.stringify(stateFor(), null, 2));
    }, score);
    lastSavedStep = step;
    metrics.write('checkpoint', { step, path: p, ...(score ? { score: score.value, metric: score.metric } : {}) });
    em.emit('checkpoint', { path: p, step });
    return p;
  };

  if (!saved) {
    metrics.write('start', { options: opts, trainStudies: trainRecords.length, validStudies: validRecords.length, parameters: model.numParameters, trainable: session.numTrainable });
    log(`train: ${trainRecords.length} studies, ${perEpoch} steps/epoch, ${opts.steps} steps, batch ${opts.batchSize}` +
      `${world > 1 ? ` × ${world} processes (${denv.source})` : ''}, ` +
      `${opts.fullReport ? 'full report' : `${opts.sentences} sentence(s)`}, positive clip ${opts.positiveClip}` +
      `${opts.multiPositive ? ', multi-positive' : ''}, ${(session.numTrainable / 1e6).toFixed(1)}M trainable parameters`);
  } else {
    metrics.write('resume', { step, epoch, from: resumeDir });
    log(`resuming at step ${step} (epoch ${epoch}) from ${resumeDir}`);
  }

  // SIGINT/SIGTERM: finish the step, save, exit 0 (the CLI installs the handlers through cancel()).
  progress.start(opts.steps, step);
  let windowStart = Date.now();
  let windowImages = 0;
  let pairs = 0;
  const runStart = Date.now();
  try {
    outer: while (step < opts.steps && !ctl.cancelled) {
      const epochLosses: number[] = [];
      for await (const batch of loader.iterate(epoch, position, batchIndex)) {
        const items = batch.indices.map((i, j) => ({ id: batch.records[j].id, report: prep(i, trainRecords) }));
        const drawn = sampler.sampleBatch(items, epoch);
        const ids = tokenizer.tokenize(drawn.map((d) => d.text), ctx);
        const groups = opts.multiPositive ? Int32Array.from(drawn.map((d) => d.groupId)) : null;
        const lr = lrAt(schedule, step);
        let r: TrainStepResult;
        try {
          // read the loss at the points where it is logged or saved (syncEvery > 1 only reads every N steps)
          const sync = step + 1 >= opts.steps || batch.batchIndex + 1 >= perEpoch || ctl.cancelled ||
            (opts.saveEvery > 0 && (step + 1) % opts.saveEvery === 0);
          r = await session.step(batch.images, [batch.n, 3, batch.size, batch.size], ids, [batch.n, ctx], groups, lr, sync);
        } catch (e) {
          if (isXtError(e) && e.code === 'XT_NONFINITE') {
            metrics.write('nonfinite', { step, epoch });
            throw xtError('XT_NONFINITE', `${e.message}. The last good checkpoint (${store.latest() ?? 'none yet'}) is untouched.`);
          }
          throw e;
        }
        step++;
        position = batch.position;
        batchIndex = batch.batchIndex + 1;
        pairs += batch.n;
        windowImages += batch.n;
        const now = Date.now();
        const ips = windowImages / Math.max(1e-3, (now - windowStart) / 1000);
        if (now - windowStart > 5000) {
          windowStart = now;
          windowImages = 0;
        }
        if (!r.skipped && r.synced && Number.isFinite(r.loss)) {
          for (let k = 0; k < r.steps - r.nonfinite; k++) { // a read after N steps stands for N steps
            losses.push(r.loss);
            epochLosses.push(r.loss);
          }
        }
        if (r.synced && r.nonfinite > 0) log(`${r.nonfinite} of the last ${r.steps} steps had a non-finite loss or gradient; their updates were zeroed (--skip-nonfinite)`);
        const ev: StepEvent = {
          step, totalSteps: opts.steps, epoch, loss: r.synced ? r.loss : null, lr, gradNorm: r.synced ? r.gradNorm : null,
          logitScale: r.logitScale, imagesPerSec: ips, skipped: r.skipped,
        };
        metrics.write('step', { ...ev });
        progress.step(ev);
        em.emit('step', ev);
        if (opts.saveEvery > 0 && step % opts.saveEvery === 0 && step < opts.steps) await saveCheckpoint();
        if (step >= opts.steps) break outer;
        if (ctl.cancelled) {
          stoppedEarly = true;
          break outer;
        }
      }
      // epoch finished
      const summary = loader.summary();
      epoch++;
      position = 0;
      batchIndex = 0;
      lastEpoch = await endOfEpoch(epoch - 1, epochLosses, summary?.skipped ?? 0);
    }
    if (ctl.cancelled && step < opts.steps) stoppedEarly = true;
    if (step >= opts.steps && (lastEpoch === undefined || lastEpoch.step !== step) && !stoppedEarly) {
      // the run ended inside an epoch: validate once more at the end
      lastEpoch = await endOfEpoch(epoch, losses.slice(-perEpoch), 0, true);
    } else if (lastSavedStep !== step) {
      await saveCheckpoint();
    }
  } finally {
    progress.stop();
  }

  // ---- final model folder: weights + tokenizer + summary ----
  const modelDir = opts.out;
  if (lead) await model.save(modelDir);
  const idx = lead ? store.readIndex() : { best: null };
  const seconds = (Date.now() - t0) / 1000;
  const result: TrainSummary = {
    out: opts.out,
    modelDir,
    steps: step,
    epochs: epoch,
    stoppedEarly,
    finalLoss: losses.length ? losses[losses.length - 1] : null,
    validLoss: lastEpoch?.validLoss,
    validAuroc: lastEpoch?.validAuroc,
    best: idx.best ? { checkpoint: path.join(store.dir, idx.best.name), score: idx.best.score, metric: idx.best.metric } : null,
    seconds,
    pairsPerSec: pairs / Math.max(1e-3, (Date.now() - runStart) / 1000),
    options: opts,
  };
  if (lead) writeFileAtomic(path.join(opts.out, 'summary.json'), JSON.stringify(result, null, 2) + '\n');
  metrics.write('end', { ...result, options: undefined });
  metrics.close();
  model.dispose();
  if (world > 1) await distNative().shutdown();
  return result;

  async function endOfEpoch(ep: number, epochLosses: number[], skipped: number, final = false): Promise<EpochEvent> {
    const ev: EpochEvent = {
      epoch: ep, step,
      trainLoss: epochLosses.length ? epochLosses.reduce((a, b) => a + b, 0) / epochLosses.length : NaN,
      skippedSamples: skipped,
    };
    if (opts.validate && validRecords.length > 0 && lead) {
      ev.validLoss = await validationLoss();
      ev.validAuroc = await validationAuroc();
    }
    metrics.write('epoch', { ...ev, final });
    em.emit('epoch', ev);
    log(`epoch ${ep}${final ? ' (end)' : ''}: train loss ${ev.trainLoss.toFixed(4)}` +
      (ev.validLoss !== undefined ? `, valid loss ${ev.validLoss.toFixed(4)}` : '') +
      (ev.validAuroc !== undefined && ev.validAuroc !== null ? `, valid zero-shot macro AUROC ${ev.validAuroc.toFixed(3)}` : ''));
    const score = ev.validAuroc !== undefined && ev.validAuroc !== null
      ? { value: ev.validAuroc, metric: 'valid_auroc' }
      : ev.validLoss !== undefined ? { value: -ev.validLoss, metric: 'neg_valid_loss' } : undefined;
    lastEpoch = ev;
    await saveCheckpoint(score);
    return ev;
  }

  async function validationLoss(): Promise<number> {
    const recs = validRecords.filter((r) => recordReport(r) !== undefined);
    if (recs.length < 2) return NaN;
    const vl = new DataLoader(recs, {
      batchSize: Math.min(opts.batchSize, recs.length), imageSize: size, seed: opts.seed, shuffle: false, augment: false,
      onBadSample: 'skip', concurrency: opts.concurrency, labelNames: [], image: 'first',
    });
    let total = 0;
    let n = 0;
    for await (const b of vl) {
      if (b.n < 2) continue;
      const items = b.indices.map((i, j) => ({ id: b.records[j].id, report: prepValid(i, recs) }));
      const drawn = sampler.sampleBatch(items, 0); // fixed draw: comparable across epochs
      const ids = tokenizer.tokenize(drawn.map((d) => d.text), ctx);
      const groups = opts.multiPositive ? Int32Array.from(drawn.map((d) => d.groupId)) : null;
      const r = await session.evalLoss(b.images, [b.n, 3, b.size, b.size], ids, [b.n, ctx], groups);
      total += r.loss * b.n;
      n += b.n;
    }
    return n ? total / n : NaN;
  }

  async function validationAuroc(): Promise<number | null | undefined> {
    const labelled = validRecords.some((r) => Object.values(r.labels).some((v) => v === 0 || v === 1));
    if (!labelled) return undefined;
    try {
      const inf = adaptClip(model);
      const res = await runZeroShotEval(inf, {
        data: dataRoot, format: fmt, split: opts.validSplit, bootstrap: false, concurrency: opts.concurrency,
        ...(opts.labels ? { labels: labelSpecs(opts.labels) } : {}),
      });
      const a = res.report.predictions?.mean?.auroc;
      return typeof a === 'number' ? a : null;
    } catch (e) {
      log(`validation AUROC skipped: ${(e as Error).message}`);
      return undefined;
    }
  }

  function prepValid(i: number, recs: StudyRecord[]): PreparedReport {
    const text = recordReport(recs[i]) ?? '';
    const p = sampler.prepare(parseReport(text));
    return p.sentences.length ? p : { sentences: [text.replace(/\s+/g, ' ').trim()] };
  }
}

/** Where the tokenizer files of this run live (copied into every checkpoint and the final folder). */
function tokenizerFolder(model: ClipModel, opts: ResolvedOptions): string | undefined {
  const own = path.join(opts.out, 'tokenizer');
  if (fs.existsSync(path.join(own, 'vocab.json'))) return own;
  if (opts.tokenizer) return fs.statSync(opts.tokenizer).isDirectory() ? opts.tokenizer : path.dirname(opts.tokenizer);
  return model.tokenizerDir;
}
