/** Deterministic inputs shared by test/native/dist.test.ts and the worker it launches. */

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function uniform(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() * 2 - 1) * scale;
  return out;
}

/** The contrastive step: a global batch of GLOBAL rows, split into contiguous blocks per rank. */
export const STEP = { global: 8, inDim: 6, outDim: 4, logitScale: 2.5 };

export function stepBatch(): { x: Float32Array; t: Float32Array; wi: Float32Array; wt: Float32Array } {
  const { global, inDim, outDim } = STEP;
  return {
    x: uniform(global * inDim, 11),
    t: uniform(global * inDim, 12),
    wi: uniform(inDim * outDim, 13, 0.5),
    wt: uniform(inDim * outDim, 14, 0.5),
  };
}

/** Rows [rank*b, (rank+1)*b) of a row-major [global, inDim] matrix. */
export function rowsOf(m: Float32Array, rank: number, world: number, cols: number): Float32Array {
  const b = m.length / cols / world;
  return m.slice(rank * b * cols, (rank + 1) * b * cols);
}

/** The gradient reducer check: parameter shapes, and rank r's gradient of every parameter. */
export const REDUCER_SHAPES: number[][] = [[3], [4, 5], [7], [2, 2], [6], [1]];

export function reducerCoeffs(rank: number): Float32Array {
  const n = REDUCER_SHAPES.reduce((s, sh) => s + sh.reduce((a, b) => a * b, 1), 0);
  return uniform(n, 100 + rank, 4);
}

/**
 * Which parameters get no gradient on a rank: parameter 3 on rank 0 only; parameter 0 nowhere.
 * With firstBucketBytes 16 and bucketBytes 48 (float32) the buckets are, in order:
 * [p5], [p4, p3], [p2], [p1], [p0].
 */
export function reducerUnused(rank: number): number[] {
  return rank === 0 ? [0, 3] : [0];
}

export const REDUCER_BUCKETS = { firstBucketBytes: 16, bucketBytes: 48, count: 5 };
