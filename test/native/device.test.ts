/** `--device` / `XRAY_TORCH_DEVICE` / `device` through the real CLI and API on this machine's addon. */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as path from 'path';
import { native } from '../../lib/native';
import { ClipModel } from '../../lib/model/clip';
import { train } from '../../lib/train/trainer';
import { repoRoot } from '../helpers/shared';

const cli = path.join(repoRoot, 'bin', 'xray-torch.js');
const env = (extra: Record<string, string> = {}) => {
  const e: NodeJS.ProcessEnv = { ...process.env, ...extra };
  if (!('XRAY_TORCH_DEVICE' in extra)) delete e.XRAY_TORCH_DEVICE;
  return e;
};
const run = (args: string[], extra: Record<string, string> = {}) =>
  spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: env(extra), timeout: 120000 });

describe('device selection (CLI and API)', function () {
  this.timeout(120000);
  const cpuVariant = () => native().runtimeInfo().variant === 'cpu';

  it('doctor shows the chosen device and why, from the default, the option and the environment', () => {
    const d = JSON.parse(run(['doctor', '--json']).stdout);
    const gpu = d.cuda.available && d.addon.variant === 'cuda';
    assert.equal(d.device.requested, 'auto');
    assert.equal(d.device.source, 'default');
    assert.equal(d.device.device, gpu ? 'cuda:0' : 'cpu');
    assert.match(d.device.reason, /^auto \(default\): /);
    const e = JSON.parse(run(['doctor', '--json'], { XRAY_TORCH_DEVICE: 'cpu' }).stdout);
    assert.deepEqual([e.device.device, e.device.source], ['cpu', 'env']);
    const o = JSON.parse(run(['doctor', '--json', '--device', 'cpu']).stdout);
    assert.deepEqual([o.device.device, o.device.source], ['cpu', 'option']);
    const text = run(['doctor']).stdout;
    assert.match(text, /^device +(cpu|cuda:0) — auto \(default\): /m);
  });

  it('TF32 is a runtime switch reported by runtimeInfo (a no-op for the CPU variant\'s math)', () => {
    const a = native();
    a.setTf32(true);
    assert.equal(a.runtimeInfo().tf32, true);
    a.setTf32(false);
    assert.equal(a.runtimeInfo().tf32, false);
    assert.throws(() => (a.setTf32 as (x: unknown) => void)('yes'), (e: Error & { code?: string }) => e.code === 'XT_INVALID');
  });

  it('a bad --device fails before any work with XT_INVALID naming the flag, on every command', () => {
    for (const cmd of [['doctor'], ['train', '--data', 'x', '--out', 'y'], ['classify', 'a.png', '--model', 'm'], ['synth', '--out', 'z']]) {
      const r = run([...cmd, '--device', 'gpu0']);
      assert.equal(r.status, 1, `${cmd[0]}: ${r.stderr}`);
      assert.match(r.stderr, /--device: expected auto, cpu, cuda or cuda:N .*\[XT_INVALID\]/, cmd[0]);
    }
  });

  it('an explicit CUDA device on the CPU variant is a clear XT_CUDA error (CLI and API), not a fallback', async function () {
    if (!cpuVariant()) this.skip();
    const r = run(['train', '--data', path.join(repoRoot, 'no-such-manifest.jsonl'), '--model', 'scratch:tiny', '--out', path.join(repoRoot, 'no-such-out'), '--device', 'cuda:0']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /cuda:0: the loaded addon is the CPU variant.*\[XT_CUDA\]/);
    await assert.rejects(ClipModel.create('tiny', { seed: 1, device: 'cuda' }), (e: Error & { code?: string }) => e.code === 'XT_CUDA');
    const h = train({ data: path.join(repoRoot, 'no-such-manifest.jsonl'), model: 'scratch:tiny', out: path.join(repoRoot, 'no-such-out'), device: 'cuda:1', progress: 'quiet' });
    await assert.rejects(h.done, (e: Error & { code?: string }) => e.code === 'XT_CUDA');
    // auto and cpu give a working CPU model
    const m = await ClipModel.create('tiny', { seed: 1, device: 'auto' });
    assert.equal(m.device, 'cpu');
    m.dispose();
  });
});
