/** Small helpers shared by the benchmarks (no `bench` export: bench/run.ts skips this module). */
import { mulberry32 } from '../lib/eval/metrics';

/** Median of a list of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Deterministic pseudo-normal values (already "normalised" CLIP input when used as pixels); Float32Array
 * unless another float array type is given. */
export function pseudoNormal(n: number, seed: number): Float32Array;
export function pseudoNormal<T extends Float32Array | Float64Array>(n: number, seed: number, type: { new (n: number): T }): T;
export function pseudoNormal(n: number, seed: number, type: { new (n: number): Float32Array | Float64Array } = Float32Array): Float32Array | Float64Array {
  const out = new type(n);
  const rnd = mulberry32(seed);
  for (let i = 0; i < n; i++) out[i] = (rnd() + rnd() + rnd() - 1.5) * 2;
  return out;
}
