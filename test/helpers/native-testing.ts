/**
 * The native test and benchmark hooks (binding/testing/): declared here, not in lib/native.ts, because the
 * production addon (xray_torch.node) has none of them. They live in xray_torch_testing.node, which is the
 * production addon's objects plus binding/testing/*.cc, built beside it by `npm run build:addon` in a
 * checkout (CMake -DXT_TESTING=ON; npm install and prebuilds build the production addon only).
 *
 * Importing this module makes this process (and the child processes it starts) load the testing addon
 * in place of the production one, through the loader's XRAY_TORCH_ADDON: a hook and the lib/ code it is
 * compared with must run in ONE addon (lossForceGenericCpu switches the kernels contrastiveLoss uses;
 * clipGradients takes a model that clipLoad made). Since the testing addon holds every production object,
 * whatever else runs in the process behaves as with the production addon. Mocha requires every test file
 * before it runs any test, so importing this anywhere in a run is early enough; `hooks()` says so when the
 * production addon was loaded first all the same.
 *
 * Where the testing addon is looked for: XRAY_TORCH_TESTING_ADDON; else xray_torch_testing.node beside
 * XRAY_TORCH_ADDON (scripts/check-torch2 and scripts/gpu-check build both and set XRAY_TORCH_ADDON to the
 * production one); else build/Release/xray_torch_testing.node.
 */
import * as fs from 'fs';
import * as path from 'path';

import {
  addonLoaded, loadAddon, packageRoot,
  type ClipModelNative, type LossComputeDtype, type LossDevice, type LossImpl, type LossNativeOptions,
  type LossNativeResult, type NativeAddon, type TensorResult,
} from '../../lib/native';

/** The production addon this run would otherwise use (kept for the test that checks it has no hooks). */
export const productionAddonPath: string = path.resolve(
  process.env.XRAY_TORCH_PRODUCTION_ADDON ||
    process.env.XRAY_TORCH_ADDON ||
    path.join(packageRoot, 'build', 'Release', 'xray_torch.node'),
);

/** Where the testing addon is looked for (see above). */
export const testingAddonPath: string = path.resolve(
  process.env.XRAY_TORCH_TESTING_ADDON ||
    (process.env.XRAY_TORCH_ADDON
      ? path.join(path.dirname(process.env.XRAY_TORCH_ADDON), 'xray_torch_testing.node')
      : path.join(packageRoot, 'build', 'Release', 'xray_torch_testing.node')),
);

// Switch this process's loader to the testing addon (children inherit it), before anything loads.
if (fs.existsSync(testingAddonPath) && !addonLoaded()) {
  process.env.XRAY_TORCH_PRODUCTION_ADDON = productionAddonPath;
  process.env.XRAY_TORCH_TESTING_ADDON = testingAddonPath;
  process.env.XRAY_TORCH_ADDON = testingAddonPath;
}

// ---------------------------------------------------------------------------------------------
// The hooks (exports.testing of xray_torch_testing.node)
// ---------------------------------------------------------------------------------------------
export interface DistReducerStats {
  buckets: number;
  launchedInBackward: number;
  launchedInFinish: number;
  unusedParams: number;
  replayed: boolean;
  finishWaitSec: number;
}

export interface DistReducerOptions {
  bucketBytes?: number;
  firstBucketBytes?: number;
  overlap?: boolean;
  op?: 'sum' | 'mean';
  /** Call Prepare() before backward (default true); false exercises the after-backward path. */
  prepare?: boolean;
}

export interface LossBenchOptions {
  B?: number;
  D?: number;
  iters?: number;
  warmup?: number;
  impl?: LossImpl;
  device?: LossDevice;
  dtype?: LossComputeDtype;
  positiveClip?: number;
  logitScale?: number;
  /** > 1: group ids floor(i / groupSize) (multi-positive targets). */
  groupSize?: number;
}

export interface LossBenchResult {
  /** forward + backward wall time of each timed iteration. */
  ms: number[];
  medianMs: number;
  minMs: number;
  /** median process CPU time (all threads: OpenMP, BLAS) per iteration: the work, less sensitive to load. */
  medianCpuMs: number;
  loss: number;
  /** peak of live CPU allocations during one forward + backward, inputs excluded (-1 on CUDA). */
  peakExtraBytes: number;
  cpuIsa: 'avx2' | 'generic';
  impl: LossImpl;
  B: number;
  D: number;
}

export interface TestingHooks {
  /** binding/testing/runtime_hooks.cc: a 2-D matrix product; rejects with XT_SHAPE when the shapes do not fit. */
  matmul(a: Float32Array | Float64Array, aShape: number[], b: Float32Array | Float64Array,
    bShape: number[]): Promise<TensorResult<Float32Array | Float64Array>>;
  /** loss_hooks.cc: the portable CPU loss kernels even where AVX2 is available (process-wide). */
  lossForceGenericCpu(on: boolean): void;
  /** loss_hooks.cc: contrastiveLoss with backward run twice on one graph (retain_graph): the second gradients. */
  contrastiveLossTwice(image: Float32Array | Float64Array, text: Float32Array | Float64Array, B: number, D: number,
    opts: LossNativeOptions): Promise<LossNativeResult>;
  /** loss_hooks.cc: forward + backward timed on random correlated embeddings, natively (no JS copies). */
  benchContrastiveLoss(opts: LossBenchOptions): Promise<LossBenchResult>;
  /** clip_hooks.cc: the autograd path of `model` vs its inference path and finite differences. */
  clipGradients(model: ClipModelNative, pixels: Float32Array, pixelShape: number[], ids: Int32Array | BigInt64Array,
    idShape: number[]): Promise<{ loss: number; maxLogitDiff: number; withoutGradient: string[];
      probes: { name: string; index: number; autograd: number; numeric: number }[] }>;
  /** distributed_hooks.cc: one CLIP-style step (linear encoders, gathered with grad, reducer). */
  distContrastiveStep(options: {
    x: Float32Array; t: Float32Array; rows: number; inDim: number;
    wi: Float32Array; wt: Float32Array; outDim: number; logitScale?: number;
  } & DistReducerOptions): Promise<{
    loss: number; gathered: TensorResult; gradWi: TensorResult; gradWt: TensorResult;
    gradLogitScale: number; stats: DistReducerStats;
  }>;
  /** distributed_hooks.cc: gradients c_i of parameters of `shapes` (`unused` get none), reduced. */
  distReducer(options: { shapes: number[][]; coeffs: Float32Array; unused?: number[] } & DistReducerOptions):
    Promise<{ grads: (TensorResult | null)[]; stats: DistReducerStats }>;
  /** distributed_hooks.cc: time a collective natively (warm-up, then `iters`). */
  benchCollective(options: { kind: 'allreduce' | 'allgather' | 'reducer'; bytes: number; iters?: number } & DistReducerOptions):
    Promise<{ secondsPerIter: number; iters: number; bytes: number; buckets: number }>;
}

/** Every name under `exports.testing`: the production addon must have none of them (test/native/testing-hooks). */
export const HOOK_NAMES: readonly (keyof TestingHooks)[] = [
  'matmul', 'lossForceGenericCpu', 'contrastiveLossTwice', 'benchContrastiveLoss', 'clipGradients',
  'distContrastiveStep', 'distReducer', 'benchCollective',
];

/** The hooks of the loaded (testing) addon; a clear error when the addon in use has none. */
export function hooks(): TestingHooks {
  const loaded = loadAddon();
  const t = (loaded.addon as NativeAddon & { testing?: TestingHooks }).testing;
  if (t) return t;
  const why = fs.existsSync(testingAddonPath)
    ? `the production addon ${loaded.path} was loaded before test/helpers/native-testing could switch to ` +
      `${testingAddonPath} (import test/helpers/native-testing before anything loads the addon)`
    : `${testingAddonPath} is not built: run \`npm run build:addon\` in the checkout (it builds the testing ` +
      'addon with CMake -DXT_TESTING=ON), or set XRAY_TORCH_TESTING_ADDON';
  throw new Error(`native test hooks unavailable: ${why}`);
}
