/**
 * Device selection: `--device auto|cpu|cuda[:N]` (CLI), `device` (API), `XRAY_TORCH_DEVICE` (environment).
 *
 * Precedence: an explicit option, then `XRAY_TORCH_DEVICE`, then `auto`. `auto` picks `cuda:0` when the loaded
 * addon is the CUDA variant and sees a device, else `cpu` (and says why). An explicit `cuda[:N]` that cannot be
 * honoured is an `XT_CUDA` error naming what is missing, never a silent fallback. `XRAY_TORCH_DEVICE=cpu`
 * also makes the loader skip probing the CUDA prebuild (lib/native.ts).
 */
import { native } from '../native';
import { xtError } from '../errors';

export type DeviceSpec = 'auto' | 'cpu' | 'cuda' | `cuda:${number}`;

export interface DeviceChoice {
  /** What the model runs on: `cpu` or `cuda:N`. */
  device: string;
  /** The spec that was resolved (normalised). */
  requested: DeviceSpec;
  /** Where the spec came from. */
  source: 'option' | 'env' | 'default';
  /** Why this device (one line). */
  reason: string;
}

/** What device resolution needs to know about the runtime (from `runtimeInfo()`). */
export interface DeviceRuntime {
  variant: 'cpu' | 'cuda';
  cudaAvailable: boolean;
  cudaDevices: { index: number; name: string }[];
  torchVersion?: string;
}

/** Parse and normalise a device spec; `where` names the option or variable in the error. */
export function parseDeviceSpec(spec: string, where = 'device'): DeviceSpec {
  const s = String(spec).trim().toLowerCase();
  if (s === 'auto' || s === 'cpu' || s === 'cuda') return s;
  const m = /^cuda:(\d{1,3})$/.exec(s);
  if (m) return `cuda:${Number(m[1])}`;
  throw xtError('XT_INVALID', `${where}: expected auto, cpu, cuda or cuda:N (N a device index), got ${JSON.stringify(spec)}`);
}

/** Which spec applies (the option, else XRAY_TORCH_DEVICE, else auto), unparsed, and where it came from. */
export function requestedSpec(spec: string | undefined, env: NodeJS.ProcessEnv = process.env):
  { raw: string; source: DeviceChoice['source']; where: string } {
  if (spec !== undefined && spec !== '') return { raw: spec, source: 'option', where: 'device' };
  const e = env.XRAY_TORCH_DEVICE;
  if (e !== undefined && e !== '') return { raw: e, source: 'env', where: 'XRAY_TORCH_DEVICE' };
  return { raw: 'auto', source: 'default', where: 'device' };
}

/** Resolve a device spec against a runtime description (pure; `resolveDevice` passes the loaded addon's). */
export function chooseDevice(spec: string | undefined, rt: DeviceRuntime, env: NodeJS.ProcessEnv = process.env): DeviceChoice {
  const { raw, source, where } = requestedSpec(spec, env);
  const requested = parseDeviceSpec(raw, where);
  const n = rt.cudaAvailable ? rt.cudaDevices.length : 0;
  const from = source === 'env' ? ' (XRAY_TORCH_DEVICE)' : source === 'default' ? ' (default)' : '';
  if (requested === 'cpu') return { device: 'cpu', requested, source, reason: `cpu requested${from}` };
  if (requested === 'auto') {
    if (rt.variant === 'cuda' && n > 0) {
      const d = rt.cudaDevices[0];
      return { device: 'cuda:0', requested, source, reason: `auto${from}: CUDA variant with ${n} device(s); using cuda:0 (${d.name})` };
    }
    const why = rt.variant !== 'cuda'
      ? `the loaded addon is the CPU variant${rt.torchVersion ? ` (LibTorch ${rt.torchVersion})` : ''}`
      : 'the CUDA variant is loaded but sees no CUDA device (driver missing or CUDA_VISIBLE_DEVICES empty)';
    return { device: 'cpu', requested, source, reason: `auto${from}: ${why}; using cpu` };
  }
  const index = requested === 'cuda' ? 0 : Number(requested.slice(5));
  if (rt.variant !== 'cuda') {
    throw xtError('XT_CUDA', `${where} ${requested}: the loaded addon is the CPU variant${rt.torchVersion ? ` (LibTorch ${rt.torchVersion})` : ''}. ` +
      'On a GPU node install or build the CUDA variant (`npm run prebuild -- --cuda`, see the README "GPU nodes"), or use --device cpu or auto');
  }
  if (n === 0) {
    throw xtError('XT_CUDA', `${where} ${requested}: the CUDA variant sees no CUDA device (check the NVIDIA driver with nvidia-smi and CUDA_VISIBLE_DEVICES), or use --device cpu or auto`);
  }
  if (index >= n) {
    throw xtError('XT_CUDA', `${where} ${requested}: only ${n} CUDA device(s) visible (cuda:0${n > 1 ? `..cuda:${n - 1}` : ''})`);
  }
  return { device: `cuda:${index}`, requested, source, reason: `${requested} requested${from}: ${rt.cudaDevices[index].name}` };
}

/** Resolve a device spec against the loaded addon (loads it on first use). */
export function resolveDevice(spec?: string): DeviceChoice {
  const i = native().runtimeInfo();
  return chooseDevice(spec, { variant: i.variant, cudaAvailable: i.cudaAvailable, cudaDevices: i.cudaDevices, torchVersion: i.torchVersion });
}
