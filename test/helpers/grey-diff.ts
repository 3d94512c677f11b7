/** Mean and largest absolute difference, in grey levels, of two 8-bit grey images of the same size. */
import { strict as assert } from 'assert';
import type { GreyImage } from '../../lib/data/images';

export function greyDiff(a: GreyImage, b: GreyImage): { mean: number; max: number } {
  assert.deepEqual([a.width, a.height], [b.width, b.height]);
  let s = 0;
  let m = 0;
  for (let i = 0; i < a.data.length; i++) {
    const e = Math.abs(a.data[i] - b.data[i]);
    s += e;
    m = Math.max(m, e);
  }
  return { mean: s / a.data.length, max: m };
}
