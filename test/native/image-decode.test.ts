/**
 * The native image decoder (binding/image: libjpeg-turbo, libpng, antialiased bicubic) against sharp, and the
 * per-file decoder rule of lib/image/decode.ts (issue 15, defect 5: the pixels a file decodes to must not depend
 * on whether the addon was loaded first). test/native/image-parity.test.ts measures the two decoders on the real
 * radiographs.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { native, type ImageNative } from '../../lib/native';
import { execFileSync } from 'child_process';
import { decodeGreySharp, type GreyImage, type ResizeMode } from '../../lib/data/images';
import { decodeGrey, decodeGreyBuffer, imageBackend, setImageBackend } from '../../lib/image/decode';
import { repoRoot, requireShared } from '../helpers/shared';
import { greyDiff } from '../helpers/grey-diff';

const FIX = path.join(repoRoot, 'test', 'fixtures', 'data');


describe('native image decoder', () => {
  let dec: NonNullable<ImageNative['decodeImageGrey']>;
  let dir: string;
  before(function () {
    const f = (native() as ImageNative).decodeImageGrey;
    if (typeof f !== 'function') {
      // eslint-disable-next-line no-console
      console.warn('    skipped: the addon was built without libjpeg/libpng (binding/image)');
      this.skip();
    }
    dec = f!;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xt-native-img-'));
  });
  after(() => {
    setImageBackend('auto');
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('matches sharp on the small fixtures, for every geometry (the real radiographs: image-parity.test.ts)', async function () {
    const files = [
      path.join(FIX, 'nih', 'images_002', 'images', '00027426_000.png'),
      path.join(FIX, 'mimic', 'files', 'p10', 'p10000032', 's50414267', '02aa804e-bde0afdd-112c0b34-7bc16630-4e384014.jpg'),
    ];
    for (const f of files) {
      // the 48 px fixtures only go down to 32
      const geoms: [ResizeMode, number][] = [
        ['crop', 32],
        ['pad', 32],
        ['shorter', 32],
        ['none', 0],
      ];
      for (const [mode, size] of geoms) {
        const n = await dec(f, size, mode as never);
        assert.ok(n, `${f} ${mode}`);
        const s = await decodeGreySharp(f, { size, mode });
        const d = greyDiff(n!, s);
        if (mode === 'none') assert.equal(d.max, 0, `${f}: decoded pixels differ`);
        else assert.ok(d.mean < 1.2 && d.max <= 40, `${path.basename(f)} ${mode} ${size}: mean ${d.mean.toFixed(3)} max ${d.max}`);
      }
    }
  });

  it('crop, pad and shorter geometry on a non-square image', async () => {
    const raw = Buffer.alloc(200 * 100, 200);
    const f = path.join(dir, 'wide.png');
    await sharp(raw, { raw: { width: 200, height: 100, channels: 1 } }).toColourspace('b-w').png().toFile(f);
    const crop = (await dec(f, 50, 'crop'))!;
    assert.deepEqual([crop.width, crop.height], [50, 50]);
    assert.ok(crop.data.every((v) => v === 200));
    const pad = (await dec(f, 50, 'pad'))!;
    const row = (y: number) => Array.from(pad.data.subarray(y * 50, (y + 1) * 50));
    assert.ok(row(0).every((v) => v === 0) && row(11).every((v) => v === 0) && row(37).every((v) => v === 0));
    assert.ok(row(12).every((v) => v === 200) && row(36).every((v) => v === 200));
    const sh = (await dec(f, 50, 'shorter'))!;
    assert.deepEqual([sh.width, sh.height], [100, 50]);
  });

  it('leaves other formats to sharp (null), and decodeGrey then falls back', async function () {
    const dcm = requireShared(this, 'data', 'images', 'siim-pneumothorax-jpeg-baseline.dcm');
    const png16 = path.join(FIX, 'padchest', '0', '20536686640136348236148679891455886468_k6ga29.png');
    const rgb = path.join(dir, 'rgb.png');
    await sharp({ create: { width: 8, height: 8, channels: 3, background: '#f00' } }).png().toFile(rgb);
    for (const f of [dcm, png16, rgb]) assert.equal(await dec(f, 32, 'crop'), null, f);
    for (const f of [dcm, png16, rgb]) assert.equal(await dec(fs.readFileSync(f), 32, 'crop', f), null, `${f} (bytes)`);
    setImageBackend('native');
    assert.deepEqual(imageBackend(), { requested: 'native', native: true });
    const a = await decodeGrey(png16, { size: 32 });
    setImageBackend('sharp');
    const b = await decodeGrey(png16, { size: 32 });
    setImageBackend('auto');
    assert.deepEqual(Array.from(a.data), Array.from(b.data));
  });

  it('the rule: 8-bit JPEG and grey PNG go native, from a path or from bytes; a non-cubic kernel and `sharp` go to sharp', async function () {
    const jpg = requireShared(this, 'data', 'images', 'nih-00000001_000.jpg');
    const png = requireShared(this, 'data', 'images', 'nih-00000001_000.png');
    setImageBackend('auto');
    for (const f of [jpg, png]) {
      const nat = (await dec(f, 224, 'crop'))!;
      const shp = await decodeGreySharp(f, { size: 224, mode: 'crop' });
      assert.notDeepEqual(Array.from(nat.data), Array.from(shp.data), 'the two decoders differ somewhere, so the checks below can tell them apart');
      assert.deepEqual(Array.from((await decodeGrey(f, { size: 224 })).data), Array.from(nat.data), `${f}: path → native`);
      const bytes = fs.readFileSync(f);
      assert.deepEqual(Array.from((await decodeGreyBuffer(bytes, { size: 224 }, f)).data), Array.from(nat.data), `${f}: bytes → native`);
      const u8 = new Uint8Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
      assert.deepEqual(Array.from((await decodeGreyBuffer(u8, { size: 224 }, f)).data), Array.from(nat.data), `${f}: Uint8Array → native`);
      const lin = await decodeGrey(f, { size: 224, kernel: 'linear' });
      assert.deepEqual(Array.from(lin.data), Array.from((await decodeGreySharp(f, { size: 224, kernel: 'linear' })).data), `${f}: linear → sharp`);
      setImageBackend('sharp');
      assert.deepEqual(Array.from((await decodeGrey(f, { size: 224 })).data), Array.from(shp.data), `${f}: override sharp`);
      setImageBackend('auto');
    }
    await assert.rejects(decodeGreyBuffer(Buffer.alloc(0), { size: 8 }, 'upload'), /upload: cannot decode image: empty input/);
    const cut = fs.readFileSync(jpg).subarray(0, 3000);
    await assert.rejects(decodeGreyBuffer(cut, { size: 8 }, 'upload.jpg'), (e: Error & { code?: string }) =>
      e.code === 'XT_INVALID' && e.message.startsWith('upload.jpg: cannot decode image: '));
  });

  it('which decoder runs does not depend on load order: same pixels with and without the addon loaded first (defect 5)', function () {
    this.timeout(120000);
    const files = [
      requireShared(this, 'data', 'images', 'nih-00000001_000.png'),
      requireShared(this, 'data', 'images', 'nih-00000001_000.jpg'),
      requireShared(this, 'data', 'images', 'nih-00027426_000.png'),
    ];
    // a fresh process each time: nothing loaded but what the script loads
    const script = (loadFirst: boolean) => `
      const crypto = require('crypto');
      ${loadFirst ? `require(${JSON.stringify(path.join(repoRoot, 'dist', 'lib', 'native.js'))}).native();` : ''}
      const { decodeGrey } = require(${JSON.stringify(path.join(repoRoot, 'dist', 'lib', 'image', 'decode.js'))});
      (async () => {
        const out = [];
        for (const f of ${JSON.stringify(files)})
          for (const mode of ['crop', 'pad', 'shorter']) {
            const g = await decodeGrey(f, { size: 224, mode });
            out.push(crypto.createHash('sha256').update(g.data).digest('hex'));
          }
        process.stdout.write(JSON.stringify(out));
      })().catch((e) => { process.stderr.write(String(e)); process.exit(1); });`;
    const env = { ...process.env };
    delete env.XRAY_TORCH_DECODER;
    const run = (loadFirst: boolean) => JSON.parse(execFileSync(process.execPath, ['-e', script(loadFirst)], { encoding: 'utf8', env })) as string[];
    const cold = run(false);
    const warm = run(true);
    assert.equal(cold.length, 9);
    assert.deepEqual(cold, warm);
  });

  it('names missing and corrupt files with coded errors', async function () {
    const jpg = requireShared(this, 'data', 'images', 'nih-00000001_000.jpg');
    const png = requireShared(this, 'data', 'images', 'nih-00000001_000.png');
    const missing = path.join(dir, 'none.jpg');
    await assert.rejects(dec(missing, 8, 'crop'), (e: Error & { code?: string }) => e.code === 'XT_IO' && e.message === `${missing}: missing image file (ENOENT)`);
    for (const [src, name] of [
      [jpg, 'cut.jpg'],
      [png, 'cut.png'],
    ]) {
      const b = fs.readFileSync(src);
      const f = path.join(dir, name);
      fs.writeFileSync(f, b.subarray(0, b.length >> 1));
      await assert.rejects(dec(f, 64, 'crop'), (e: Error & { code?: string }) => e.code === 'XT_INVALID' && e.message.startsWith(`${f}: cannot decode image: `), name);
    }
    const empty = path.join(dir, 'empty.png');
    fs.writeFileSync(empty, '');
    await assert.rejects(dec(empty, 8, 'crop'), /empty\.png: cannot decode image: empty file/);
    assert.throws(() => dec(jpg, 8, 'stretch' as never), /mode must be crop, pad, shorter or none/);
  });
});
