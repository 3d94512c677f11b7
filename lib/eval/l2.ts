/** L2 normalisation of embeddings: the one implementation (zero-shot scoring, `embed`, the HTTP server). */
import { xtError } from '../errors';

/**
 * Each row of `data` ([rows, width], row-major) scaled to unit L2 norm, as a new Float32Array (the norm is
 * summed in double precision). A row of zero or non-finite norm becomes zeros (`onZero: 'zero'`, the
 * default) or throws XT_INVALID (`'throw'`: where a direction is required, as zero-shot scoring needs).
 */
export function l2NormalizeRows(data: Float32Array, width: number = data.length, onZero: 'zero' | 'throw' = 'zero'): Float32Array {
  if (!Number.isInteger(width) || width < 1 || data.length % width !== 0) {
    throw xtError('XT_SHAPE', `l2NormalizeRows: ${data.length} values are not rows of width ${width}`);
  }
  const out = new Float32Array(data.length);
  for (let o = 0; o < data.length; o += width) {
    let s = 0;
    for (let k = o; k < o + width; k++) s += data[k] * data[k];
    const n = Math.sqrt(s);
    if (!(n > 0) || !Number.isFinite(n)) {
      if (onZero === 'throw') throw xtError('XT_INVALID', 'embedding has zero or non-finite norm');
      continue; // stays zero
    }
    for (let k = o; k < o + width; k++) out[k] = data[k] / n;
  }
  return out;
}
