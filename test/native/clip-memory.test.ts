/**
 * Memory: loading and disposing a model repeatedly must not grow the resident set beyond a small
 * bound (dispose frees the native weights; loading keeps no second copy around). The tiny model
 * holds ~29 MB of fp32 weights, so 25 leaked loads would add ~700 MB.
 */
import * as assert from 'assert';
import { loadModel, ClipModel } from '../../lib/model/clip';
import { requireShared } from '../helpers/shared';

function rssMb(): number {
  return process.memoryUsage().rss / 2 ** 20;
}

describe('CLIP memory (native)', function () {
  this.timeout(300000);

  it('load + dispose repeatedly keeps RSS bounded', async function () {
    const hf = requireShared(this, 'fixtures', 'clip-tiny', 'hf');
    const openai = requireShared(this, 'fixtures', 'clip-tiny', 'openai');
    const px = new Float32Array(2 * 3 * 64 * 64).fill(0.25);
    const cycle = async (i: number): Promise<void> => {
      const m = await loadModel(i % 2 ? hf : openai, { tokenizer: false });
      await m.encodeImages(px, [2, 3, 64, 64]);
      m.dispose();
      const c = await ClipModel.create('tiny', { seed: i });
      c.dispose();
    };
    for (let i = 0; i < 4; i++) await cycle(i); // warm-up: allocator pools, thread pools, code pages
    const before = rssMb();
    let peak = before;
    for (let i = 0; i < 25; i++) {
      await cycle(i);
      peak = Math.max(peak, rssMb());
    }
    const after = rssMb();
    // eslint-disable-next-line no-console
    console.log(`      RSS before ${before.toFixed(0)} MB, after 25 cycles ${after.toFixed(0)} MB, peak ${peak.toFixed(0)} MB`);
    assert.ok(after - before < 60, `RSS grew by ${(after - before).toFixed(0)} MB over 25 load/dispose cycles`);
  });
});
