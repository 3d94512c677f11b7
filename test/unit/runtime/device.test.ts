/** Device selection rules (pure: fake runtime descriptions, no addon). */
import { strict as assert } from 'assert';
import { chooseDevice, parseDeviceSpec, type DeviceRuntime } from '../../../lib/runtime/device';

const CPU: DeviceRuntime = { variant: 'cpu', cudaAvailable: false, cudaDevices: [], torchVersion: '1.13.1' };
const GPU2: DeviceRuntime = {
  variant: 'cuda', cudaAvailable: true, torchVersion: '2.11.0',
  cudaDevices: [{ index: 0, name: 'NVIDIA H100' }, { index: 1, name: 'NVIDIA H200' }],
};
const NODRIVER: DeviceRuntime = { variant: 'cuda', cudaAvailable: false, cudaDevices: [] };
const code = (c: string) => (e: Error & { code?: string }) => e.code === c;

describe('device selection', () => {
  it('normalises specs and rejects anything else, naming the option', () => {
    assert.equal(parseDeviceSpec(' CUDA:01 '), 'cuda:1');
    assert.equal(parseDeviceSpec('Auto'), 'auto');
    for (const bad of ['gpu', 'cuda:', 'cuda:-1', 'cuda:x', 'mps', '']) {
      assert.throws(() => parseDeviceSpec(bad, '--device'), (e: Error & { code?: string }) => e.code === 'XT_INVALID' && e.message.startsWith('--device:'));
    }
  });

  it('auto: the first GPU with the CUDA variant, else the CPU with the reason', () => {
    const g = chooseDevice(undefined, GPU2, {});
    assert.deepEqual([g.device, g.requested, g.source], ['cuda:0', 'auto', 'default']);
    assert.match(g.reason, /2 device\(s\).*NVIDIA H100/);
    const c = chooseDevice('auto', CPU, {});
    assert.deepEqual([c.device, c.source], ['cpu', 'option']);
    assert.match(c.reason, /CPU variant \(LibTorch 1\.13\.1\)/);
    const n = chooseDevice('auto', NODRIVER, {});
    assert.equal(n.device, 'cpu');
    assert.match(n.reason, /sees no CUDA device/);
  });

  it('explicit cuda[:N] is honoured or fails with XT_CUDA, never a silent fallback', () => {
    assert.equal(chooseDevice('cuda', GPU2, {}).device, 'cuda:0');
    const one = chooseDevice('cuda:1', GPU2, {});
    assert.equal(one.device, 'cuda:1');
    assert.match(one.reason, /H200/);
    assert.throws(() => chooseDevice('cuda:2', GPU2, {}), (e: Error & { code?: string }) => e.code === 'XT_CUDA' && /only 2 CUDA device/.test(e.message));
    assert.throws(() => chooseDevice('cuda', CPU, {}), (e: Error & { code?: string }) => e.code === 'XT_CUDA' && /CPU variant/.test(e.message) && /prebuild -- --cuda/.test(e.message));
    assert.throws(() => chooseDevice('cuda:0', NODRIVER, {}), code('XT_CUDA'));
    assert.equal(chooseDevice('cpu', GPU2, {}).device, 'cpu');
  });

  it('XRAY_TORCH_DEVICE applies when no option is given; the option wins over it', () => {
    const e = chooseDevice(undefined, GPU2, { XRAY_TORCH_DEVICE: 'cpu' });
    assert.deepEqual([e.device, e.source], ['cpu', 'env']);
    assert.match(e.reason, /XRAY_TORCH_DEVICE/);
    assert.equal(chooseDevice('cuda:1', GPU2, { XRAY_TORCH_DEVICE: 'cpu' }).device, 'cuda:1');
    assert.throws(() => chooseDevice(undefined, CPU, { XRAY_TORCH_DEVICE: 'tpu' }),
      (x: Error & { code?: string }) => x.code === 'XT_INVALID' && x.message.startsWith('XRAY_TORCH_DEVICE:'));
  });
});
