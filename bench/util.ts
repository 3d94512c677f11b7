/** Small helpers shared by the benchmarks (no `bench` export: bench/run.ts skips this module). */

/** Median of a list of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A seeded uniform generator in [0, 1) (mulberry32). */
export function uniform(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Deterministic pseudo-normal values (already "normalised" CLIP input when used as pixels). */
export function pseudoNormal(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  const rnd = uniform(seed);
  for (let i = 0; i < n; i++) out[i] = (rnd() + rnd() + rnd() - 1.5) * 2;
  return out;
}
