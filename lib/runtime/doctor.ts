/** What `xray-torch doctor` reports: the LibTorch build, CUDA, BLAS speed, threads, addon. */
import * as fs from 'fs';
import { loadAddon } from '../native';
import { chooseDevice, requestedSpec, type DeviceChoice } from './device';

export interface DoctorReport {
  torchVersion: string;
  torchSource: string;
  torchLibrary: string | null;
  cuda: { available: boolean; devices: { index: number; name: string; totalMemory: number; capability: string }[] };
  blas: { library: string | null; name: string; advice?: string };
  matmulGflops: number;
  threads: number;
  interopThreads: number;
  parallelBackend: string;
  addon: { path: string; variant: 'cpu' | 'cuda'; reason: string; modules: string[] };
  /** The device models would run on with this spec (`--device`, else XRAY_TORCH_DEVICE, else auto), and why;
   * `error` instead when that spec cannot be honoured here. */
  device: DeviceChoice | { requested: string; error: string };
  node: string;
  platform: string;
}

/** Shared libraries mapped into this process whose file name matches `re` (resolved through links). */
export function mappedLibraries(re: RegExp): string[] {
  let maps: string;
  try {
    maps = fs.readFileSync('/proc/self/maps', 'utf8');
  } catch {
    return [];
  }
  const seen = new Set<string>();
  for (const line of maps.split('\n')) {
    const p = line.slice(line.indexOf('/'));
    if (line.includes('/') && re.test(p)) seen.add(p.trim());
  }
  return [...seen];
}

function realpath(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}

/** Which BLAS LibTorch resolved at load time (Debian switches it through alternatives). */
export function detectBlas(): { library: string | null; name: string } {
  const libs = mappedLibraries(/lib(open)?blas[^/]*\.so|libmkl_rt|libblis/);
  if (!libs.length) return { library: null, name: 'unknown (no BLAS library mapped)' };
  const real = libs.map(realpath);
  const pick = real.find((r) => /openblas|mkl|blis/.test(r)) ?? real[0];
  let name = 'reference BLAS (slow: install libopenblas0-openmp)';
  if (/openblas/.test(pick)) name = /openmp/.test(pick) ? 'OpenBLAS (OpenMP)' : /pthread/.test(pick) ? 'OpenBLAS (pthreads)' : 'OpenBLAS';
  else if (/mkl/.test(pick)) name = 'Intel MKL';
  else if (/blis/.test(pick)) name = 'BLIS';
  return { library: pick, name };
}

/**
 * What to change when the BLAS and LibTorch use different thread pools: a pthreads OpenBLAS under
 * an OpenMP LibTorch keeps its own threads spinning beside LibTorch's, and GEMMs issued between
 * parallel regions lose their multi-thread speed-up. Debian: the libopenblas.so.0 alternative.
 */
export function blasAdvice(blasName: string, parallelBackend: string, library: string | null): string | undefined {
  if (!/pthreads/.test(blasName) || !/openmp/i.test(parallelBackend)) return undefined;
  const dir = library && /\/openblas-pthread\//.test(library) ? library.slice(0, library.indexOf('/openblas-pthread/')) : '/usr/lib/x86_64-linux-gnu';
  const multiarch = dir.split('/').pop() ?? 'x86_64-linux-gnu';
  return (
    `LibTorch is OpenMP-parallel but runs the pthreads OpenBLAS: the two thread pools compete (slower, erratic matmuls). ` +
    `Select the OpenMP build: sudo update-alternatives --set libopenblas.so.0-${multiarch} ${dir}/openblas-openmp/libopenblas.so.0 ` +
    `(scripts/setup does this)`
  );
}

export async function doctor(opts: { matmulSize?: number; matmulIters?: number; device?: string } = {}): Promise<DoctorReport> {
  const loadedAddon = loadAddon();
  const a = loadedAddon.addon;
  const info = a.runtimeInfo();
  const bench = await a.benchMatmul(opts.matmulSize ?? 1024, opts.matmulIters ?? 20);
  const backend = /ATen parallel backend: (.*)/.exec(info.parallelInfo)?.[1]?.trim() ?? 'unknown';
  let device: DoctorReport['device'];
  try {
    device = chooseDevice(opts.device, info);
  } catch (e) {
    device = { requested: requestedSpec(opts.device).raw, error: (e as Error).message };
  }
  const detected = detectBlas();
  const advice = blasAdvice(detected.name, backend, detected.library);
  const blas = advice ? { ...detected, advice } : detected;
  const torchLib = mappedLibraries(/libtorch_cpu\.so|libtorch\.so/).map(realpath)[0] ?? null;
  return {
    torchVersion: info.torchVersion,
    torchSource: info.torchSource,
    torchLibrary: torchLib,
    cuda: { available: info.cudaAvailable, devices: info.cudaDevices },
    blas,
    matmulGflops: Math.round(bench.gflops * 10) / 10,
    threads: info.intraOpThreads,
    interopThreads: info.interopThreads,
    parallelBackend: backend,
    addon: { path: loadedAddon.path, variant: info.variant, reason: loadedAddon.reason, modules: a.modules },
    device,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

export function formatDoctor(r: DoctorReport): string {
  const gpu = r.cuda.available
    ? r.cuda.devices.map((d) => `cuda:${d.index} ${d.name} (${(d.totalMemory / 2 ** 30).toFixed(1)} GiB, sm_${d.capability.replace('.', '')})`).join('; ')
    : 'not available';
  const rows: [string, string][] = [
    ['LibTorch', `${r.torchVersion} (${r.torchSource})`],
    ['library', r.torchLibrary ?? 'unknown'],
    ['CUDA', gpu],
    ['BLAS', `${r.blas.name}${r.blas.library ? ` — ${r.blas.library}` : ''}` + (r.blas.advice ? `\n  ← ${r.blas.advice}` : '')],
    ['fp32 matmul', `${r.matmulGflops} GFLOP/s (1024², ${r.threads} threads)` + (r.matmulGflops < 50 ? '  ← slow: is OpenBLAS installed?' : '')],
    ['threads', `intra-op ${r.threads}, inter-op ${r.interopThreads} (${r.parallelBackend})`],
    ['addon', `${r.addon.variant} — ${r.addon.path}`],
    ['chosen because', r.addon.reason],
    ['device', 'error' in r.device ? `${r.device.requested}: ${r.device.error}` : `${r.device.device} — ${r.device.reason}`],
    ['native modules', r.addon.modules.join(', ')],
    ['Node', `${r.node} ${r.platform}`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}
