import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
// the sharp path (lib/data: no addon); test/native/image-decode.test.ts and image-parity.test.ts hold the
// native decoder and the per-file rule of lib/image against it
import {
  CLIP_MEAN,
  CLIP_STD,
  decodeGreySharp as decodeGrey,
  decodeGreyBufferSharp as decodeGreyBuffer,
  greyToCHW,
} from '../../../lib/data/images';
import { loadImageBatch, loadImageTensor } from '../../../lib/image/batch';
import { setImageBackend } from '../../../lib/image/decode';
import { requireShared } from '../../helpers/shared';

const isCode = (code: string, re: RegExp) => (e: Error & { code?: string }) => e.code === code && re.test(e.message);

async function grey16(w: number, h: number, f: (x: number, y: number) => number, fmt: 'png' | 'tiff'): Promise<Buffer> {
  const px = new Uint16Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px[y * w + x] = f(x, y);
  const p = sharp(px, { raw: { width: w, height: h, channels: 1 } }).toColourspace('grey16');
  return fmt === 'png' ? p.png().toBuffer() : p.tiff({ compression: 'none' }).toBuffer();
}

describe('data/images', () => {
  let dir: string;
  // loadImageTensor / loadImageBatch (lib/image) are pinned to sharp here: no addon in unit tests
  before(() => {
    setImageBackend('sharp');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xt-img-'));
  });
  after(() => {
    setImageBackend('auto');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('decodes the real 512² PNG and its JPEG re-encoding to nearly the same grey image', async function () {
    const png = requireShared(this, 'data', 'images', 'nih-00000001_000.png');
    const jpg = requireShared(this, 'data', 'images', 'nih-00000001_000.jpg');
    const full = await decodeGrey(png, { mode: 'none' });
    assert.equal(full.width, 512);
    assert.equal(full.height, 512);
    const a = await decodeGrey(png, { size: 224 });
    const b = await decodeGrey(jpg, { size: 224 });
    assert.equal(a.data.length, 224 * 224);
    let diff = 0;
    for (let i = 0; i < a.data.length; i++) diff += Math.abs(a.data[i] - b.data[i]);
    assert.ok(diff / a.data.length < 3, `mean abs diff ${diff / a.data.length}`);
    // resize preserves the mean brightness
    const mean = (d: Uint8Array) => d.reduce((s, v) => s + v, 0) / d.length;
    assert.ok(Math.abs(mean(a.data) - mean(full.data)) < 1.5);
  });

  it('crop = shorter side + centre crop; pad = longer side + black bars; shorter keeps the aspect', async () => {
    // 200×100: left quarter black, the rest 200
    const w = 200;
    const h = 100;
    const raw = Buffer.alloc(w * h, 200);
    for (let y = 0; y < h; y++) raw.fill(0, y * w, y * w + 50);
    const f = path.join(dir, 'wide.png');
    await sharp(raw, { raw: { width: w, height: h, channels: 1 } }).png().toFile(f);

    const crop = await decodeGrey(f, { size: 50, mode: 'crop', kernel: 'nearest' });
    assert.deepEqual([crop.width, crop.height], [50, 50]);
    // the centre 100×100 is x = 50..149: all 200
    assert.ok(crop.data.every((v) => v === 200));

    const pad = await decodeGrey(f, { size: 50, mode: 'pad', kernel: 'nearest' });
    assert.deepEqual([pad.width, pad.height], [50, 50]);
    const row = (y: number) => Array.from(pad.data.subarray(y * 50, (y + 1) * 50));
    assert.ok(row(0).every((v) => v === 0) && row(11).every((v) => v === 0) && row(49).every((v) => v === 0), 'black bars');
    assert.deepEqual(row(25).slice(0, 12), new Array(12).fill(0));
    assert.deepEqual(row(25).slice(13), new Array(37).fill(200));

    const sh = await decodeGrey(f, { size: 50, mode: 'shorter' });
    assert.deepEqual([sh.width, sh.height], [100, 50]);
  });

  it('16-bit PNG and TIFF keep full precision through the resize (min–max to 8 bits afterwards)', async () => {
    // a 12-bit ramp 1000..1255 along x: an 8-bit-first decoder would see only 2 levels (3, 4)
    for (const fmt of ['png', 'tiff'] as const) {
      const buf = await grey16(256, 8, (x) => 1000 + x, fmt);
      const g = await decodeGreyBuffer(buf, { mode: 'none' }, `ramp.${fmt}`);
      assert.deepEqual(Array.from(g.data.subarray(0, 256)), Array.from({ length: 256 }, (_, i) => i), fmt);
      const small = await decodeGreyBuffer(buf, { size: 8, mode: 'shorter', kernel: 'linear' }, `ramp.${fmt}`);
      assert.equal(small.width, 256);
      const levels = new Set(small.data);
      assert.ok(levels.size > 200, `${fmt}: ${levels.size} levels`);
    }
    // pad: the black border does not take part in the min–max; content spans 0..255
    const wide = await grey16(64, 32, (x) => 3000 + x * 10, 'png');
    const p = await decodeGreyBuffer(wide, { size: 32, mode: 'pad' }, 'wide16.png');
    assert.deepEqual([p.width, p.height], [32, 32]);
    const content = p.data.subarray(8 * 32, 24 * 32);
    assert.equal(Math.min(...content), 0);
    assert.equal(Math.max(...content), 255);
    assert.ok(p.data.subarray(0, 8 * 32).every((v) => v === 0));
  });

  it('colour and alpha inputs become one grey channel', async () => {
    const rgba = await sharp({ create: { width: 10, height: 6, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 0.5 } } }).png().toBuffer();
    const g = await decodeGreyBuffer(rgba, { mode: 'none' }, 'rgba.png');
    assert.equal(g.data.length, 60);
    const rgb = await sharp({ create: { width: 10, height: 6, channels: 3, background: { r: 0, g: 255, b: 0 } } }).jpeg().toBuffer();
    const j = await decodeGreyBuffer(rgb, { size: 4 }, 'rgb.jpg');
    assert.equal(j.data.length, 16);
    assert.ok(j.data[0] > 100, `green is bright in luminance: ${j.data[0]}`);
  });

  it('CLIP normalisation into 3 identical-source channels, CHW and NCHW', async function () {
    const img = { width: 2, height: 1, data: Uint8Array.from([0, 255]) };
    const t = greyToCHW(img);
    const want: number[] = [];
    for (let c = 0; c < 3; c++) for (const v of [0, 255]) want.push((v / 255 - CLIP_MEAN[c]) / CLIP_STD[c]);
    assert.deepEqual(Array.from(t), Array.from(Float32Array.from(want)));

    const png = requireShared(this, 'data', 'images', 'nih-00000001_000.png');
    const jpg = requireShared(this, 'data', 'images', 'nih-00000001_000.jpg');
    const one = await loadImageTensor(png, { size: 32 });
    assert.equal(one.length, 3 * 32 * 32);
    const g = await decodeGrey(png, { size: 32 });
    assert.equal(one[5], Math.fround((g.data[5] / 255 - CLIP_MEAN[0]) / CLIP_STD[0]));
    assert.equal(one[2 * 1024 + 5], Math.fround((g.data[5] / 255 - CLIP_MEAN[2]) / CLIP_STD[2]));
    const batch = await loadImageBatch([jpg, png], { size: 32 });
    assert.equal(batch.length, 2 * 3 * 1024);
    assert.deepEqual(Array.from(batch.subarray(3 * 1024)), Array.from(one));
  });

  it('missing, empty, truncated and non-image files fail with a coded error naming the file', async function () {
    const png = requireShared(this, 'data', 'images', 'nih-00000001_000.png');
    const jpg = requireShared(this, 'data', 'images', 'nih-00000001_000.jpg');
    const missing = path.join(dir, 'nope.png');
    await assert.rejects(decodeGrey(missing, { size: 8 }), isCode('XT_IO', new RegExp(`^${missing}: missing image file`)));
    const empty = path.join(dir, 'empty.jpg');
    fs.writeFileSync(empty, '');
    await assert.rejects(decodeGrey(empty, { size: 8 }), isCode('XT_INVALID', /empty\.jpg: cannot decode image: empty file/));
    for (const [src, name] of [
      [jpg, 'cut.jpg'],
      [png, 'cut.png'],
    ]) {
      const b = fs.readFileSync(src);
      const f = path.join(dir, name);
      fs.writeFileSync(f, b.subarray(0, Math.floor(b.length / 2)));
      await assert.rejects(decodeGrey(f, { size: 64 }), isCode('XT_INVALID', new RegExp(`${name}: cannot decode image`)), name);
    }
    const txt = path.join(dir, 'notes.png');
    fs.writeFileSync(txt, 'this is not an image at all');
    await assert.rejects(decodeGrey(txt, { size: 8 }), isCode('XT_INVALID', /notes\.png: cannot decode image/));
    await assert.rejects(decodeGrey(png, { size: 0 }), isCode('XT_INVALID', /size must be a positive integer/));
  });
});
