/**
 * Data-parallel training equivalence (issue 9): 2 Gloo processes at per-rank batch b and 1 process
 * at batch 2b, same seed and data, give the same loss trajectory and the same final weights within
 * fp32 tolerance. Bounded by timeouts; loopback only.
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { generateSynthetic } from '../../lib/data/synth';
import { readSafetensors } from '../../lib/io/safetensors';
import { repoRoot } from '../helpers/shared';

const cli = path.join(repoRoot, 'bin', 'xray-torch.js');

function stepLosses(out: string): number[] {
  return fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n')
    .map((l) => JSON.parse(l)).filter((r) => r.event === 'step').map((r) => r.loss as number);
}

describe('data-parallel training (2 Gloo processes vs 1 process)', function () {
  this.timeout(600000);
  let tmp: string;
  let manifest: string;
  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xt-ddp-'));
    await generateSynthetic({ out: path.join(tmp, 'data'), n: 80, seed: 11, size: 64 });
    manifest = path.join(tmp, 'data', 'manifest.jsonl');
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('gives the same losses and final weights as one process at the global batch', async () => {
    const common = ['train', '--data', manifest, '--model', 'scratch:tiny', '--steps', '4', '--seed', '5', '--lr', '1e-3',
      '--warmup', '1', '--vocab-size', '600', '--context-length', '24', '--no-validate', '--quiet'];
    const env = { ...process.env, XRAY_TORCH_DIST_TIMEOUT: '60' };
    const one = spawnSync(process.execPath, [cli, ...common, '--batch-size', '16', '--out', path.join(tmp, 'one')], { encoding: 'utf8', timeout: 300000, env });
    assert.equal(one.status, 0, one.stderr);
    const two = spawnSync(process.execPath, [cli, ...common, '--batch-size', '8', '--nproc', '2', '--out', path.join(tmp, 'two')], { encoding: 'utf8', timeout: 300000, env });
    assert.equal(two.status, 0, `${two.stdout}\n${two.stderr}`);

    const a = stepLosses(path.join(tmp, 'one'));
    const b = stepLosses(path.join(tmp, 'two'));
    assert.equal(a.length, 4);
    assert.equal(b.length, 4, 'only rank 0 logs, once per step');
    a.forEach((x, i) => assert.ok(Math.abs(x - b[i]) <= 1e-5 * Math.abs(x) + 1e-6, `step ${i + 1}: ${x} vs ${b[i]}`));

    const wa = await readSafetensors(path.join(tmp, 'one', 'model.safetensors'));
    const wb = await readSafetensors(path.join(tmp, 'two', 'model.safetensors'));
    const names = wa.names;
    assert.deepEqual(wb.names.slice().sort(), names.slice().sort());
    let worst = 0;
    for (const n of names) {
      const x = wa.getFloat32(n).data;
      const y = wb.getFloat32(n).data;
      for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]) / (1e-3 + Math.abs(x[i])));
    }
    // Rounding alone moves a few weights by ~1e-3 of (1e-3 + |w|): AdamW divides each gradient by its
    // running RMS, so an element whose gradient is near eps (1e-6) turns rounding noise into update
    // size. Measured: the same 1-process run on 1 vs 2 threads differs by 1.1e-3 (the layer-0 text
    // value bias), the 2-process run from it by 0.4e-3 to 1.4e-3; a real error is orders above.
    assert.ok(worst < 3e-3, `largest relative weight difference ${worst}`);
  });
});
