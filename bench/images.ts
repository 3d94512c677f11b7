/**
 * Image pipeline speed, side by side in one run: decode + resize of 512² PNG and JPEG chest radiographs
 * (shorter side → 224 bicubic, centre crop) into model-input batches, through our streaming DataLoader
 * (the native decoder or sharp/libvips, grey all the way, JPEG shrink-on-load) against a PyTorch DataLoader
 * with PIL + torchvision transforms and 2 workers (bench/python/images_dataloader.py, Debian
 * python3-torchvision) on the same files. Our batches are 8-bit grey [32, 224, 224] (the encoders take them
 * as they are and normalise natively, issue 15); Python's are normalised float [32, 3, 224, 224].
 * The files are made from the two real NIH ChestX-ray14 PNGs in ../shared/data/images (crops, flips,
 * small rotations and gamma changes, re-encoded at 512² so that each file differs).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { DataLoader } from '../lib/image/loader';
import { imageBackend, setImageBackend } from '../lib/image/decode';
import type { StudyRecord } from '../lib/data/types';
import { sharedPath } from '../test/helpers/shared';
import type { BenchModule, BenchResult, BenchRow } from './types';
import { runStandalone } from './util';

const N = Number(process.env.XT_BENCH_IMAGES ?? 256);
const SIZE = 224;

async function makeFiles(dir: string): Promise<void> {
  const srcs = [sharedPath('data', 'images', 'nih-00000001_000.png'), sharedPath('data', 'images', 'nih-00027426_000.png')];
  for (let i = 0; i < N; i++) {
    const off = (i * 7) % 48;
    let p = sharp(srcs[i % 2])
      .extract({ left: off, top: (i * 5) % 48, width: 512 - 48, height: 512 - 48 })
      .rotate(((i % 11) - 5) * 0.7, { background: '#000' })
      .resize(512, 512)
      .gamma(1 + (i % 5) * 0.2)
      .removeAlpha()
      .grayscale();
    if (i % 3 === 0) p = p.flop();
    const raw = await p.raw().toBuffer({ resolveWithObject: true });
    // written as 8-bit grey (colour type 0), as ChestX-ray14 ships its PNGs
    const base = sharp(raw.data, { raw: { width: raw.info.width, height: raw.info.height, channels: raw.info.channels } }).toColourspace('b-w');
    await base.clone().png().toFile(path.join(dir, `img${String(i).padStart(4, '0')}.png`));
    await base.clone().jpeg({ quality: 90 }).toFile(path.join(dir, `img${String(i).padStart(4, '0')}.jpg`));
  }
}

interface Run {
  imagesPerS: number;
  cpuMsPerImage: number;
}

async function ours(files: string[], concurrency: number, epochs = 3): Promise<Run> {
  const records: StudyRecord[] = files.map((f, i) => ({ id: String(i), images: [f], labels: {}, split: 'train' }));
  const loader = new DataLoader(records, { batchSize: 32, imageSize: SIZE, shuffle: false, concurrency, prefetch: 2, onBadSample: 'fail' });
  let best = Infinity;
  const c0 = process.cpuUsage();
  for (let e = 0; e <= epochs; e++) {
    const t = process.hrtime.bigint();
    let n = 0;
    for await (const b of loader.iterate(e)) n += b.n;
    const s = Number(process.hrtime.bigint() - t) / 1e9;
    if (n !== files.length) throw new Error(`loaded ${n} of ${files.length}`);
    if (e > 0) best = Math.min(best, s);
  }
  const c = process.cpuUsage(c0);
  return { imagesPerS: files.length / best, cpuMsPerImage: (c.user + c.system) / 1000 / (files.length * (epochs + 1)) };
}

interface PyExt {
  images_per_s: number;
  first_epoch_s: number;
  cpu_ms_per_image: number;
}
interface PyOut {
  png: PyExt;
  jpg: PyExt;
  torch: string;
  error?: string;
}

function python(dir: string): PyOut {
  const script = path.resolve(__dirname, '..', '..', 'bench', 'python', 'images_dataloader.py');
  const r = spawnSync('/usr/bin/python3', [script, '--dir', dir, '--ext', 'png', 'jpg', '--workers', '2', '--batch', '32', '--epochs', '3'], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  const last = (r.stdout || '').trim().split('\n').pop() || '{}';
  const o = JSON.parse(last) as PyOut;
  if (r.status !== 0 || o.error) throw new Error(`python baseline failed (${r.status}): ${o.error ?? r.stderr}`);
  return o;
}

export const bench: BenchModule = {
  name: 'images',
  async run(): Promise<BenchResult> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xt-imgbench-'));
    try {
      await makeFiles(dir);
      const list = (ext: string) =>
        fs
          .readdirSync(dir)
          .filter((f) => f.endsWith(`.${ext}`))
          .sort()
          .map((f) => path.join(dir, f));
      const conc = Number(process.env.XT_BENCH_CONCURRENCY ?? 4);
      // the native decoder when the addon has it (XRAY_TORCH_ADDON or the local build), and sharp
      let haveNative = false;
      try {
        setImageBackend('native');
        haveNative = imageBackend().native;
      } catch {
        haveNative = false;
      }
      // interleaved: python, ours (native, sharp), python again; best of the two python runs
      const py1 = python(dir);
      const res: Record<string, Run> = {};
      if (haveNative) {
        res.nativePng = await ours(list('png'), conc);
        res.nativeJpg = await ours(list('jpg'), conc);
      }
      setImageBackend('sharp');
      res.sharpPng = await ours(list('png'), conc);
      res.sharpJpg = await ours(list('jpg'), conc);
      const py2 = python(dir);
      setImageBackend('auto');
      const best = (k: 'png' | 'jpg') => (py1[k].images_per_s >= py2[k].images_per_s ? py1[k] : py2[k]);
      const rows: BenchRow[] = [];
      const add = (label: string, r: Run | undefined, py: PyExt, target?: number) => {
        if (!r) return;
        rows.push({ metric: `${label} → ours grey [32,224,224] / Python [32,3,224,224]: images/s`, ours: +r.imagesPerS.toFixed(1), baseline: +py.images_per_s.toFixed(1), unit: 'images/s', higherIsBetter: true, target });
        rows.push({ metric: `${label}: CPU per image (all threads/processes)`, ours: +r.cpuMsPerImage.toFixed(2), baseline: +py.cpu_ms_per_image.toFixed(2), unit: 'ms', higherIsBetter: false });
      };
      add('512² PNG, native decoder', res.nativePng, best('png'), 2);
      add('512² JPEG, native decoder', res.nativeJpg, best('jpg'), 2);
      add('512² PNG, sharp', res.sharpPng, best('png'), haveNative ? undefined : 2);
      add('512² JPEG, sharp', res.sharpJpg, best('jpg'), haveNative ? undefined : 2);
      return {
        title: `Image decode + CLIP preprocessing, ${N} files per format (issue 6)`,
        baseline: `PyTorch ${py1.torch} DataLoader, 2 workers, PIL + torchvision Resize(224, bicubic)/CenterCrop/ToTensor/Normalize, best epoch of 3 after worker start-up, best of 2 runs`,
        rows,
        notes: [
          `ours: DataLoader (lib/data/loader.ts), batches of 32, ${conc} decodes in flight on libuv's pool (UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? 4}), sharp.concurrency()=${sharp.concurrency()}, best epoch of 3 after one warm-up epoch; native decoder ${haveNative ? 'available' : 'NOT available (addon without libjpeg/libpng)'}. Python worker start-up (first epoch): ${py1.png.first_epoch_s.toFixed(2)} s (png) / ${py1.jpg.first_epoch_s.toFixed(2)} s (jpg), not counted. CPU per image counts every thread (ours) and the workers + main process (Python) over all epochs.`,
        ],
      };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
};

if (require.main === module) runStandalone(bench);
