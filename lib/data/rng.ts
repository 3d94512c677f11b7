/**
 * Seeded pseudo-random numbers (no Math.random anywhere in the data pipeline):
 * SplitMix32-style hashing to derive independent streams and a small fast generator (sfc32).
 */

/** 32-bit integer hash (lowbias32 by Chris Wellons): good avalanche, cheap. */
export function hash32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  x = (x ^ (x >>> 16)) >>> 0;
  return x;
}

/** Mix any number of integers (seed, epoch, index, …) into one 32-bit value. */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    // fold in 53-bit integers in two halves so large seeds still differ
    const lo = p >>> 0;
    const hi = Math.floor(p / 4294967296) >>> 0;
    h = hash32((h ^ lo) + 0x6a09e667);
    h = hash32((h ^ hi) + 0xbb67ae85);
  }
  return h >>> 0;
}

/** FNV-1a over a string's UTF-16 code units, then hashed: for per-id seeds (split by patient id). */
export function hashString(s: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return hash32(h);
}

/** sfc32: a small, fast, statistically good 32-bit generator (state in a typed array: no number boxing). */
export class Rng {
  private readonly s = new Uint32Array(4);

  constructor(...seed: number[]) {
    const m = mixSeed(...(seed.length ? seed : [0]));
    this.s[0] = hash32(m ^ 0x243f6a88);
    this.s[1] = hash32(m ^ 0x85a308d3);
    this.s[2] = hash32(m ^ 0x13198a2e);
    this.s[3] = 1;
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** Uniform 32-bit unsigned integer. */
  u32(): number {
    const s = this.s;
    const a = s[0] | 0;
    const b = s[1] | 0;
    const c = s[2] | 0;
    const d = s[3] | 0;
    const t = (((a + b) | 0) + d) | 0;
    s[3] = d + 1;
    s[0] = b ^ (b >>> 9);
    s[1] = (c + (c << 3)) | 0;
    const c2 = (c << 21) | (c >>> 11);
    s[2] = (c2 + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    let u = this.next();
    while (u <= 1e-12) u = this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** One element of a non-empty array. */
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
}

/** The permutation of 0..n-1 for (seed, epoch): Fisher–Yates over a Uint32Array (4 bytes per record). */
export function permutation(n: number, seed: number, epoch = 0): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  const rng = new Rng(seed, epoch, 0x5eed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}
