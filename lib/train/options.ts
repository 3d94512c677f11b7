/**
 * The training options: one typed table, the only place their defaults, ranges and help live.
 *
 * It feeds
 *  - the yargs builder of `train`, `ablation` (and the options `demo` shares): lib/cli/train.ts
 *    `trainOptions(y)` (yargs stays in lib/cli/: the library's types never name it);
 *  - `train()`'s resolution and validation: `resolveTrainOptions(options, context)`;
 *  - the options of the native training session: `sessionOptions(resolved)` (binding/train keeps no
 *    defaults of its own; it only validates what it is given);
 *  - the README's option table: `optionsTableMarkdown()` (`node scripts/options-table`).
 *
 * A default may depend on the run: fine-tuning or training from scratch, CPU or CUDA, the number of steps.
 * Pure TypeScript: nothing here loads the addon or imports yargs.
 */
import * as path from 'path';
import { xtError } from '../errors';
import type { DatasetFormat } from '../data/readers';
import type { SectionSelection } from '../text/reports';
import type { ProgressMode } from './progress';
import type { DistBackend, TrainSessionOptions } from '../native';

export type Precision = 'fp32' | 'bf16' | 'fp16';

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
  vocabSize?: number;
  contextLength?: number;
  /** Report sections to draw from (default both: findings + impression). */
  sections?: SectionSelection;
  sentences?: number;
  /** The baseline: the whole selected text instead of sampled sentences. */
  fullReport?: boolean;
  fullReportProb?: number;
  positiveClip?: number;
  multiPositive?: boolean;
  batchSize?: number;
  epochs?: number;
  steps?: number;
  lr?: number;
  weightDecay?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  warmup?: number;
  gradClip?: number;
  accumSteps?: number;
  /** Gradient checkpointing of both towers' transformer blocks (exact; less activation memory, ~1/3 more compute). */
  gradCheckpointing?: boolean;
  /** Patch dropout in training: the share of patch tokens dropped per image, in [0, 1). */
  patchDropout?: number;
  lockImage?: boolean;
  lockText?: boolean;
  precision?: Precision;
  /** `auto` (default; or `XRAY_TORCH_DEVICE`), `cpu`, `cuda`, `cuda:N`; see lib/runtime/device.ts. */
  device?: string;
  seed?: number;
  augment?: boolean;
  /** Output folder: final model, checkpoints/, metrics.jsonl, summary.json. */
  out: string;
  /** Continue from `out` (or the given run/checkpoint folder). */
  resume?: boolean | string;
  keep?: number;
  saveEvery?: number;
  validate?: boolean;
  /** Labels for the validation AUROC (default: the dataset's). */
  labels?: string[];
  skipNonfinite?: boolean;
  /** Read the loss from the device every N steps instead of every step, so that steps queue on the GPU
   * without a host synchronisation. The last step of an epoch, of a run and before a save always read. */
  syncEvery?: number;
  tf32?: boolean;
  onBadSample?: 'skip' | 'fail';
  progress?: ProgressMode;
  /** Data-parallel backend when started under a launcher (WORLD_SIZE > 1): auto, gloo, nccl. */
  distBackend?: DistBackend;
  concurrency?: number;
  signal?: AbortSignal;
}

/** The options a run was started with, after defaults (saved in every checkpoint). */
export interface ResolvedOptions {
  data: string;
  format: DatasetFormat | 'auto';
  reports?: string;
  trainSplit: string;
  validSplit: string;
  model: string;
  imageSize?: number;
  tokenizer?: string;
  vocabSize: number;
  contextLength: number;
  sections: SectionSelection;
  sentences: number;
  fullReport: boolean;
  fullReportProb: number;
  positiveClip: number;
  multiPositive: boolean;
  batchSize: number;
  epochs: number;
  steps: number;
  lr: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  warmup: number;
  gradClip: number;
  accumSteps: number;
  gradCheckpointing: boolean;
  patchDropout: number;
  lockImage: boolean;
  lockText: boolean;
  precision: Precision;
  device: string;
  seed: number;
  augment: boolean;
  out: string;
  keep: number;
  saveEvery: number;
  validate: boolean;
  labels?: string[];
  skipNonfinite: boolean;
  syncEvery: number;
  tf32: boolean;
  onBadSample: 'skip' | 'fail';
  concurrency: number;
}

/** What a default may depend on. */
export interface OptionContext {
  /** `--model scratch:PRESET` (training from scratch) rather than fine-tuning. */
  scratch: boolean;
  /** The run's device is a GPU. */
  cuda: boolean;
  /** Optimizer steps of the run (known once the data is read). */
  steps: number;
}

type Value = string | number | boolean | readonly string[] | undefined;

export interface TrainOptionSpec {
  /** The `train()` option it sets; absent for the CLI's own output options (`--quiet`, `--json`, `--nproc`). */
  key?: keyof TrainOptions;
  /** The CLI flag, without `--`. */
  flag: string;
  /** How the README names its value (`PATH`, `NAME`; numbers `N`, lists `A,B`). */
  arg?: string;
  type: 'string' | 'number' | 'integer' | 'boolean' | 'list';
  /** The default: a value, or a function of the run. Absent: none (the option is optional or required). */
  default?: Value | ((c: OptionContext) => Value);
  /** How help and the README print the default (derived from a plain default when absent). */
  defaultText?: string;
  /** Numbers: the allowed range (integers: `min` only unless `max`). */
  min?: number;
  max?: number;
  /** The range excludes its upper bound. */
  maxOpen?: boolean;
  minOpen?: boolean;
  choices?: readonly string[];
  /** Required unless resuming. */
  required?: boolean;
  /** A field of the native training session (TrainSessionOptions, same name). */
  native?: boolean;
  /** The CLI value as the `train()` option (e.g. a comma list as an array). */
  fromCli?: (v: unknown) => Value;
  help: string;
}

/** The default relaxation; the sweep behind it is in the README ("Choosing `--positive-clip`"). */
export const DEFAULT_POSITIVE_CLIP = 0.8;

const commaList = (v: unknown): string[] | undefined =>
  v === undefined ? undefined : String(v).split(',').map((s) => s.trim()).filter(Boolean);

/** `findings,impression` (either order) is `both`, one known section its name, else the list. */
function sectionsFromCli(v: unknown): SectionSelection | undefined {
  const list = commaList(v)?.map((s) => s.toLowerCase());
  if (!list) return undefined;
  if (list.length === 2 && list.includes('findings') && list.includes('impression')) return 'both';
  return list;
}

/** Every training option, in the order help and the README list them. */
export const TRAIN_OPTIONS: readonly TrainOptionSpec[] = [
  // ---- data ----
  { key: 'data', flag: 'data', arg: 'PATH', type: 'string', required: true, help: 'dataset root or manifest (mimic, chexpert, nih, padchest, openi, manifest)' },
  { key: 'format', flag: 'format', type: 'string', default: 'auto', choices: ['auto', 'mimic', 'chexpert', 'nih', 'padchest', 'openi', 'manifest'], help: 'dataset layout (auto-detected)' },
  { key: 'reports', flag: 'reports', arg: 'DIR', type: 'string', help: 'MIMIC: reports root (mimic-cxr-reports)' },
  { key: 'trainSplit', flag: 'train-split', arg: 'NAME', type: 'string', default: 'train', help: 'split trained on' },
  { key: 'validSplit', flag: 'valid-split', arg: 'NAME', type: 'string', default: 'valid', help: 'split validated on at each epoch end' },
  // ---- model ----
  { key: 'model', flag: 'model', arg: 'PATH', type: 'string', required: true, help: 'pre-trained weights (OpenAI/open_clip/HF/ours) or scratch:PRESET (tiny, small, ViT-B-32, ViT-B-16, ViT-L-14)' },
  { key: 'imageSize', flag: 'image-size', type: 'integer', min: 1, defaultText: 'the preset\'s', help: 'input resolution of a scratch model' },
  { key: 'tokenizer', flag: 'tokenizer', arg: 'PATH', type: 'string', defaultText: 'the model\'s', help: 'tokenizer file/folder (scratch models train one when none is given)' },
  { key: 'vocabSize', flag: 'vocab-size', type: 'integer', min: 514, default: 2048, help: 'scratch: vocabulary size of the trained BPE tokenizer' },
  { key: 'contextLength', flag: 'context-length', type: 'integer', min: 4, default: (c) => (c.scratch ? 48 : 77), defaultText: '48 (scratch; a pre-trained model keeps its own)', help: 'text context length of a scratch model' },
  // ---- the method ----
  { key: 'sections', flag: 'sections', type: 'list', default: 'both', defaultText: 'findings,impression', fromCli: sectionsFromCli, help: 'report sections to draw sentences from (the impression alone when findings are missing)' },
  { key: 'sentences', flag: 'sentences', type: 'integer', min: 1, default: 1, help: 'sentences sampled per report and epoch (the paper: 1)' },
  { key: 'fullReport', flag: 'full-report', type: 'boolean', default: false, help: 'baseline: train on the whole selected text' },
  { key: 'fullReportProb', flag: 'full-report-prob', type: 'number', min: 0, max: 1, default: 0, help: 'probability of the whole text instead of sampled sentences' },
  { key: 'positiveClip', flag: 'positive-clip', type: 'number', min: -1, max: 1, default: DEFAULT_POSITIVE_CLIP, native: true, help: 'positive-pair relaxation c: s_ii <- min(s_ii, c); 1 = plain CLIP' },
  { key: 'multiPositive', flag: 'multi-positive', type: 'boolean', default: false, native: true, help: 'samples with the same sampled text are positives of each other' },
  // ---- optimisation ----
  { key: 'batchSize', flag: 'batch-size', type: 'integer', min: 1, default: 32, help: 'studies per step and process' },
  { key: 'epochs', flag: 'epochs', type: 'integer', min: 1, defaultText: '1 (unless --steps)', help: 'passes over the training split' },
  { key: 'steps', flag: 'steps', type: 'integer', min: 1, help: 'optimizer steps (instead of --epochs)' },
  { key: 'lr', flag: 'lr', type: 'number', min: 1e-12, max: 1e6, default: (c) => (c.scratch ? 5e-4 : 1e-5), defaultText: '1e-5 (5e-4 scratch)', native: true, help: 'peak learning rate' },
  { key: 'weightDecay', flag: 'wd', type: 'number', min: 0, max: 10, default: 0.2, native: true, help: 'AdamW weight decay (not on biases, norms, embeddings, logit scale)' },
  { key: 'beta1', flag: 'beta1', type: 'number', min: 0, max: 1, maxOpen: true, default: 0.9, native: true, help: 'AdamW beta1' },
  { key: 'beta2', flag: 'beta2', type: 'number', min: 0, max: 1, maxOpen: true, default: 0.98, native: true, help: 'AdamW beta2 (CLIP\'s 0.98)' },
  { key: 'eps', flag: 'eps', type: 'number', min: 0, max: 1, minOpen: true, default: 1e-6, native: true, help: 'AdamW epsilon (CLIP\'s 1e-6)' },
  { key: 'warmup', flag: 'warmup', type: 'integer', min: 0, default: (c) => Math.round(c.steps * 0.05), defaultText: '5% of the steps', help: 'linear warmup steps, then cosine decay' },
  { key: 'gradClip', flag: 'grad-clip', type: 'number', min: 0, max: 1e9, default: 1, native: true, help: 'max gradient norm (0 = off)' },
  { key: 'accumSteps', flag: 'accum', type: 'integer', min: 1, default: 1, native: true, help: 'micro-batches per step, exact: the loss is still the whole batch\'s (cached features, GradCache); any N up to the batch size' },
  { key: 'gradCheckpointing', flag: 'grad-checkpointing', type: 'boolean', default: false, native: true, help: 'recompute each transformer block in backward instead of keeping its activations (both towers; exact)' },
  { key: 'patchDropout', flag: 'patch-dropout', arg: 'P', type: 'number', min: 0, max: 1, maxOpen: true, default: 0, native: true, help: 'training only: drop this share of each image\'s patch tokens (FLIP; changes the objective)' },
  { key: 'lockImage', flag: 'lock-image', type: 'boolean', default: false, native: true, help: 'freeze the image tower' },
  { key: 'lockText', flag: 'lock-text', type: 'boolean', default: false, native: true, help: 'freeze the text tower' },
  { key: 'precision', flag: 'precision', type: 'string', choices: ['fp32', 'bf16', 'fp16'], default: (c) => (c.cuda ? 'bf16' : 'fp32'), defaultText: 'bf16 on CUDA, fp32 on the CPU', native: true, help: 'bf16/fp16 autocast on CUDA (fp16 with dynamic loss scaling; fp32 weights and optimizer state)' },
  { key: 'seed', flag: 'seed', type: 'integer', min: 0, default: 0, native: true, help: 'seed of the initialisation, the data order, the sentence draws, the augmentation and patch dropout' },
  { key: 'augment', flag: 'augment', type: 'boolean', default: true, help: 'training augmentation (--no-augment to disable)' },
  // ---- the run ----
  { key: 'out', flag: 'out', arg: 'DIR', type: 'string', required: true, help: 'output folder (model, checkpoints/, metrics.jsonl, summary.json)' },
  { key: 'resume', flag: 'resume', type: 'string', fromCli: (v) => (v === undefined ? undefined : v === '' ? true : String(v)), help: 'continue a run from its latest checkpoint: --resume (the run in --out) or --resume DIR' },
  { key: 'keep', flag: 'keep', type: 'integer', min: 1, default: 3, help: 'checkpoints to keep (plus the best)' },
  { key: 'saveEvery', flag: 'save-every', type: 'integer', min: 0, default: 0, help: 'also checkpoint every N steps (0: at epoch ends only)' },
  { key: 'validate', flag: 'validate', type: 'boolean', default: true, help: 'validation loss + zero-shot AUROC each epoch' },
  { key: 'labels', flag: 'labels', type: 'list', defaultText: 'the dataset\'s', fromCli: commaList, help: 'labels of the validation AUROC (comma-separated)' },
  { key: 'skipNonfinite', flag: 'skip-nonfinite', type: 'boolean', default: false, native: true, help: 'skip steps with a non-finite loss instead of stopping' },
  { key: 'syncEvery', flag: 'sync-every', type: 'integer', min: 1, max: 100000, default: (c) => (c.cuda ? 10 : 1), defaultText: '10 on CUDA, 1 on the CPU', native: true, help: 'read the loss from the device every N steps' },
  { key: 'tf32', flag: 'tf32', type: 'boolean', default: true, help: 'TF32 matmuls/convolutions on CUDA (--no-tf32 for full fp32)' },
  { key: 'onBadSample', flag: 'on-bad-sample', type: 'string', choices: ['skip', 'fail'], default: 'skip', help: 'what an unreadable image does' },
  { key: 'concurrency', flag: 'concurrency', type: 'integer', min: 1, default: 4, help: 'images decoded at once' },
  { key: 'distBackend', flag: 'dist-backend', type: 'string', choices: ['auto', 'gloo', 'nccl'], default: 'auto', help: 'data-parallel backend (auto: NCCL on CUDA, else Gloo)' },
  // ---- the command line's own ----
  { flag: 'quiet', type: 'boolean', default: false, help: 'no progress output' },
  { flag: 'json', type: 'boolean', default: false, help: 'JSON lines on stderr, the summary as JSON on stdout' },
  { flag: 'nproc', type: 'integer', min: 1, help: 'start N local data-parallel worker processes' },
];

const byKey = new Map(TRAIN_OPTIONS.filter((s) => s.key).map((s) => [s.key as string, s]));
const byFlag = new Map(TRAIN_OPTIONS.map((s) => [s.flag, s]));

/** The table entry of a `train()` option or a CLI flag. */
export function optionSpec(keyOrFlag: string): TrainOptionSpec {
  const s = byKey.get(keyOrFlag) ?? byFlag.get(keyOrFlag);
  if (!s) throw xtError('XT_INVALID', `no training option "${keyOrFlag}"`);
  return s;
}

function fmtNumber(x: number): string {
  return x !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e6) ? x.toExponential().replace('e+', 'e') : String(x);
}

/** How help and the README print an option's default ('' when it has none). */
export function defaultText(s: TrainOptionSpec): string {
  if (s.defaultText !== undefined) return s.defaultText;
  const d = s.default;
  if (d === undefined || typeof d === 'function') return '';
  if (typeof d === 'number') return fmtNumber(d);
  if (Array.isArray(d)) return d.join(',');
  return String(d);
}

/** The default of an option for a run. */
export function defaultFor(s: TrainOptionSpec, c: OptionContext): Value {
  return typeof s.default === 'function' ? s.default(c) : s.default;
}

function rangeText(s: TrainOptionSpec): string {
  const b = (x: number | undefined, inf: string) => (x === undefined ? inf : fmtNumber(x));
  return `${s.minOpen ? '(' : '['}${b(s.min, '-inf')}, ${b(s.max, 'inf')}${s.maxOpen ? ')' : ']'}`;
}

/** Check one value against its entry (the name in errors is the `train()` option's). */
export function checkOptionValue(s: TrainOptionSpec, v: unknown, name = s.key ?? s.flag): void {
  const bad = (want: string) => xtError('XT_INVALID', `train: ${name} must be ${want}, got ${JSON.stringify(v) ?? String(v)}`);
  switch (s.type) {
    case 'integer': {
      const x = v as number;
      if (typeof x !== 'number' || !Number.isInteger(x) || x < (s.min ?? -Infinity) || x > (s.max ?? Infinity)) {
        throw bad(s.max === undefined ? `an integer >= ${s.min}` : `an integer in [${s.min}, ${s.max}]`);
      }
      return;
    }
    case 'number': {
      const x = v as number;
      const lo = s.min ?? -Infinity;
      const hi = s.max ?? Infinity;
      const ok = typeof x === 'number' && Number.isFinite(x) && (s.minOpen ? x > lo : x >= lo) && (s.maxOpen ? x < hi : x <= hi);
      if (!ok) throw bad(`a number in ${rangeText(s)}`);
      return;
    }
    case 'boolean':
      if (typeof v !== 'boolean') throw bad('true or false');
      return;
    case 'list':
      if (!(typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string')))) throw bad('a string or a list of strings');
      return;
    case 'string':
      if (typeof v !== 'string') throw bad('a string');
      if (s.choices && !s.choices.includes(v)) throw bad(`one of ${s.choices.join(', ')}`);
      return;
  }
}

/** An option's value for a run: the given one (checked) or the default. */
function valueOf(s: TrainOptionSpec, given: unknown, c: OptionContext): Value {
  const v = given === undefined ? defaultFor(s, c) : given;
  if (v !== undefined) checkOptionValue(s, v);
  return v as Value;
}

/** The fields of `ResolvedOptions` that come straight from the table. */
const RESOLVED_FROM_TABLE = TRAIN_OPTIONS.filter((s) => s.key && !['resume', 'distBackend', 'epochs', 'steps', 'out'].includes(s.key));

/**
 * `train()`'s options after defaults, validated: every value in range, or XT_INVALID naming the option.
 * `batchesPerEpoch(batchSize)`: steps per epoch with this batch size (the data decides); `device`: the
 * resolved device of this process.
 */
export function resolveTrainOptions(o: TrainOptions, ctx: { device: string; batchesPerEpoch: (batchSize: number) => number }): ResolvedOptions {
  if (!o || typeof o !== 'object') throw xtError('XT_INVALID', 'train(options): options object required');
  if (typeof o.data !== 'string' || !o.data) throw xtError('XT_INVALID', 'train: `data` (a dataset root or manifest) is required');
  if (typeof o.model !== 'string' || !o.model) throw xtError('XT_INVALID', 'train: `model` (weights path or scratch:PRESET) is required');
  if (typeof o.out !== 'string' || !o.out) throw xtError('XT_INVALID', 'train: `out` (the output folder) is required');
  const c: OptionContext = { scratch: o.model.startsWith('scratch:'), cuda: ctx.device.startsWith('cuda'), steps: 0 };
  // (batchSize is per process; with W data-parallel processes the global batch is W × batchSize)
  const batchSize = valueOf(optionSpec('batchSize'), o.batchSize, c) as number;
  if (o.steps !== undefined && o.epochs !== undefined) throw xtError('XT_INVALID', 'train: give either steps or epochs, not both');
  const perEpoch = Math.max(1, ctx.batchesPerEpoch(batchSize));
  const steps = o.steps !== undefined
    ? (valueOf(optionSpec('steps'), o.steps, c) as number)
    : (valueOf(optionSpec('epochs'), o.epochs ?? 1, c) as number) * perEpoch;
  c.steps = steps;
  const r: Record<string, unknown> = {};
  for (const s of RESOLVED_FROM_TABLE) {
    const v = valueOf(s, (o as unknown as Record<string, unknown>)[s.key!], c);
    if (v !== undefined) r[s.key!] = v;
  }
  if ((r.accumSteps as number) > batchSize) {
    throw xtError('XT_INVALID', `train: accumSteps (--accum) ${r.accumSteps} is larger than the batch size ${batchSize}: a micro-batch needs at least one sample`);
  }
  return { ...(r as unknown as ResolvedOptions), epochs: Math.ceil(steps / perEpoch), steps, out: path.resolve(o.out), device: ctx.device };
}

/**
 * The options of a resumed run: the saved ones win; options a run saved before they existed take their
 * default for that run (so that checkpoints of earlier versions resume).
 */
export function completeSavedOptions(saved: ResolvedOptions, device: string): ResolvedOptions {
  const c: OptionContext = { scratch: saved.model.startsWith('scratch:'), cuda: device.startsWith('cuda'), steps: saved.steps };
  const r = { ...saved } as unknown as Record<string, unknown>;
  for (const s of RESOLVED_FROM_TABLE) {
    if (r[s.key!] === undefined) {
      const v = defaultFor(s, c);
      if (v !== undefined) r[s.key!] = v;
    }
  }
  return r as unknown as ResolvedOptions;
}

const NATIVE = TRAIN_OPTIONS.filter((s) => s.native);

/** The native training session's options of a resolved run: every field, nothing left to defaults. */
export function sessionOptions(r: ResolvedOptions): TrainSessionOptions {
  const out: Record<string, unknown> = {};
  for (const s of NATIVE) out[s.key!] = (r as unknown as Record<string, unknown>)[s.key!];
  return out as unknown as TrainSessionOptions;
}

/**
 * Session options from the table for code that drives a session directly (tests, benchmarks): `given`
 * values (checked) over the table's defaults for `context` (default: fine-tuning on the CPU).
 */
export function defaultSessionOptions(given: Partial<TrainSessionOptions> = {}, context: Partial<OptionContext> = {}): TrainSessionOptions {
  const c: OptionContext = { scratch: false, cuda: false, steps: 0, ...context };
  const out: Record<string, unknown> = {};
  for (const s of NATIVE) out[s.key!] = valueOf(s, (given as Record<string, unknown>)[s.key!], c);
  for (const k of Object.keys(given)) if (!NATIVE.some((s) => s.key === k)) throw xtError('XT_INVALID', `no training session option "${k}"`);
  return out as unknown as TrainSessionOptions;
}

// ---------------------------------------------------------------------------------------------
// The command line
// ---------------------------------------------------------------------------------------------

/** CLI arguments of the training options, by flag (parsed by lib/cli/train.ts). */
export type TrainArgs = { [flag: string]: unknown } & { out: string; quiet?: boolean; json?: boolean; resume?: string };

/** `train()` options from parsed CLI arguments: what was given, nothing defaulted here (so that `train()`
 * resolves the rest for the run, e.g. the precision for the device). */
export function toTrainOptions(a: TrainArgs): TrainOptions {
  const progress: ProgressMode = a.quiet ? 'quiet' : a.json ? 'json' : 'auto';
  const given = (flag: string): unknown => {
    const s = byFlag.get(flag)!;
    const v = a[flag];
    return s.fromCli ? s.fromCli(v) : v;
  };
  if (a.resume !== undefined) {
    // a resumed run is the saved run: its options come from the checkpoint
    return { data: a.data as string, model: a.model as string, out: a.out, resume: given('resume') as string | boolean, progress,
      distBackend: a['dist-backend'] as DistBackend | undefined };
  }
  const o: Record<string, unknown> = { progress };
  for (const s of TRAIN_OPTIONS) {
    if (!s.key) continue;
    const v = given(s.flag);
    if (v !== undefined) o[s.key] = v;
  }
  if (a.device !== undefined) o.device = a.device; // the global option (lib/cli/main.ts)
  return o as unknown as TrainOptions;
}

// ---------------------------------------------------------------------------------------------
// The README
// ---------------------------------------------------------------------------------------------

/** The README's training option table (markdown), generated from the table. */
export function optionsTableMarkdown(): string {
  const esc = (t: string) => t.replace(/\|/g, '\\|');
  const lines = ['| option | default | range | meaning |', '|---|---|---|---|'];
  for (const s of TRAIN_OPTIONS) {
    const arg = s.type === 'boolean' ? '' : s.choices ? ` ${s.choices.join('|')}` : s.type === 'integer' || s.type === 'number' ? ' N'
      : s.flag === 'resume' ? ' [DIR]' : s.type === 'list' ? ' A,B' : ` ${s.arg ?? 'S'}`;
    const d = defaultText(s) || (s.required ? 'required' : '—');
    const range = s.type === 'number' || (s.type === 'integer' && s.max !== undefined) ? rangeText(s)
      : s.type === 'integer' && s.min !== undefined ? `≥ ${s.min}` : '';
    lines.push(`| ${esc(`\`--${s.flag}${arg}\``)} | ${esc(d)} | ${range} | ${esc(s.help)} |`);
  }
  return lines.join('\n');
}
