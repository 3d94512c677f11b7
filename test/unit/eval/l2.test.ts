import { strict as assert } from 'assert';
import { l2NormalizeRows } from '../../../lib/eval/l2';
import { embedTexts, type InferenceModel } from '../../../lib/eval/inference';

describe('l2NormalizeRows: the one L2 normalisation', () => {
  it('scales each row to unit norm; zero rows stay zero, or throw where a direction is needed', () => {
    const rows = Float32Array.from([3, 4, 0, 0, 0, 0, -1, 0, 0, 2, 2, 1]);
    const got = Array.from(l2NormalizeRows(rows, 3));
    const want = [0.6, 0.8, 0, 0, 0, 0, -1, 0, 0, 2 / 3, 2 / 3, 1 / 3];
    got.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-7, `[${i}] ${v} vs ${want[i]}`));
    assert.deepEqual(Array.from(l2NormalizeRows(Float32Array.from([0, 0]))), [0, 0]);
    assert.deepEqual(Array.from(l2NormalizeRows(Float32Array.from([NaN, 1]))), [0, 0]);
    assert.throws(() => l2NormalizeRows(Float32Array.from([0, 0]), 2, 'throw'), (e: Error & { code?: string }) => e.code === 'XT_INVALID');
    assert.throws(() => l2NormalizeRows(Float32Array.from([1, 2, 3]), 2), (e: Error & { code?: string }) => e.code === 'XT_SHAPE');
    // big values: the norm is summed in double precision, no float32 overflow
    const big = l2NormalizeRows(Float32Array.from([3e30, 4e30]));
    assert.ok(Math.abs(big[0] - 0.6) < 1e-7 && Math.abs(big[1] - 0.8) < 1e-7);
  });

  it('embedTexts normalises through it', async () => {
    const model: InferenceModel = {
      imageSize: 2,
      encodeImages: async () => ({ data: new Float32Array(0), shape: [0, 2] }),
      encodeTexts: async (t) => ({ data: Float32Array.from(t.flatMap((_, i) => [3 * (i + 1), 4 * (i + 1)])), shape: [t.length, 2] }),
    };
    const e = await embedTexts(model, ['a', 'b']);
    assert.deepEqual(Array.from(e.data), Array.from(l2NormalizeRows(Float32Array.from([3, 4, 6, 8]), 2)));
  });
});
