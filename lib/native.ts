/**
 * The single typed declaration of everything the native addon (`xray_torch.node`) exports,
 * and the loader that finds it.
 *
 * Load order:
 *   1. `XRAY_TORCH_ADDON` (an explicit path to a `.node` file);
 *   2. `prebuilds/<platform>-<arch>/` (node-gyp-build layout): the CUDA variant when a probe in a
 *      child process shows that it loads and sees a GPU (unless `XRAY_TORCH_DEVICE=cpu`), else the
 *      CPU variant;
 *   3. the local build (`build/Release`, then `build/Debug`).
 * When nothing loads, an actionable error says what was looked for and how to build.
 */
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';

import { xtError, type XtError } from './errors';

export { isXtError, xtError } from './errors';
export type { XtError, XtErrorCode } from './errors';

/** A tensor crossing the boundary: row-major data and its shape. */
export interface TensorResult<T = Float32Array> {
  data: T;
  shape: number[];
}

// ---------------------------------------------------------------------------------------------
// Runtime (binding/runtime.cc)
// ---------------------------------------------------------------------------------------------
export interface RuntimeInfo {
  torchVersion: string;
  /** Where CMake found LibTorch: `system`, `LIBTORCH=…`, `Torch_DIR=…` or `python:…`. */
  torchSource: string;
  variant: 'cpu' | 'cuda';
  cudaAvailable: boolean;
  cudaDevices: { index: number; name: string; totalMemory: number; capability: string }[];
  intraOpThreads: number;
  interopThreads: number;
  parallelInfo: string;
  buildConfig: string;
  /** TF32 for fp32 matmuls/convolutions on CUDA (see setTf32). */
  tf32: boolean;
}

export interface MatmulBench {
  seconds: number;
  gflops: number;
  size: number;
  iters: number;
}

export interface RuntimeNative {
  /** Names of the native modules compiled into this addon. */
  modules: string[];
  runtimeInfo(): RuntimeInfo;
  /** Intra-op threads for every native call from now on. */
  setThreads(n: number): void;
  /** Allow TF32 for fp32 matmuls and cuDNN convolutions on CUDA (no effect on the CPU variant). */
  setTf32(on: boolean): void;
  /**
   * fp32 square matmul throughput (one warm-up, then `iters` timed products). A user-facing measurement,
   * not a test hook: `xray-torch doctor` reports it to show which BLAS runs and how fast.
   */
  benchMatmul(size: number, iters: number): Promise<MatmulBench>;
}

// ---------------------------------------------------------------------------------------------
// Distributed (binding/dist/): c10d process group, rendezvous, collectives
// ---------------------------------------------------------------------------------------------
export type DistBackend = 'auto' | 'gloo' | 'nccl';
export type DistReduceOp = 'sum' | 'mean' | 'max' | 'min';

export interface DistInitOptions {
  /** Host of rank 0, which hosts the TCPStore (default 127.0.0.1). */
  masterAddr?: string;
  masterPort?: number;
  worldSize: number;
  rank: number;
  localRank?: number;
  localWorldSize?: number;
  /** 'auto' (default): NCCL when this is a CUDA build with a usable GPU, else Gloo. */
  backend?: DistBackend;
  /** Every rank must join within this (default 300 s); else XT_IO naming the missing ranks. */
  timeoutSec?: number;
  /** A collective that does not complete within this fails (default 1800 s). */
  opTimeoutSec?: number;
  /** Network interface for Gloo (default: $GLOO_SOCKET_IFNAME, else the address routing to masterAddr). */
  glooInterface?: string;
  /** allGather first checks that every rank passes the same shape (default true). */
  checkShapes?: boolean;
  /** false: the store already runs (torchrun's agent store) and rank 0 connects as a client too. */
  hostStore?: boolean;
  /** Key prefix inside the store (torchrun: "/worker/attempt_<restart count>"). */
  storePrefix?: string;
}

export interface DistInfo {
  initialized: boolean;
  rank: number;
  worldSize: number;
  localRank: number;
  localWorldSize: number;
  /** 'none' when not initialized or for a world of one. */
  backend: 'gloo' | 'nccl' | 'none';
  /** "addr:port" of the rendezvous ('' when not initialized). */
  master: string;
  /** Where collectives run: 'cpu' (Gloo) or 'cuda:<localRank>' (NCCL). */
  device: string;
  glooCompiled: boolean;
  ncclCompiled: boolean;
}

export interface DistNative {
  dist: {
    /** Join the group (rank 0 hosts the store). Rejects XT_IO when peers never arrive. */
    init(options: DistInitOptions): Promise<DistInfo>;
    shutdown(): Promise<void>;
    info(): DistInfo;
    barrier(): Promise<void>;
    /** Element-wise all-reduce of scalars (float64). Identity without a group. */
    allReduce(values: number[] | Float64Array | Float32Array, op?: DistReduceOp): Promise<Float64Array>;
    /** Concatenate every rank's rows (dim 0), rank order; every rank passes the same shape. */
    allGather(data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array, shape: number[]):
      Promise<TensorResult<Float32Array | Float64Array | Int32Array | BigInt64Array>>;
    /** Rank `root`'s values on every rank. */
    broadcast(data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array, shape: number[],
      root?: number): Promise<TensorResult<Float32Array | Float64Array | Int32Array | BigInt64Array>>;
  };
}

// ---------------------------------------------------------------------------------------------
// CLIP (binding/clip/) and weight files (binding/io/)
// ---------------------------------------------------------------------------------------------
export type ClipDtype = 'float32' | 'float16' | 'bfloat16';
export type ClipSaveLayout = 'xray-torch' | 'openai' | 'hf';

/** A CLIP ViT configuration (OpenAI's build_model fields; heads = width / 64 for OpenAI weights). */
export interface ClipConfig {
  embedDim: number;
  imageResolution: number;
  visionLayers: number;
  visionWidth: number;
  visionHeads: number;
  visionPatchSize: number;
  contextLength: number;
  vocabSize: number;
  textWidth: number;
  textHeads: number;
  textLayers: number;
  /** QuickGELU (OpenAI) rather than exact GELU. */
  quickGelu: boolean;
  layerNormEps: number;
}

/**
 * Image input of encodeImages, logits, step and evalLoss: 8-bit grey pixels, `Uint8Array` [n, H, W] (what the
 * decoders give; 1 byte per pixel crosses into the addon, which normalises with the model's mean/std and
 * expands to 3 channels), or already normalised `Float32Array` [n, 3, H, W].
 */
export type PixelArray = Uint8Array | Float32Array;

/** The normalisation of 8-bit grey input, per input channel: (v / 255 − mean[c]) / std[c]. Default: CLIP's. */
export interface PixelNorm {
  mean?: readonly [number, number, number] | number[];
  std?: readonly [number, number, number] | number[];
}

/** A native CLIP model (created by clipCreate / clipLoad). Calls on one model are serialised. */
export interface ClipModelNative {
  readonly config: ClipConfig;
  /** `cpu` or `cuda:N`. */
  readonly device: string;
  readonly dtype: ClipDtype;
  /** `random`, or the detected weight format: openai | torchscript | hf | open_clip | xray-torch. */
  readonly format: string;
  readonly storageDtype: string;
  readonly source: string;
  readonly numParameters: number;
  /** exp(logit_scale) capped at 100, at creation/load. */
  readonly logitScale: number;
  readonly disposed: boolean;
  parameterNames(): string[];
  getParameter(name: string): Promise<TensorResult<Float32Array>>;
  /**
   * Pixels -> [n, embedDim], projected, not normalised: 8-bit grey `Uint8Array` [n, R, R] (normalised natively
   * with the model's mean/std, expanded to 3 channels) or normalised `Float32Array` [n, 3, R, R].
   * XT_SHAPE on a wrong shape, XT_INVALID on another array type.
   */
  encodeImages(pixels: PixelArray, shape: number[]): Promise<TensorResult<Float32Array>>;
  /** [n, L] ids (L <= contextLength) -> [n, embedDim]. XT_INVALID for ids outside the vocabulary. */
  encodeTokens(ids: Int32Array | BigInt64Array, shape: number[]): Promise<TensorResult<Float32Array>>;
  /** logits_per_image [nImages, nTexts]; pixels as in encodeImages. */
  logits(pixels: PixelArray, pixelShape: number[], ids: Int32Array | BigInt64Array, idShape: number[]):
    Promise<TensorResult<Float32Array>>;
  /** Resolves to the weight file written. */
  save(path: string, opts?: { layout?: ClipSaveLayout; dtype?: ClipDtype }): Promise<string>;
  /** Frees the weights (after a call in flight); later use throws XT_DISPOSED. */
  dispose(): void;
}

export interface WeightsInfo {
  format: string;
  storageDtype: string;
  tensorCount: number;
  config: ClipConfig;
  /** Non-weight entries dropped (position_ids, attn_mask, input_resolution, ...). */
  ignored: string[];
}

export interface SafetensorsTensor {
  /** As stored: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL. */
  dtype: string;
  shape: number[];
  /** F16/BF16 widened to Float32Array; I16/I8 to Int32Array; BOOL as Uint8Array. */
  data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;
}

export interface ClipNative {
  clipCreate(preset: string, opts?: { seed?: number; imageSize?: number; vocabSize?: number; contextLength?: number; device?: string; dtype?: ClipDtype } & PixelNorm):
    Promise<ClipModelNative>;
  clipLoad(source: string, opts?: { device?: string; dtype?: ClipDtype } & PixelNorm): Promise<ClipModelNative>;
  clipPresets(): string[];
  clipPresetConfig(name: string): ClipConfig;
  clipInfo(): { fusedAttention: boolean };
  /**
   * The package's one safetensors reader (the weight loader's too; lib/io/safetensors.ts types it):
   * validating, XT_IO naming the file (and tensor) for any inconsistency.
   */
  readSafetensors(path: string): Promise<{ metadata: Record<string, string>; tensors: Record<string, SafetensorsTensor> }>;
  /**
   * The package's one safetensors writer (model saving's too), atomic. `dtype` is required here
   * (lib/io/safetensors.ts derives it); numbers store as F64/F32/F16/BF16, integers as I64..I8/U8/BOOL
   * when they fit. XT_INVALID / XT_SHAPE naming the tensor, XT_IO naming the file.
   */
  writeSafetensors(path: string, tensors: { name: string; dtype: string; shape: number[]; data: SafetensorsTensor['data'] }[],
    metadata?: Record<string, string>): Promise<void>;
  /** Detect a weight file/folder's format and configuration without loading it. */
  inspectWeights(path: string): Promise<WeightsInfo>;
}

// ---------------------------------------------------------------------------------------------
// Relaxed contrastive loss (binding/loss/, wrapped by lib/loss.ts)
// ---------------------------------------------------------------------------------------------
export type LossImpl = 'fused' | 'reference';
export type LossDevice = 'cpu' | 'cuda';
export type LossComputeDtype = 'float32' | 'float64' | 'float16' | 'bfloat16';

export interface LossNativeOptions {
  /** log-space logit scale (before the exp; capped at 4.6052). */
  logitScale: number;
  /** positive-pair clip in [-1, 1] (default 1: plain CLIP). */
  positiveClip?: number;
  /** one group id per sample; same id = positive pair. */
  groups?: Int32Array | null;
  impl?: LossImpl;
  device?: LossDevice;
  /** compute dtype (default: the input's); float16/bfloat16 on CUDA. */
  dtype?: LossComputeDtype;
}

export interface LossNativeResult {
  loss: number;
  gradImage: Float32Array | Float64Array;
  gradText: Float32Array | Float64Array;
  gradLogitScale: number;
}

export interface LossNative {
  /** Loss and gradients for image/text [B, D]; XT_SHAPE / XT_INVALID for bad input. */
  contrastiveLoss(image: Float32Array | Float64Array, text: Float32Array | Float64Array, B: number, D: number,
    opts: LossNativeOptions): Promise<LossNativeResult>;
  /** Which CPU kernels the fused loss uses, and whether CUDA kernels are compiled in. */
  lossInfo(): { cpuIsa: 'avx2' | 'generic'; cuda: boolean };
}

// ---------------------------------------------------------------------------------------------
// Training (binding/train/train_session.cc)
// ---------------------------------------------------------------------------------------------
/** Every option of a native training session, fully resolved: the session has no defaults of its own (the
 * table in lib/train/options.ts has them; `sessionOptions` / `defaultSessionOptions` fill these). A missing
 * one is an XT_INVALID error naming it. */
export interface TrainSessionOptions {
  lr: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Positive-pair relaxation c in [-1, 1] (1 = plain CLIP). */
  positiveClip: number;
  /** Use the `groups` given to step() as multi-positive targets. */
  multiPositive: boolean;
  /** Max global gradient norm (0 = off). */
  gradClip: number;
  /** Micro-batches per step (gradient accumulation). */
  accumSteps: number;
  /** Gradient checkpointing of both towers' transformer blocks during steps. */
  gradCheckpointing: boolean;
  /** Patch dropout during steps: the share of each image's patch tokens dropped, in [0, 1). */
  patchDropout: number;
  /** Seeds the CPU generator the steps draw from (rank r of a data-parallel run: seed + r). */
  seed: number;
  lockImage: boolean;
  lockText: boolean;
  /** Skip steps whose loss or gradients are not finite (else the step rejects with XT_NONFINITE). */
  skipNonfinite: boolean;
  /** fp32, bf16 (autocast), fp16 (autocast + dynamic loss scaling; CUDA only). */
  precision: 'fp32' | 'bf16' | 'fp16';
  /** Read the loss (and gradient norm, non-finite count) from the device every N steps only.
   * Steps in between return `synced: false` with NaN loss and gradient norm; fp16 always syncs. */
  syncEvery: number;
}

export interface TrainStepResult {
  /** Mean loss over the step's micro-batches (before the update). */
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** exp(logit_scale) after the update. */
  logitScale: number;
  /** The step was skipped (non-finite values). */
  skipped: boolean;
  lossScale: number;
  batch: number;
  /** false: a step of syncEvery > 1 whose figures are read later (loss and gradNorm are NaN). */
  synced: boolean;
  /** Synced: how many steps `loss` is the mean of (those since the last read). */
  steps: number;
  /** Synced, syncEvery > 1 with skipNonfinite: steps among them whose update was zeroed (non-finite). */
  nonfinite: number;
}

/** One training session over a model: AdamW state, the fused loss, optional data parallelism. */
export interface TrainSessionNative {
  /** pixels: a `PixelArray` (grey [B, R, R] or normalised [B, 3, R, R]) with its shape. */
  step(pixels: PixelArray, pixelShape: number[], tokens: Int32Array, tokenShape: number[],
    groups: Int32Array | null, lr: number, sync?: boolean): Promise<TrainStepResult>;
  evalLoss(pixels: PixelArray, pixelShape: number[], tokens: Int32Array, tokenShape: number[],
    groups?: Int32Array | null): Promise<{ loss: number }>;
  saveOptimizer(path: string): Promise<void>;
  loadOptimizer(path: string): Promise<void>;
  rngState(): Uint8Array;
  setRngState(state: Uint8Array): void;
  readonly trainableParameters: string[];
  readonly numTrainable: number;
}

export interface TrainNative {
  TrainSessionNative: new (model: ClipModelNative, opts: TrainSessionOptions) => TrainSessionNative;
}

// ---------------------------------------------------------------------------------------------
// Image decoding (binding/image/): present when the addon was built with libjpeg + libpng
// ---------------------------------------------------------------------------------------------
export interface ImageNative {
  /**
   * JPEG / 8-bit grey PNG (a file path, or its bytes: copied, `name` naming them in errors) to 8-bit grey at a
   * geometry (antialiased bicubic), on libuv's pool. Resolves null for formats it leaves to sharp; rejects
   * XT_IO / XT_INVALID naming the file.
   */
  decodeImageGrey?(source: string | Uint8Array, size: number, mode: 'crop' | 'pad' | 'shorter' | 'none', name?: string):
    Promise<{ width: number; height: number; data: Uint8Array } | null>;
}

/**
 * Everything the production addon exports. Each native concern adds its interface here. The test and
 * benchmark hooks (binding/testing/) are only in xray_torch_testing.node, declared by
 * test/helpers/native-testing.ts.
 */
export type NativeAddon = RuntimeNative & DistNative & ClipNative & LossNative & TrainNative & ImageNative;

// ---------------------------------------------------------------------------------------------
// Loader
// ---------------------------------------------------------------------------------------------
export interface LoadedAddon {
  addon: NativeAddon;
  path: string;
  /** Why this file was chosen (shown by `doctor`). */
  reason: string;
  /** Candidates tried before it, with their errors. */
  tried: { path: string; error: string }[];
}

/** The package root (holds package.json, prebuilds/ and build/). */
export const packageRoot = path.resolve(__dirname, '..', '..');

let loaded: LoadedAddon | undefined;

interface Prebuild {
  file: string;
  variant: 'cpu' | 'cuda';
  torch: string | undefined;
}

function listPrebuilds(root: string): Prebuild[] {
  const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  let files: string[];
  try {
    files = fs.readdirSync(dir).filter((f) => f.endsWith('.node'));
  } catch {
    return [];
  }
  return files.map((f) => {
    const tags = f.split('.');
    const torch = tags.find((t) => /^torch\d+_\d+$/.test(t));
    return {
      file: path.join(dir, f),
      variant: tags.includes('cuda') ? 'cuda' : 'cpu',
      torch: torch ? torch.slice(5).replace('_', '.') : undefined,
    };
  });
}

/** Load a CUDA addon in a child process and check that it sees a GPU; never crashes this process. */
export function probeCudaAddon(file: string): { ok: boolean; detail: string } {
  const script =
    `const a=require(${JSON.stringify(file)});const i=a.runtimeInfo();` +
    `process.stdout.write(JSON.stringify({cuda:i.cudaAvailable,n:i.cudaDevices.length}))`;
  const r = spawnSync(process.execPath, ['-e', script], {
    encoding: 'utf8',
    timeout: 60000,
    env: { ...process.env, XRAY_TORCH_DEVICE: 'cpu' },
  });
  if (r.status !== 0) {
    const msg = (r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n').slice(-3).join(' ');
    return { ok: false, detail: `the CUDA variant did not load: ${msg}` };
  }
  try {
    const j = JSON.parse(r.stdout) as { cuda: boolean; n: number };
    if (!j.cuda) return { ok: false, detail: 'the CUDA variant loaded but no CUDA device/driver is available' };
    return { ok: true, detail: `the CUDA variant sees ${j.n} device(s)` };
  } catch {
    return { ok: false, detail: 'the CUDA probe printed nothing readable' };
  }
}

function expectedTorchHint(): string {
  const envs = ['LIBTORCH', 'Torch_DIR'].filter((k) => process.env[k]).map((k) => `${k}=${process.env[k]}`);
  return envs.length ? envs.join(', ') : 'the system LibTorch (Debian libtorch-dev 1.13) or a Python torch install';
}

/** Load (once) and return the native addon with how it was found. */
export function loadAddon(root: string = packageRoot): LoadedAddon {
  if (loaded) return loaded;
  const tried: { path: string; error: string }[] = [];
  const attempt = (file: string, reason: string): LoadedAddon | undefined => {
    if (!fs.existsSync(file)) {
      tried.push({ path: file, error: 'not found' });
      return undefined;
    }
    try {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      const addon = require(file) as NativeAddon;
      return { addon, path: file, reason, tried };
    } catch (e) {
      tried.push({ path: file, error: (e as Error).message.split('\n')[0] });
      return undefined;
    }
  };

  const explicit = process.env.XRAY_TORCH_ADDON;
  if (explicit) {
    const r = attempt(path.resolve(explicit), 'XRAY_TORCH_ADDON');
    if (!r) throw loadError(tried);
    return (loaded = r);
  }

  const forceCpu = (process.env.XRAY_TORCH_DEVICE || '').toLowerCase() === 'cpu';
  const prebuilds = listPrebuilds(root);
  const cuda = prebuilds.filter((p) => p.variant === 'cuda');
  const cpu = prebuilds.filter((p) => p.variant === 'cpu');
  let cudaNote = '';
  if (!forceCpu) {
    for (const p of cuda) {
      const probe = probeCudaAddon(p.file);
      if (probe.ok) {
        const r = attempt(p.file, `prebuilt CUDA variant: ${probe.detail}`);
        if (r) return (loaded = r);
      } else {
        tried.push({ path: p.file, error: probe.detail });
        cudaNote = probe.detail;
      }
    }
  } else if (cuda.length) {
    cudaNote = 'XRAY_TORCH_DEVICE=cpu: CUDA probing skipped';
  }
  for (const p of cpu) {
    const r = attempt(p.file, 'prebuilt CPU variant' + (cudaNote ? ` (${cudaNote})` : ''));
    if (r) {
      if (cudaNote && !forceCpu) process.emitWarning(`xray-torch: using the CPU variant: ${cudaNote}`);
      return (loaded = r);
    }
  }
  for (const sub of ['build/Release', 'build/Debug']) {
    const r = attempt(path.join(root, sub, 'xray_torch.node'), `local build (${sub})`);
    if (r) return (loaded = r);
  }
  throw loadError(tried);
}

function loadError(tried: { path: string; error: string }[]): XtError {
  const lines = tried.map((t) => `  - ${t.path}: ${t.error}`).join('\n');
  return xtError(
    'XT_LOAD',
    `xray-torch: could not load the native addon.\nLooked for:\n${lines || '  (nothing)'}\n` +
      `Expected LibTorch: ${expectedTorchHint()}.\n` +
      'To build it: run `bash scripts/setup` in the package folder (installs LibTorch on Debian and builds), ' +
      'or `npm run build:addon` with LIBTORCH=/path/to/libtorch (or Torch_DIR) set. ' +
      'If the error says libtorch*.so was not found, add its lib folder to LD_LIBRARY_PATH.',
  );
}

/** Whether the addon is already loaded in this process (never loads it). */
export function addonLoaded(): boolean {
  return loaded !== undefined;
}

/** The loaded addon (loads on first use). */
export function native(): NativeAddon {
  return loadAddon().addon;
}
