/**
 * Exact contrastive accumulation (issue 16 §1): `--accum N` keeps the whole batch's contrastive problem
 * (GradCache: cached features, full-batch loss, per-micro-batch backward), so N micro-batches end with the
 * same weights as one pass over the batch, and a data-parallel run with accumulation equals one process.
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { train, type StepEvent, type TrainOptions } from '../../lib/train/trainer';
import { generateSynthetic } from '../../lib/data/synth';
import { readSafetensors } from '../../lib/io/safetensors';
import { isXtError } from '../../lib/errors';
import { repoRoot } from '../helpers/shared';

const cli = path.join(repoRoot, 'bin', 'xray-torch.js');

/** Per tensor: ||a - b|| / ||b|| over every tensor of two model folders; the worst one and its name. */
async function worstTensorDifference(dirA: string, dirB: string): Promise<{ name: string; rel: number }> {
  const wa = await readSafetensors(path.join(dirA, 'model.safetensors'));
  const wb = await readSafetensors(path.join(dirB, 'model.safetensors'));
  assert.deepEqual(wa.names.slice().sort(), wb.names.slice().sort());
  let worst = { name: '', rel: 0 };
  for (const n of wa.names) {
    const x = wa.getFloat32(n).data;
    const y = wb.getFloat32(n).data;
    let d = 0;
    let s = 0;
    for (let i = 0; i < x.length; i++) {
      d += (x[i] - y[i]) ** 2;
      s += y[i] ** 2;
    }
    const rel = Math.sqrt(d) / Math.max(1e-12, Math.sqrt(s));
    if (rel > worst.rel) worst = { name: n, rel };
  }
  return worst;
}

describe('exact contrastive accumulation (--accum)', function () {
  this.timeout(600000);
  let tmp: string;
  let manifest: string;
  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xt-accum-'));
    await generateSynthetic({ out: path.join(tmp, 'data'), n: 200, seed: 21, size: 64 });
    manifest = path.join(tmp, 'data', 'manifest.jsonl');
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const base = (out: string, extra: Partial<TrainOptions> = {}): TrainOptions => ({
    data: manifest, model: 'scratch:tiny', out: path.join(tmp, out), batchSize: 64, steps: 10, lr: 1e-3, warmup: 2,
    seed: 4, vocabSize: 600, contextLength: 24, validate: false, progress: 'quiet', augment: true, ...extra,
  });
  async function run(opts: TrainOptions): Promise<number[]> {
    const r = train(opts);
    const losses: number[] = [];
    r.on('step', (s: StepEvent) => losses.push(s.loss as number));
    await r.done;
    return losses;
  }

  let one: number[];
  it('batch 64 with --accum 4 ends with the weights of --accum 1 after 10 steps (augmentation on)', async () => {
    one = await run(base('accum1'));
    const four = await run(base('accum4', { accumSteps: 4 }));
    assert.equal(four.length, 10);
    // the loss is the whole batch's: an untrained model starts near ln(64) = 4.16, not ln(16) = 2.77 (the
    // 16-sample problems that per-micro-batch losses would train on)
    assert.ok(Math.abs(four[0] - Math.log(64)) < 0.3, `first loss ${four[0]}`);
    four.forEach((x, i) => assert.ok(Math.abs(x - one[i]) <= 1e-5 * Math.abs(one[i]), `step ${i + 1}: ${x} vs ${one[i]}`));
    const w = await worstTensorDifference(path.join(tmp, 'accum4'), path.join(tmp, 'accum1'));
    assert.ok(w.rel <= 1e-5, `largest per-tensor relative difference ${w.rel} (${w.name})`);
  });

  it('a split that does not divide the batch (--accum 3: 22 + 21 + 21) is exact too', async () => {
    const three = await run(base('accum3', { accumSteps: 3, steps: 4 }));
    three.forEach((x, i) => assert.ok(Math.abs(x - one[i]) <= 1e-5 * Math.abs(one[i]), `step ${i + 1}: ${x} vs ${one[i]}`));
  });

  it('refuses --accum larger than the batch, naming both', async () => {
    await assert.rejects(run(base('too-many', { batchSize: 4, accumSteps: 8, steps: 1 })), (e: unknown) => {
      assert.ok(isXtError(e) && e.code === 'XT_INVALID', String(e));
      assert.match((e as Error).message, /accum.*8.*4|4.*accum.*8/i);
      return true;
    });
  });

  it('two processes with --accum 2 equal one process at the global batch without accumulation', async () => {
    const common = ['train', '--data', manifest, '--model', 'scratch:tiny', '--steps', '4', '--seed', '5', '--lr', '1e-3',
      '--warmup', '1', '--vocab-size', '600', '--context-length', '24', '--no-validate', '--quiet'];
    const env = { ...process.env, XRAY_TORCH_DIST_TIMEOUT: '60' };
    const single = spawnSync(process.execPath, [cli, ...common, '--batch-size', '32', '--out', path.join(tmp, 'single')],
      { encoding: 'utf8', timeout: 300000, env });
    assert.equal(single.status, 0, single.stderr);
    const two = spawnSync(process.execPath, [cli, ...common, '--batch-size', '16', '--accum', '2', '--nproc', '2', '--out', path.join(tmp, 'two')],
      { encoding: 'utf8', timeout: 300000, env });
    assert.equal(two.status, 0, `${two.stdout}\n${two.stderr}`);
    const losses = (d: string) => fs.readFileSync(path.join(tmp, d, 'metrics.jsonl'), 'utf8').trim().split('\n')
      .map((l) => JSON.parse(l)).filter((r) => r.event === 'step').map((r) => r.loss as number);
    const a = losses('single');
    const b = losses('two');
    assert.equal(b.length, 4);
    a.forEach((x, i) => assert.ok(Math.abs(x - b[i]) <= 1e-5 * Math.abs(x), `step ${i + 1}: ${x} vs ${b[i]}`));
    const w = await worstTensorDifference(path.join(tmp, 'two'), path.join(tmp, 'single'));
    assert.ok(w.rel <= 1e-4, `largest per-tensor relative difference ${w.rel} (${w.name})`);
  });

  it('--grad-checkpointing gives the weights of the plain run, alone (1e-6) and with --accum 4 (as §1)', async () => {
    const ckpt = await run(base('ckpt', { gradCheckpointing: true, steps: 4 }));
    const plain = await run(base('plain4', { steps: 4 }));
    ckpt.forEach((x, i) => assert.ok(Math.abs(x - plain[i]) <= 1e-6 * Math.abs(plain[i]), `step ${i + 1}: ${x} vs ${plain[i]}`));
    const w1 = await worstTensorDifference(path.join(tmp, 'ckpt'), path.join(tmp, 'plain4'));
    assert.ok(w1.rel <= 1e-6, `checkpointing: largest per-tensor relative difference ${w1.rel} (${w1.name})`);
    // with accumulation: §1's setting and bound against the --accum 1 run of the first test (checkpointing adds
    // nothing to accumulation's rounding: measured equal to the last digit at 4 steps)
    const both = await run(base('ckpt-accum', { gradCheckpointing: true, accumSteps: 4 }));
    both.forEach((x, i) => assert.ok(Math.abs(x - one[i]) <= 1e-5 * Math.abs(one[i]), `step ${i + 1}: ${x} vs ${one[i]}`));
    const w2 = await worstTensorDifference(path.join(tmp, 'ckpt-accum'), path.join(tmp, 'accum1'));
    assert.ok(w2.rel <= 1e-5, `checkpointing + accum: largest per-tensor relative difference ${w2.rel} (${w2.name})`);
  });

  it('--patch-dropout 0.5: another objective, the same patches under --accum 4, and an exact resume', async () => {
    const pd = await run(base('pd', { patchDropout: 0.5, steps: 4 }));
    const plain = await run(base('plain-pd', { steps: 4 }));
    assert.ok(Math.abs(pd[0] - plain[0]) > 1e-4, `patch dropout left the first loss unchanged (${pd[0]})`);
    // each image draws its patches in turn from the seeded generator, and accumulation replays the draws
    // between its two passes: micro-batches see exactly the patches of the whole batch
    const pdAccum = await run(base('pd-accum', { patchDropout: 0.5, accumSteps: 4, steps: 4 }));
    pdAccum.forEach((x, i) => assert.ok(Math.abs(x - pd[i]) <= 1e-5 * Math.abs(pd[i]), `step ${i + 1}: ${x} vs ${pd[i]}`));
    const w = await worstTensorDifference(path.join(tmp, 'pd-accum'), path.join(tmp, 'pd'));
    assert.ok(w.rel <= 1e-5, `largest per-tensor relative difference ${w.rel} (${w.name})`);
    // stop after 2 steps and resume: the same trajectory (the draws come from the checkpointed generator)
    const first = train(base('pd-resumed', { patchDropout: 0.5, steps: 4 }));
    const firstLosses: number[] = [];
    first.on('step', (e: StepEvent) => {
      firstLosses.push(e.loss as number);
      if (e.step >= 2) first.cancel();
    });
    await first.done;
    const rest = await run({ out: path.join(tmp, 'pd-resumed'), resume: true, data: manifest, model: 'scratch:tiny', progress: 'quiet' });
    assert.deepEqual([...firstLosses, ...rest], pd);
  });

  it('refuses --patch-dropout outside [0, 1)', async () => {
    for (const p of [1, -0.1]) {
      await assert.rejects(run(base('bad-pd', { patchDropout: p, steps: 1 })), (e: unknown) => {
        assert.ok(isXtError(e) && e.code === 'XT_INVALID', String(e));
        assert.match((e as Error).message, /patchDropout/);
        return true;
      });
    }
  });
});
