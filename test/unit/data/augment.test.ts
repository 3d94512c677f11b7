import { strict as assert } from 'assert';
import { applyAugment, identityAugment, sampleAugment } from '../../../lib/data/augment';
import { Rng } from '../../../lib/data/rng';
import type { GreyImage } from '../../../lib/data/images';

function pattern(w: number, h: number): GreyImage {
  const data = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[y * w + x] = (x * 7 + y * 13) % 256;
  return { width: w, height: h, data };
}

describe('data/augment', () => {
  it('the identity parameters reproduce the source exactly (8-bit grey in, 8-bit grey out)', () => {
    const src = pattern(16, 16);
    const out = applyAugment(src, identityAugment(16, 16), 16);
    assert.ok(out instanceof Uint8Array);
    assert.deepEqual(Array.from(out), Array.from(src.data));
  });

  it('a 90° rotation of the whole image moves pixels where expected', () => {
    const src = pattern(8, 8);
    const p = { ...identityAugment(8, 8), angle: Math.PI / 2 };
    const out = applyAugment(src, p, 8);
    // output (u, v) samples source (cx + dy, cy - dx): for 90° that is source (x = v, y = 7 - u)
    for (let v = 0; v < 8; v++)
      for (let u = 0; u < 8; u++) assert.equal(out[v * 8 + u], src.data[(7 - u) * 8 + v], `${u},${v}`);
  });

  it('draws crops with area 0.8–1.0 and aspect 3/4–4/3 inside the source, rotations ≤ 10°, jitter ≤ 0.2', () => {
    const rng = new Rng(1);
    for (let i = 0; i < 500; i++) {
      const p = sampleAugment(rng, 120, 100);
      const area = (p.cw * p.ch) / (120 * 100);
      assert.ok(area >= 0.8 - 1e-9 && area <= 1 + 1e-9, `area ${area}`);
      assert.ok(p.cw / p.ch >= 0.75 - 1e-9 && p.cw / p.ch <= 4 / 3 + 1e-9);
      assert.ok(p.cx - p.cw / 2 >= -1e-9 && p.cx + p.cw / 2 <= 120 + 1e-9);
      assert.ok(p.cy - p.ch / 2 >= -1e-9 && p.cy + p.ch / 2 <= 100 + 1e-9);
      assert.ok(Math.abs(p.angle) <= (10 * Math.PI) / 180);
      assert.ok(Math.abs(p.brightness - 1) <= 0.2 && Math.abs(p.contrast - 1) <= 0.2);
    }
  });

  it('is deterministic per seed and differs between seeds', () => {
    const src = pattern(40, 30);
    const run = (seed: number) => applyAugment(src, sampleAugment(new Rng(seed, 3, 7), 40, 30), 24);
    assert.deepEqual(Array.from(run(5)), Array.from(run(5)));
    assert.notDeepEqual(Array.from(run(5)), Array.from(run(6)));
  });

  it('brightness scales and contrast stretches about the mean, clamped to [0, 255] and rounded to 8 bits', () => {
    const src: GreyImage = { width: 2, height: 2, data: Uint8Array.from([51, 153, 51, 153]) }; // 0.2, 0.6
    const b = applyAugment(src, { ...identityAugment(2, 2), brightness: 1.2 }, 2);
    assert.deepEqual(Array.from(b), [61, 184, 61, 184]); // 0.24 · 255 = 61.2, 0.72 · 255 = 183.6
    const c = applyAugment(src, { ...identityAugment(2, 2), contrast: 3 }, 2);
    // mean 0.4: 0.4 + 3·(−0.2) = −0.2 → 0; 0.4 + 3·0.2 = 1.0 → 255
    assert.deepEqual(Array.from(c), [0, 255, 0, 255]);
    const d = applyAugment(src, { ...identityAugment(2, 2), contrast: 0.9 }, 2);
    // 0.4 + 0.9·(−0.2) = 0.22 → 56.1; 0.4 + 0.9·0.2 = 0.58 → 147.9: rounded to the nearest level
    assert.deepEqual(Array.from(d), [56, 148, 56, 148]);
  });
});
