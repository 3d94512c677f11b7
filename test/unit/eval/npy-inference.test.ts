import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { encodeNpy, decodeNpy, writeNpy } from '../../../lib/eval/npy';
import { embedImages, embedTexts, classify, preprocessImage, type InferenceModel } from '../../../lib/eval/inference';
import { CLIP_MEAN, CLIP_STD, normalizeLut } from '../../../lib/data/images';
import { setImageBackend } from '../../../lib/image/decode';
import type { Pixels } from '../../../lib/eval/zeroshot';

const LUT0 = normalizeLut()[0]; // grey level → CLIP-normalised channel 0, as the addon computes it
import { repoRoot } from '../../helpers/shared';

const FIX = path.join(repoRoot, 'test', 'fixtures', 'npy');

describe('eval/npy', () => {
  const cases: [string, Float32Array, number[]][] = [
    ['f32_2x3.npy', Float32Array.from([1.5, -2.25, 3.0, 0.1, 1e-8, -7e10]), [2, 3]],
    ['f32_1x512.npy', Float32Array.from({ length: 512 }, (_, i) => Math.fround(i / 7)), [1, 512]],
    ['f32_vec5.npy', Float32Array.from([0, 1, 2, 3, 4]), [5]],
    ['f32_12345x0.npy', new Float32Array(0), [12345, 0]],
  ];
  for (const [file, data, shape] of cases) {
    it(`writes ${file} byte for byte as numpy.save`, () => {
      const want = fs.readFileSync(path.join(FIX, file));
      const got = encodeNpy(data, shape);
      assert.ok(got.equals(want), `header got ${JSON.stringify(got.subarray(0, 128).toString('latin1'))}\nwant ${JSON.stringify(want.subarray(0, 128).toString('latin1'))}`);
      const back = decodeNpy(want);
      assert.deepEqual(back.shape, shape);
      assert.deepEqual(Array.from(back.data), Array.from(data));
    });
  }
  it('rejects a shape that does not fit and unsupported dtypes', () => {
    assert.throws(() => encodeNpy(new Float32Array(5), [2, 3]), (e: Error & { code?: string }) => e.code === 'XT_SHAPE');
    const f64 = Buffer.from(encodeNpy(new Float32Array(2), [2]).toString('latin1').replace("'<f4'", "'<f8'"), 'latin1');
    assert.throws(() => decodeNpy(f64), /float32/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xt-npy-'));
    writeNpy(path.join(dir, 'a.npy'), Float32Array.from([1, 2]), [1, 2]);
    assert.deepEqual(decodeNpy(fs.readFileSync(path.join(dir, 'a.npy'))).shape, [1, 2]);
  });
});

/** Embeds an image as [mean of normalised channel 0, pixel count / 1000, 1]; texts by length. Takes what the
 * inference path hands a model: 8-bit grey [n, S, S]. */
class Fake implements InferenceModel {
  imageSize = 16;
  logitScale = 1;
  batches: number[] = [];
  async encodeImages(px: Pixels, shape: number[]) {
    assert.ok(px instanceof Uint8Array && shape.length === 3 && px.length === shape[0] * shape[1] * shape[2], 'grey [n, S, S]');
    this.batches.push(shape[0]);
    const per = px.length / shape[0];
    const data = new Float32Array(shape[0] * 3);
    for (let i = 0; i < shape[0]; i++) {
      let s = 0;
      for (let k = 0; k < per; k++) s += LUT0[px[i * per + k]];
      data.set([s / per, per / 1000, 1], i * 3);
    }
    return { data, shape: [shape[0], 3] };
  }
  async encodeTexts(texts: string[]) {
    return { data: Float32Array.from(texts.flatMap((t) => [t.length, 1, t.startsWith('no ') ? -2 : 2])), shape: [texts.length, 3] };
  }
}

describe('eval/inference', () => {
  let dir: string;
  let files: string[];
  after(() => setImageBackend('auto'));
  before(async () => {
    setImageBackend('sharp'); // unit tests load no addon
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xt-inf-'));
    files = [];
    for (const level of [0, 128, 255]) {
      const f = path.join(dir, `g${level}.png`);
      await sharp({ create: { width: 20, height: 30, channels: 3, background: { r: level, g: level, b: level } } }).png().toFile(f);
      files.push(f);
    }
  });

  it('preprocesses a grey image to CLIP-normalised [3, S, S]', async () => {
    const t = await preprocessImage(files[1], 16);
    assert.equal(t.length, 3 * 16 * 16);
    for (let c = 0; c < 3; c++) assert.ok(Math.abs(t[c * 256 + 5] - (128 / 255 - CLIP_MEAN[c]) / CLIP_STD[c]) < 1e-5);
    await assert.rejects(preprocessImage(Buffer.from('nope'), 16), (e: Error & { code?: string }) => e.code === 'XT_INVALID');
    await assert.rejects(preprocessImage(path.join(dir, 'missing.png'), 16), (e: Error & { code?: string }) => e.code === 'XT_IO');
  });

  it('embedImages batches, keeps order and normalises rows; buffers and paths alike', async () => {
    const m = new Fake();
    const e = await embedImages(m, [files[0], fs.readFileSync(files[1]), files[2]], { batchSize: 2 });
    assert.deepEqual(m.batches, [2, 1]);
    assert.deepEqual(e.shape, [3, 3]);
    for (let i = 0; i < 3; i++) assert.ok(Math.abs(Math.hypot(e.data[i * 3], e.data[i * 3 + 1], e.data[i * 3 + 2]) - 1) < 1e-6);
    assert.ok(e.data[0] < e.data[3] && e.data[3] < e.data[6]); // brighter → larger first component
    const raw = await embedImages(m, files[2], { normalize: false });
    assert.ok(Math.abs(raw.data[1] - 0.256) < 1e-6); // 16 × 16 grey bytes per image crossed, not 3 × 16 × 16 floats
    assert.ok(Math.abs(raw.data[0] - (1 - CLIP_MEAN[0]) / CLIP_STD[0]) < 1e-5); // white
    await assert.rejects(embedImages(m, []), /no images/);
  });

  it('embedTexts and classify (probabilities per label per image)', async () => {
    const m = new Fake();
    const t = await embedTexts(m, ['edema', 'no edema']);
    assert.deepEqual(t.shape, [2, 3]);
    const r = await classify(m, files, 'Edema,Mass');
    assert.equal(r.length, 3);
    assert.deepEqual(Object.keys(r[0]), ['Edema', 'Mass']);
    for (const o of r) for (const v of Object.values(o)) assert.ok(v > 0 && v < 1);
    await assert.rejects(classify({} as InferenceModel, files, 'Edema'), /expected a loaded model/);
  });
});
