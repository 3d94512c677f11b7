/**
 * The GPU check (issue 10 §4), run by `scripts/gpu-check` on a lent GPU machine after it built the CUDA
 * variant (XRAY_TORCH_ADDON points at it). One process, one pass, every figure side by side:
 *
 *  1. runtime: the CUDA variant loads and sees the GPU; `--device auto` resolves to it.
 *  2. encoder parity: a ViT-B/16 CLIP (random init, seed 1) on the CPU and the same weights loaded on the
 *     GPU (fp32, TF32 off): image and text embeddings, max |diff| relative to max |value|.
 *  3. loss parity: the fused CUDA kernel (fp32, bf16, fp64) against the fp64 composed reference on the
 *     CPU (B 512, D 512, clip 0.8, multi-positive groups): loss and gradients.
 *  4. training: TrainSessionNative on the GPU, ViT-B/16 @ 224 + 12-layer text, bf16 autocast, TF32,
 *     syncEvery 10, batch 256 from pinned host memory: images/s, loss finite and falling; beside it the
 *     same loop in PyTorch eager (bench/python/gpu_train_clip.py) on the same GPU.
 *  5. loss kernel at B = 8192, D = 512: fused against the composed ATen version, forward + backward.
 *
 * Writes $OUT/gpu-check.json and $OUT/gpu-check.md (the table for bench/RESULTS.md); exits 1 when a
 * check fails. `--cpu` runs the same plumbing on the CPU with small sizes (for preparing the script on a
 * machine without a GPU; no figure of it means anything for the GPU).
 *
 *   node dist/bench/gpu-check.js [--cpu] [--out DIR] [--batch N] [--steps N]
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { native } from '../lib/native';
// benchContrastiveLoss is a hook of the testing addon (scripts/gpu-check builds it with -DXT_TESTING=ON)
import { hooks } from '../test/helpers/native-testing';
import { ClipModel } from '../lib/model/clip';
import { contrastiveLoss } from '../lib/loss';
import { resolveDevice } from '../lib/runtime/device';
import { defaultSessionOptions } from '../lib/train/options';
import { mulberry32 } from '../lib/eval/metrics';
import { pseudoNormal } from './util';

interface Check { name: string; ok: boolean; detail: string }
interface Row { metric: string; ours: number; baseline?: number; unit: string; target?: string }

const args = process.argv.slice(2);
const flag = (n: string) => args.includes(n);
const opt = (n: string, d: string) => (args.indexOf(n) >= 0 ? args[args.indexOf(n) + 1] : d);
const CPU = flag('--cpu');
const OUT = path.resolve(opt('--out', process.env.OUT || 'gpu-out'));
const DEV = CPU ? 'cpu' : 'cuda:0';
const PRESET = CPU ? 'tiny' : 'ViT-B-16';
const SIZE = CPU ? 64 : 224;
const BATCH = Number(opt('--batch', CPU ? '8' : '256'));
const STEPS = Number(opt('--steps', CPU ? '4' : '20'));
const WARMUP = CPU ? 1 : 3;
const CTX = 77;
const PY = fs.existsSync('/usr/bin/python3') && !process.env.XT_GPU_PYTHON ? '/usr/bin/python3' : process.env.XT_GPU_PYTHON || 'python3';

const checks: Check[] = [];
const rows: Row[] = [];
const notes: string[] = [];
const check = (name: string, ok: boolean, detail: string) => {
  checks.push({ name, ok, detail });
  process.stderr.write(`[gpu-check] ${ok ? 'ok  ' : 'FAIL'} ${name}: ${detail}\n`);
};
const log = (m: string) => process.stderr.write(`[gpu-check] ${m}\n`);

function tokens(batch: number, ctx: number, vocab: number, seed: number): Int32Array {
  const r = mulberry32(seed);
  const t = new Int32Array(batch * ctx);
  for (let b = 0; b < batch; b++) {
    const n = 4 + Math.floor(r() * (ctx - 8));
    t[b * ctx] = vocab - 2;
    for (let j = 1; j <= n; j++) t[b * ctx + j] = 1 + Math.floor(r() * (vocab - 3));
    t[b * ctx + n + 1] = vocab - 1;
  }
  return t;
}
const relDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / Math.max(m, 1e-30);
};

async function main(): Promise<void> {
  fs.mkdirSync(OUT, { recursive: true });
  const a = native();
  const info = a.runtimeInfo();
  log(`LibTorch ${info.torchVersion} (${info.torchSource}), variant ${info.variant}, devices: ${info.cudaDevices.map((d) => d.name).join(', ') || 'none'}`);
  notes.push(`LibTorch ${info.torchVersion} (${info.torchSource}), addon variant ${info.variant}; ` +
    `GPU: ${info.cudaDevices.map((d) => `${d.name} (${(d.totalMemory / 2 ** 30).toFixed(0)} GiB, sm_${d.capability.replace('.', '')})`).join(', ') || 'none'}; ` +
    `host: ${os.cpus().length} cores, Node ${process.version}.`);
  if (!CPU) {
    check('CUDA variant loaded and sees a GPU', info.variant === 'cuda' && info.cudaAvailable && info.cudaDevices.length > 0,
      `variant ${info.variant}, cudaAvailable ${info.cudaAvailable}, ${info.cudaDevices.length} device(s)`);
    const auto = resolveDevice('auto');
    check('--device auto picks the GPU', auto.device === 'cuda:0', auto.reason);
    check('fused loss has CUDA kernels', a.lossInfo().cuda, JSON.stringify(a.lossInfo()));
    // NCCL cannot run 2 ranks on one GPU; what one GPU can show is that the 2.x build compiled it in
    const d = typeof a.dist?.info === 'function' ? a.dist.info() : undefined;
    check('dist: NCCL compiled into the CUDA build', !!d?.ncclCompiled, `gloo ${d?.glooCompiled}, nccl ${d?.ncclCompiled}`);
  }

  // ---- 2. encoder parity ----
  a.setTf32(false);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xt-gpu-'));
  try {
    const cpu = await ClipModel.create(PRESET, { seed: 1, device: 'cpu', imageSize: SIZE });
    const file = path.join(tmp, 'w.safetensors');
    await cpu.save(file, { layout: 'openai', dtype: 'float32' });
    const gpu = await ClipModel.load(file, { device: DEV, tokenizer: false });
    const n = 8;
    const px = pseudoNormal(n * 3 * SIZE * SIZE, 11);
    const ids = tokens(n, cpu.config.contextLength, cpu.config.vocabSize, 12);
    const [ic, ig] = [await cpu.encodeImages(px, [n, 3, SIZE, SIZE]), await gpu.encodeImages(px, [n, 3, SIZE, SIZE])];
    const [tc, tg] = [await cpu.encodeTokens(ids, [n, cpu.config.contextLength]), await gpu.encodeTokens(ids, [n, cpu.config.contextLength])];
    const di = relDiff(ig.data, ic.data);
    const dt = relDiff(tg.data, tc.data);
    check(`${PRESET} encoders on ${DEV} (fp32) = CPU`, di < 1e-4 && dt < 1e-4, `image max rel diff ${di.toExponential(2)}, text ${dt.toExponential(2)}`);
    cpu.dispose();
    gpu.dispose();
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }

  // ---- 3. loss parity ----
  {
    const B = 512;
    const D = 512;
    const img = pseudoNormal(B * D, 21, Float64Array);
    const txt = pseudoNormal(B * D, 22, Float64Array);
    for (let i = 0; i < B * D; i++) txt[i] = 0.6 * img[i] + 0.8 * txt[i];
    const groups = Int32Array.from({ length: B }, (_, i) => (i % 5 === 0 ? 10000 + Math.floor(i / 10) : i));
    const o = { logitScale: Math.log(1 / 0.07), positiveClip: 0.8, groups };
    const ref = await contrastiveLoss(img, txt, [B, D], { ...o, impl: 'reference', device: 'cpu' });
    const tol: Record<string, number> = { float64: 1e-10, float32: 1e-5, bfloat16: 3e-2 };
    for (const dtype of ['float64', 'float32', 'bfloat16'] as const) {
      if (CPU && dtype === 'bfloat16') continue;
      const inI = dtype === 'float64' ? img : Float32Array.from(img);
      const inT = dtype === 'float64' ? txt : Float32Array.from(txt);
      const r = await contrastiveLoss(inI, inT, [B, D], { ...o, impl: 'fused', device: CPU ? 'cpu' : 'cuda', dtype });
      const dl = Math.abs(r.loss - ref.loss) / Math.abs(ref.loss);
      const dg = Math.max(relDiff(r.gradImage, ref.gradImage), relDiff(r.gradText, ref.gradText));
      const ds = Math.abs(r.gradLogitScale - ref.gradLogitScale) / Math.max(1e-12, Math.abs(ref.gradLogitScale));
      check(`fused loss ${dtype} on ${CPU ? 'cpu' : 'cuda'} vs fp64 reference`, dl < tol[dtype] && dg < tol[dtype] * 10 && ds < tol[dtype] * 10,
        `loss rel ${dl.toExponential(2)}, grads max rel ${dg.toExponential(2)}, d logit_scale rel ${ds.toExponential(2)}`);
    }
  }

  // ---- 4. training throughput, ours then PyTorch eager ----
  a.setTf32(true);
  {
    const model = await ClipModel.create(PRESET, { seed: 2, device: DEV, imageSize: SIZE, contextLength: CTX });
    const sess = new a.TrainSessionNative(model.native, defaultSessionOptions({
      lr: 5e-4, weightDecay: 0.2, positiveClip: 0.8, gradClip: 1.0, precision: CPU ? 'fp32' : 'bf16', syncEvery: 10,
    }, { cuda: !CPU, scratch: true }));
    const px = pseudoNormal(BATCH * 3 * SIZE * SIZE, 31);
    const ids = tokens(BATCH, CTX, model.config.vocabSize, 32);
    const losses: number[] = [];
    let t0 = 0;
    const total = WARMUP + STEPS;
    for (let i = 0; i < total; i++) {
      // the warm-up ends with a read (a sync), so the timed steps start on an idle device
      const r = await sess.step(px, [BATCH, 3, SIZE, SIZE], ids, [BATCH, CTX], null, 5e-4, i === WARMUP - 1 || i === total - 1);
      if (r.synced) losses.push(r.loss);
      if (i === WARMUP - 1) t0 = performance.now();
    }
    const secs = (performance.now() - t0) / 1000;
    const ours = (BATCH * STEPS) / secs;
    model.dispose();
    check('training steps: finite loss', losses.every(Number.isFinite), `losses read: ${losses.map((l) => l.toFixed(4)).join(', ')}`);
    log(`ours: ${ours.toFixed(1)} images/s (${((1000 * secs) / STEPS).toFixed(1)} ms/step)`);
    const py = spawnSync(PY, [path.resolve(__dirname, '..', '..', 'bench', 'python', 'gpu_train_clip.py'),
      '--device', CPU ? 'cpu' : 'cuda', '--amp', CPU ? 'fp32' : 'bf16', '--batch', String(BATCH), '--size', String(SIZE),
      '--patch', CPU ? '16' : '16', '--context', String(CTX), '--steps', String(STEPS), '--warmup', String(WARMUP), '--sync-every', '10'],
    { encoding: 'utf8', timeout: 300000 });
    let pyIps: number | undefined;
    if (py.status === 0) {
      const j = JSON.parse(py.stdout.trim().split('\n').pop()!);
      pyIps = j.images_per_s;
      notes.push(`PyTorch eager (${j.torch}, ${j.device}): ${j.ms_per_step.toFixed(1)} ms/step, peak ${j.peak_mem_gib?.toFixed(1) ?? '—'} GiB, losses ${j.losses.map((x: number) => x.toFixed(4)).join(', ')}.`);
    } else {
      notes.push(`PyTorch eager baseline failed (${py.status}): ${(py.stderr || '').slice(-800)}`);
      log(`python failed: ${(py.stderr || '').slice(-800)}`);
    }
    rows.push({
      metric: `training ${PRESET} @ ${SIZE} + 12-layer text, batch ${BATCH}, ${CPU ? 'fp32' : 'bf16 autocast, TF32'}, ${STEPS} steps`,
      // (the CPU dry run's Python side keeps ViT-B/16, so no ratio there)
      ours: Math.round(ours * 10) / 10, baseline: pyIps !== undefined && !CPU ? Math.round(pyIps * 10) / 10 : undefined, unit: 'images/s',
      target: CPU ? undefined : '≥ 1.0× and ≥ 800 images/s on an H100',
    });
  }

  // ---- 5. loss kernel at B = 8192 ----
  {
    const B = CPU ? 1024 : 8192;
    const dev = CPU ? 'cpu' : 'cuda';
    const fused = await hooks().benchContrastiveLoss({ B, D: 512, iters: 20, warmup: 3, impl: 'fused', device: dev, dtype: 'float32', positiveClip: 0.8 });
    const comp = await hooks().benchContrastiveLoss({ B, D: 512, iters: 20, warmup: 3, impl: 'reference', device: dev, dtype: 'float32', positiveClip: 0.8 });
    rows.push({ metric: `relaxed loss forward + backward, B ${B}, D 512, fp32, fused vs composed ATen`, ours: fused.medianMs, baseline: comp.medianMs, unit: 'ms (median)' });
    check('loss kernel: same loss as the composed version', Math.abs(fused.loss - comp.loss) < 1e-4 * Math.abs(comp.loss), `${fused.loss} vs ${comp.loss}`);
    if (!CPU) {
      const bf = await hooks().benchContrastiveLoss({ B, D: 512, iters: 20, warmup: 3, impl: 'fused', device: dev, dtype: 'bfloat16', positiveClip: 0.8 });
      rows.push({ metric: `relaxed loss forward + backward, B ${B}, D 512, bf16 inputs, fused`, ours: bf.medianMs, unit: 'ms (median)' });
    }
  }

  const ratio = (r: Row) => (r.baseline === undefined ? '—' : (r.unit.startsWith('ms') ? r.baseline / r.ours : r.ours / r.baseline).toFixed(2) + '×');
  const md = [
    `### GPU check (${CPU ? 'CPU dry run: plumbing only' : info.cudaDevices[0]?.name ?? 'GPU'}), ${new Date().toISOString()}`,
    '',
    '| metric | ours | baseline | unit | speed ratio | target |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.metric} | ${r.ours} | ${r.baseline ?? '—'} | ${r.unit} | ${ratio(r)} | ${r.target ?? '—'} |`),
    '',
    '| check | result | detail |',
    '|---|---|---|',
    ...checks.map((c) => `| ${c.name} | ${c.ok ? 'ok' : 'FAIL'} | ${c.detail} |`),
    '',
    ...notes,
    '',
  ].join('\n');
  fs.writeFileSync(path.join(OUT, 'gpu-check.md'), md);
  fs.writeFileSync(path.join(OUT, 'gpu-check.json'), JSON.stringify({ cpu: CPU, rows, checks, notes }, null, 2) + '\n');
  process.stdout.write(md);
  if (checks.some((c) => !c.ok)) process.exitCode = 1;
}

if (require.main === module) main().catch((e) => {
  process.stderr.write(`[gpu-check] failed: ${(e as Error).stack}\n`);
  try {
    fs.mkdirSync(OUT, { recursive: true });
    fs.writeFileSync(path.join(OUT, 'gpu-check-error.txt'), String((e as Error).stack));
  } catch {
    /* ignore */
  }
  process.exit(1);
});
