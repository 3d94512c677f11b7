import { strict as assert } from 'assert';
import * as zlib from 'zlib';
import sharp from 'sharp';
import { crc32, encodeGreyPng, encodeGreyPngSync } from '../../../lib/data/png';
import { Rng } from '../../../lib/data/rng';

describe('data/png (grey encoder)', () => {
  it('CRC-32 matches the reference values', () => {
    assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
    assert.equal(crc32(Buffer.from('IEND')), 0xae426082);
    const z = zlib as unknown as { crc32?: (b: Uint8Array) => number };
    if (z.crc32) assert.equal(crc32(Buffer.from('chest x-ray')), z.crc32(Buffer.from('chest x-ray')));
  });

  it('round-trips through sharp/libpng exactly (odd sizes, gradients and noise), as colour type 0', async () => {
    const rng = new Rng(9);
    for (const [w, h] of [
      [1, 1],
      [7, 3],
      [64, 64],
      [131, 97],
    ]) {
      const px = new Uint8Array(w * h);
      for (let i = 0; i < px.length; i++) px[i] = ((i % w) * 3 + Math.floor(i / w) * 5 + rng.int(40)) & 255;
      for (const png of [await encodeGreyPng(px, w, h), encodeGreyPngSync(px, w, h, 1)]) {
        assert.equal(png[25], 0, 'colour type grey');
        const { data, info } = await sharp(png).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
        assert.deepEqual([info.width, info.height, info.channels], [w, h, 1]);
        assert.ok(Buffer.from(px).equals(data), `${w}x${h}`);
      }
    }
  });
});
