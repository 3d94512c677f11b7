import { strict as assert } from 'assert';
import * as fs from 'fs';
import sharp from 'sharp';
import { decodeDicom, isDicomBuffer } from '../../../lib/data/dicom';
import { decodeGreySharp as decodeGrey, decodeGreyBufferSharp as decodeGreyBuffer } from '../../../lib/data/images';
import { requireShared } from '../../helpers/shared';
import { writeDicom } from '../../helpers/dicom-writer';

const isCode = (code: string, re: RegExp) => (e: Error & { code?: string }) => e.code === code && re.test(e.message);

describe('data/dicom', () => {
  // the sharp path of lib/data (DICOM goes to its reader and sharp under the lib/image rule too)

  describe('real samples (JPEG-baseline encapsulated, 8-bit)', () => {
    it('MONOCHROME1 decodes to the exact inverse of the same pixels read as MONOCHROME2', async function () {
      const m2 = requireShared(this, 'data', 'images', 'siim-pneumothorax-jpeg-baseline.dcm');
      const m1 = requireShared(this, 'data', 'images', 'monochrome1-inverted.dcm');
      const a = await decodeDicom(fs.readFileSync(m2), m2);
      const b = await decodeDicom(fs.readFileSync(m1), m1);
      assert.equal(a.transferSyntax, '1.2.840.10008.1.2.4.50');
      assert.equal(a.photometric, 'MONOCHROME2');
      assert.equal(b.photometric, 'MONOCHROME1');
      assert.equal(a.width, 1024);
      assert.equal(a.height, 1024);
      assert.equal(a.voi, 'full-range');
      let mismatches = 0;
      for (let i = 0; i < a.data.length; i++) if (b.data[i] !== 255 - a.data[i]) mismatches++;
      assert.equal(mismatches, 0);
      // not a constant image
      const lo = a.data.reduce((m, v) => Math.min(m, v), 255);
      const hi = a.data.reduce((m, v) => Math.max(m, v), 0);
      assert.ok(hi - lo > 200, `range ${lo}..${hi}`);
    });

    it('the 8-bit JPEG pixels are passed through unchanged (no window, no rescale)', async function () {
      const m2 = requireShared(this, 'data', 'images', 'siim-pneumothorax-jpeg-baseline.dcm');
      const buf = fs.readFileSync(m2);
      // the encapsulated JPEG stream starts at the first SOI marker after the pixel data tag
      const soi = buf.indexOf(Buffer.from([0xff, 0xd8, 0xff]), buf.indexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00])));
      const eoi = buf.lastIndexOf(Buffer.from([0xff, 0xd9]));
      const direct = await sharp(buf.subarray(soi, eoi + 2)).grayscale().raw().toBuffer();
      const d = await decodeDicom(buf, m2);
      assert.ok(Buffer.from(d.data).equals(direct));
    });

    it('goes through the image pipeline: decodeGrey resizes it; inverse pair stays inverse up to rounding', async function () {
      const m2 = requireShared(this, 'data', 'images', 'siim-pneumothorax-jpeg-baseline.dcm');
      const m1 = requireShared(this, 'data', 'images', 'monochrome1-inverted.dcm');
      // a linear kernel does not overshoot, so clamping cannot break the symmetry
      const a = await decodeGrey(m2, { size: 224, mode: 'crop', kernel: 'linear' });
      const b = await decodeGrey(m1, { size: 224, mode: 'crop', kernel: 'linear' });
      assert.equal(a.width, 224);
      assert.equal(a.data.length, 224 * 224);
      let worst = 0;
      let sum = 0;
      for (let i = 0; i < a.data.length; i++) {
        const e = Math.abs(a.data[i] + b.data[i] - 255);
        worst = Math.max(worst, e);
        sum += e;
      }
      // exact before resampling (above); after it, only the 8-bit rounding of each output differs
      assert.ok(worst <= 2, `worst ${worst}`);
      assert.ok(sum / a.data.length < 0.75, `mean ${sum / a.data.length}`);
      assert.ok(isDicomBuffer(fs.readFileSync(m2)));
    });
  });

  describe('synthetic files (native pixel data)', () => {
    it('window centre/width (LINEAR) on 16-bit data, per PS3.3 C.11.2.1.2', async () => {
      const pixels = [800, 900, 1000, 1100, 1199, 1200];
      const d = await decodeDicom(writeDicom({ rows: 1, cols: 6, bitsAllocated: 16, bitsStored: 12, pixels, center: 1000, width: 401 }));
      assert.equal(d.voi, 'window');
      // t = (x - (c - 0.5)) / (w - 1) + 0.5, clamped, × 255
      const want = pixels.map((x) => Math.round(Math.min(1, Math.max(0, (x - 999.5) / 400 + 0.5)) * 255));
      assert.deepEqual(Array.from(d.data), want);
      assert.deepEqual(want, [0, 64, 128, 192, 255, 255]);
    });

    it('rescale slope/intercept on signed 12-bit values, then a multi-valued window (first value used)', async () => {
      // stored -1000, 0, 500 (12-bit two's complement) → HU = 2·v − 1024
      const stored = [-1000, 0, 500].map((v) => v & 0xfff);
      const d = await decodeDicom(
        writeDicom({ rows: 1, cols: 3, bitsAllocated: 16, bitsStored: 12, signed: true, pixels: stored, slope: 2, intercept: -1024, center: '-24\\40', width: '2001\\400' }),
      );
      const hu = [-3024, -1024, -24];
      const want = hu.map((x) => Math.round(Math.min(1, Math.max(0, (x - (-24 - 0.5)) / 2000 + 0.5)) * 255));
      assert.deepEqual(Array.from(d.data), want);
    });

    it('LINEAR_EXACT and SIGMOID VOI functions', async () => {
      const pixels = [0, 50, 100];
      const ex = await decodeDicom(writeDicom({ rows: 1, cols: 3, bitsAllocated: 16, pixels, center: 50, width: 100, voiFunction: 'LINEAR_EXACT' }));
      assert.deepEqual(Array.from(ex.data), [0, 128, 255]);
      const sg = await decodeDicom(writeDicom({ rows: 1, cols: 3, bitsAllocated: 16, pixels, center: 50, width: 100, voiFunction: 'SIGMOID' }));
      const want = pixels.map((x) => Math.round((1 / (1 + Math.exp((-4 * (x - 50)) / 100))) * 255));
      assert.deepEqual(Array.from(sg.data), want);
    });

    it('a VOI LUT sequence takes precedence over the window', async () => {
      const lut = [0, 1000, 2000, 4095]; // 12-bit LUT for stored values 10..13
      const d = await decodeDicom(
        writeDicom({ rows: 1, cols: 5, bitsAllocated: 16, pixels: [10, 11, 12, 13, 99], center: 0, width: 1, voiLut: { first: 10, bits: 12, data: lut } }),
      );
      assert.equal(d.voi, 'lut');
      assert.deepEqual(Array.from(d.data), [0, Math.round((1000 / 4095) * 255), Math.round((2000 / 4095) * 255), 255, 255]);
    });

    it('no VOI on 16-bit data: min–max of the image; MONOCHROME1 inverts exactly; big endian reads the same', async () => {
      const pixels = [100, 1100, 2100, 4100];
      const spec = { rows: 2, cols: 2, bitsAllocated: 16 as const, pixels };
      const le = await decodeDicom(writeDicom(spec));
      assert.equal(le.voi, 'min-max');
      assert.deepEqual(Array.from(le.data), [0, 64, 128, 255]);
      const be = await decodeDicom(writeDicom({ ...spec, bigEndian: true }));
      assert.equal(be.transferSyntax, '1.2.840.10008.1.2.2');
      assert.deepEqual(Array.from(be.data), Array.from(le.data));
      const m1 = await decodeDicom(writeDicom({ ...spec, photometric: 'MONOCHROME1' }));
      assert.deepEqual(Array.from(m1.data), [255, 191, 127, 0]);
      // through decodeGreyBuffer at the original size too
      const g = await decodeGreyBuffer(writeDicom({ ...spec, photometric: 'MONOCHROME1' }), { mode: 'none' });
      assert.deepEqual(Array.from(g.data), [255, 191, 127, 0]);
    });

    it('8-bit unsigned without VOI keeps the stored levels', async () => {
      const d = await decodeDicom(writeDicom({ rows: 1, cols: 4, bitsAllocated: 8, pixels: [3, 60, 128, 250] }));
      assert.equal(d.voi, 'full-range');
      assert.deepEqual(Array.from(d.data), [3, 60, 128, 250]);
    });
  });

  describe('bad files', () => {
    it('a non-DICOM buffer, truncated pixel data and unsupported transfer syntaxes name the file (XT_INVALID)', async () => {
      await assert.rejects(decodeDicom(Buffer.alloc(300), 'x.dcm'), isCode('XT_INVALID', /^x\.dcm: not a readable DICOM file/));
      const full = writeDicom({ rows: 4, cols: 4, bitsAllocated: 16, pixels: new Array(16).fill(7) });
      await assert.rejects(decodeDicom(full.subarray(0, full.length - 10), 'cut.dcm'), isCode('XT_INVALID', /^cut\.dcm: /));
      // same-length UID swap: the file now claims RLE lossless
      const rle = Buffer.from(full.toString('latin1').replace('1.2.840.10008.1.2.1\0', '1.2.840.10008.1.2.5\0'), 'latin1');
      await assert.rejects(decodeDicom(rle, 'rle.dcm'), isCode('XT_INVALID', /^rle\.dcm: unsupported transfer syntax RLE lossless \(1\.2\.840\.10008\.1\.2\.5\)/));
    });
  });
});
