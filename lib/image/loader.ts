/**
 * The streaming batch loader: an async iterator of 8-bit grey image batches, `Uint8Array` [n, size, size]
 * (+ reports and labels). The encoders and the training step take them as they are (1 byte per pixel crosses
 * into the addon, which normalises with the model's mean/std); it lives in lib/image because its default
 * decoder is lib/image/decode.ts (the per-file rule, which may load the addon).
 *  - Order: a permutation of record indices per (seed, epoch) — only indices are shuffled; images are
 *    read when their batch is built. Resumable: every batch carries `position`, and
 *    `iterate(epoch, position)` continues exactly where that batch left off.
 *  - Bounded: at most `concurrency` samples decode at once (both decoders run on libuv's pool), and at most
 *    `prefetch` finished batches wait for the consumer, so memory is (prefetch + 1) batches.
 *  - Bad samples (missing/corrupt image, empty report when `requireReport`): `skip` counts them and takes
 *    the next sample in the order (batches stay full), `fail` throws an XtError naming the file.
 *    A sample that takes longer than `sampleTimeoutMs` counts as bad: the loader never hangs.
 */
import { BadLog, type BadSummary } from '../data/skip-log';
import { applyAugment, sampleAugment, type AugmentOptions } from '../data/augment';
import type { DecodeOptions, GreyImage, ResizeMode } from '../data/images';
import { loadReport } from '../data/readers/mimic';
import { Rng, permutation } from '../data/rng';
import { xtError, isXtError } from '../errors';
import type { StudyRecord } from '../data/types';
import { decodeGrey } from './decode';

export interface LoaderOptions {
  batchSize: number;
  /** Output side in pixels. */
  imageSize: number;
  /** `crop` (shorter side + centre crop, default) or `pad` (pad to square). Ignored when augmenting. */
  mode?: 'crop' | 'pad';
  seed?: number;
  /** Shuffle per epoch (default true). */
  shuffle?: boolean;
  /** Drop a last batch smaller than batchSize (default false). */
  dropLast?: boolean;
  /** Finished batches kept ready ahead of the consumer (default 2). */
  prefetch?: number;
  /** Samples decoding at once (default 4). */
  concurrency?: number;
  /** Training augmentation (seeded per seed, epoch and sample). */
  augment?: boolean | AugmentOptions;
  /** Which image of a multi-image study: `first`, or `random` (seeded; the default when augmenting). */
  image?: 'first' | 'random';
  /** What a bad sample does (default `skip`). */
  onBadSample?: 'skip' | 'fail';
  /** Treat a study without report text as bad (default false). */
  requireReport?: boolean;
  /** Label columns of `Batch.labels` (default: the first record's label names). */
  labelNames?: string[];
  /** A sample slower than this is bad (default 60 000 ms). */
  sampleTimeoutMs?: number;
  /**
   * Data-parallel sharding: each epoch's order is cut into global batches of `world × batchSize`
   * (the last partial one dropped) and this rank reads block `rank` of each, so that rank 0's batch,
   * then rank 1's, … make up exactly the batch one process would read at `world × batchSize`.
   */
  shard?: { rank: number; world: number };
  /** Called for every bad sample as it is found. */
  onBad?: (b: { path: string; reason: string }) => void;
  /** The image decoder (default lib/image `decodeGrey`: the per-file rule); injectable for custom storage or tests. */
  decode?: (path: string, opts: DecodeOptions) => Promise<GreyImage>;
}

export interface Batch {
  /** 8-bit grey pixels, [n, size, size] row-major: the model input as it is (see `pixelShape`). */
  images: Uint8Array;
  /** [n, size, size]: the shape to pass with `images` to encodeImages / step / evalLoss. */
  pixelShape: [number, number, number];
  n: number;
  size: number;
  /** Record indices (into the loader's records). */
  indices: number[];
  records: StudyRecord[];
  /** The image used for each sample. */
  imagePaths: string[];
  /** Report text per sample (undefined when none). */
  reports: (string | undefined)[];
  /** [n, labelNames.length]: 1, 0, -1 (uncertain), NaN (missing). */
  labels: Float32Array;
  labelNames: string[];
  epoch: number;
  /** 0-based batch number within the epoch (counting from the resume point's own batch number). */
  batchIndex: number;
  /** Permutation position after this batch: pass to `iterate(epoch, position)` to resume. */
  position: number;
}

export interface EpochSummary {
  epoch: number;
  batches: number;
  samples: number;
  skipped: number;
  bad: BadSummary;
}

type Sample =
  | { ok: true; index: number; path: string; report?: string; u8: Uint8Array }
  | { ok: false; index: number; path: string; reason: string; error: Error };

export class DataLoader implements AsyncIterable<Batch> {
  readonly bad: BadLog;
  readonly labelNames: string[];
  private readonly opts: Required<Pick<LoaderOptions, 'batchSize' | 'imageSize' | 'seed' | 'prefetch' | 'concurrency'>> &
    LoaderOptions;
  private lastSummary: EpochSummary | undefined;

  constructor(
    readonly records: StudyRecord[],
    opts: LoaderOptions,
  ) {
    const check = (name: string, v: number | undefined, min: number) => {
      if (v !== undefined && (!Number.isInteger(v) || v < min))
        throw xtError('XT_INVALID', `loader option ${name} must be an integer ≥ ${min}, got ${v}`);
    };
    check('batchSize', opts.batchSize, 1);
    check('imageSize', opts.imageSize, 1);
    check('prefetch', opts.prefetch, 1);
    check('concurrency', opts.concurrency, 1);
    if (opts.shard) {
      const { rank, world } = opts.shard;
      if (!Number.isInteger(world) || world < 1 || !Number.isInteger(rank) || rank < 0 || rank >= world)
        throw xtError('XT_INVALID', `loader option shard: rank ${rank} of world ${world} is not a valid rank`);
    }
    if (opts.onBadSample && opts.onBadSample !== 'skip' && opts.onBadSample !== 'fail')
      throw xtError('XT_INVALID', `onBadSample must be skip or fail, got ${opts.onBadSample}`);
    this.opts = { seed: 0, prefetch: 2, concurrency: 4, ...opts };
    this.labelNames = opts.labelNames ?? (records.length ? Object.keys(records[0].labels) : []);
    this.bad = new BadLog(20, opts.onBad);
  }

  /** Number of records (samples per epoch before skips). */
  get length(): number {
    return this.records.length;
  }

  /** Batches per epoch, assuming no skips. */
  get batchesPerEpoch(): number {
    const b = this.opts.batchSize;
    const world = this.opts.shard?.world ?? 1;
    if (world > 1) return Math.floor(this.records.length / (world * b));
    const n = this.records.length;
    return this.opts.dropLast ? Math.floor(n / b) : Math.ceil(n / b);
  }

  /** The sample order of an epoch (record indices). */
  order(epoch: number): Uint32Array {
    const n = this.records.length;
    let p: Uint32Array;
    if (this.opts.shuffle === false) {
      p = new Uint32Array(n);
      for (let i = 0; i < n; i++) p[i] = i;
    } else p = permutation(n, this.opts.seed, epoch);
    const sh = this.opts.shard;
    if (!sh || sh.world <= 1) return p;
    const B = this.opts.batchSize;
    const global = sh.world * B;
    const batches = Math.floor(n / global);
    const mine = new Uint32Array(batches * B);
    for (let k = 0; k < batches; k++) mine.set(p.subarray(k * global + sh.rank * B, k * global + (sh.rank + 1) * B), k * B);
    return mine;
  }

  /** Counts of the last epoch that ran to its end (or was stopped). */
  summary(): EpochSummary | undefined {
    return this.lastSummary;
  }

  [Symbol.asyncIterator](): AsyncIterator<Batch> {
    return this.iterate(0);
  }

  private async loadSample(index: number, epoch: number): Promise<Sample> {
    const o = this.opts;
    const rec = this.records[index];
    const augment = o.augment ? (o.augment === true ? {} : o.augment) : undefined;
    const pickRandom = (o.image ?? (augment ? 'random' : 'first')) === 'random';
    let path = rec.images[0] ?? `<record ${rec.id}>`;
    try {
      if (!rec.images.length) throw xtError('XT_INVALID', `no images: record ${rec.id} lists no image`);
      if (pickRandom && rec.images.length > 1) path = rec.images[new Rng(o.seed, epoch, index, 1).int(rec.images.length)];
      let report: string | undefined = rec.report;
      if (report === undefined && rec.reportPath) report = await loadReport(rec);
      if (o.requireReport && !(report && report.trim())) throw xtError('XT_INVALID', `empty report: record ${rec.id} has no report text`);
      const size = o.imageSize;
      const decode = o.decode ?? decodeGrey;
      if (augment) {
        const src = await decode(path, { size: Math.ceil(size * 1.15), mode: 'shorter' });
        const p = sampleAugment(new Rng(o.seed, epoch, index, 2), src.width, src.height, augment);
        return { ok: true, index, path, report, u8: applyAugment(src, p, size) };
      }
      const img = await decode(path, { size, mode: (o.mode ?? 'crop') as ResizeMode });
      if (img.width !== size || img.height !== size || img.data.length !== size * size)
        throw xtError('XT_SHAPE', `${path}: decoder gave ${img.width}×${img.height}, expected ${size}×${size}`);
      return { ok: true, index, path, report, u8: img.data };
    } catch (e) {
      const err = e as Error;
      const msg = err.message ?? String(e);
      const reason = msg.startsWith(`${path}: `) ? msg.slice(path.length + 2) : msg;
      return { ok: false, index, path, reason, error: err };
    }
  }

  private withTimeout(p: Promise<Sample>, index: number): Promise<Sample> {
    const ms = this.opts.sampleTimeoutMs ?? 60000;
    let timer: NodeJS.Timeout | undefined;
    const rec = this.records[index];
    const t = new Promise<Sample>((resolve) => {
      timer = setTimeout(() => {
        const path = rec.images[0] ?? rec.id;
        const error = xtError('XT_IO', `${path}: timed out after ${ms} ms while loading`);
        resolve({ ok: false, index, path, reason: `timed out: after ${ms} ms while loading`, error });
      }, ms);
      timer.unref?.();
    });
    return Promise.race([p, t]).finally(() => clearTimeout(timer));
  }

  /**
   * Batches of one epoch, starting at permutation position `from` (0, or a batch's `position`).
   * `batchIndex` continues from `firstBatchIndex` (give the resumed batch number to keep numbering).
   */
  async *iterate(epoch = 0, from = 0, firstBatchIndex = 0): AsyncGenerator<Batch> {
    const o = this.opts;
    const order = this.order(epoch);
    const n = order.length;
    if (!Number.isInteger(from) || from < 0 || from > n) throw xtError('XT_INVALID', `resume position ${from} outside 0..${n}`);
    const B = o.batchSize;
    const S = o.imageSize;
    const C = this.labelNames.length;
    const epochBad = new BadLog(20);
    const summary: EpochSummary = { epoch, batches: 0, samples: 0, skipped: 0, bad: epochBad.summary() };

    // ordered samples with bounded concurrency
    let nextPos = from;
    const inflight: { pos: number; p: Promise<Sample> }[] = [];
    const fill = () => {
      while (inflight.length < o.concurrency && nextPos < n) {
        const idx = order[nextPos];
        inflight.push({ pos: nextPos, p: this.withTimeout(this.loadSample(idx, epoch), idx) });
        nextPos++;
      }
    };
    const nextSample = async (): Promise<{ pos: number; s: Sample } | undefined> => {
      fill();
      const head = inflight.shift();
      if (!head) return undefined;
      const s = await head.p;
      fill();
      return { pos: head.pos, s };
    };

    let batchIndex = firstBatchIndex;
    let consumed = from;
    const buildBatch = async (): Promise<Batch | null> => {
      const got: Extract<Sample, { ok: true }>[] = [];
      while (got.length < B) {
        const x = await nextSample();
        if (!x) break;
        consumed = x.pos + 1;
        if (x.s.ok) {
          got.push(x.s);
          continue;
        }
        const rec = this.records[x.s.index];
        if (o.onBadSample === 'fail') {
          const e = x.s.error;
          throw isXtError(e) ? e : xtError('XT_IO', `${x.s.path}: ${x.s.reason}`);
        }
        this.bad.add(x.s.path, x.s.reason);
        epochBad.add(x.s.path, x.s.reason);
        summary.skipped++;
        void rec;
      }
      if (!got.length || (o.dropLast && got.length < B)) return null;
      const m = got.length;
      const per = S * S;
      const images = new Uint8Array(m * per);
      const labels = new Float32Array(m * C);
      got.forEach((g, k) => {
        images.set(g.u8, k * per);
        const lab = this.records[g.index].labels;
        for (let c = 0; c < C; c++) {
          const v = lab[this.labelNames[c]];
          labels[k * C + c] = v === null || v === undefined ? NaN : v;
        }
      });
      const b: Batch = {
        images,
        pixelShape: [m, S, S],
        n: m,
        size: S,
        indices: got.map((g) => g.index),
        records: got.map((g) => this.records[g.index]),
        imagePaths: got.map((g) => g.path),
        reports: got.map((g) => g.report),
        labels,
        labelNames: this.labelNames,
        epoch,
        batchIndex: batchIndex++,
        position: consumed,
      };
      summary.batches++;
      summary.samples += m;
      return b;
    };

    // producer: keeps up to `prefetch` finished batches ahead of the consumer
    const ready: (Batch | null | { error: unknown })[] = [];
    let wakeConsumer: (() => void) | undefined;
    let wakeProducer: (() => void) | undefined;
    let closed = false;
    const producer = (async () => {
      try {
        while (!closed) {
          while (ready.length >= o.prefetch && !closed) await new Promise<void>((r) => (wakeProducer = r));
          if (closed) break;
          const b = await buildBatch();
          ready.push(b);
          wakeConsumer?.();
          if (b === null) break;
        }
      } catch (error) {
        ready.push({ error });
        wakeConsumer?.();
      }
    })();

    try {
      for (;;) {
        while (!ready.length) await new Promise<void>((r) => (wakeConsumer = r));
        const item = ready.shift()!;
        wakeProducer?.();
        if (item === null) return;
        if ('error' in item) throw item.error;
        yield item;
      }
    } finally {
      closed = true;
      wakeProducer?.();
      await producer;
      // let in-flight decodes settle so no work outlives the iterator
      await Promise.all(inflight.map((x) => x.p));
      summary.bad = epochBad.summary();
      this.lastSummary = summary;
    }
  }
}

/** One line for the end of an epoch: samples, batches and what was skipped. */
export function formatEpochSummary(s: EpochSummary): string {
  const bad = s.skipped
    ? `; skipped ${s.skipped}: ` +
      Object.entries(s.bad.byReason)
        .map(([r, n]) => `${n} × ${r}`)
        .join('; ')
    : '; nothing skipped';
  return `epoch ${s.epoch}: ${s.samples} samples in ${s.batches} batches${bad}`;
}
