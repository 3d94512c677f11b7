import { strict as assert } from 'assert';
import { DataLoader, formatEpochSummary, type Batch, type LoaderOptions } from '../../../lib/image/loader';
import { decodeGreySharp, type GreyImage, type DecodeOptions } from '../../../lib/data/images';
import { openDataset } from '../../../lib/data/readers/index';
import { permutation } from '../../../lib/data/rng';
import { xtError } from '../../../lib/native';
import type { StudyRecord } from '../../../lib/data/types';
import { fix } from '../../helpers/data-fixtures';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function records(n: number): StudyRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `r${i}`,
    images: [`img/${i}`],
    report: i % 7 === 3 ? undefined : `report ${i}`,
    labels: { A: (i % 2) as 0 | 1, B: i % 5 === 0 ? null : i % 3 === 0 ? -1 : 1 },
    split: 'train',
  }));
}

/** A fake decoder: a flat image whose value is the record number; `bad` paths fail, `hang` never resolves. */
function fakeDecoder(opts: { bad?: Set<string>; hang?: Set<string>; delayMs?: number } = {}) {
  const st = { started: 0, inflight: 0, maxInflight: 0, paths: [] as string[] };
  const decode = async (p: string, o: DecodeOptions): Promise<GreyImage> => {
    st.started++;
    st.inflight++;
    st.maxInflight = Math.max(st.maxInflight, st.inflight);
    st.paths.push(p);
    try {
      if (opts.hang?.has(p)) await new Promise(() => {});
      if (opts.delayMs) await sleep(opts.delayMs);
      if (opts.bad?.has(p)) throw xtError('XT_INVALID', `${p}: cannot decode image: corrupt`);
      const size = o.mode === 'shorter' ? Math.ceil((o.size ?? 8) / 1.15) : o.size!;
      const n = Number(p.split('/')[1]);
      return { width: size, height: size, data: new Uint8Array(size * size).fill(n % 256) };
    } finally {
      st.inflight--;
    }
  };
  return { decode, st };
}

async function collect(it: AsyncIterable<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of it) out.push(b);
  return out;
}

const base = (extra: Partial<LoaderOptions> = {}): LoaderOptions => ({ batchSize: 4, imageSize: 4, seed: 11, ...extra });

describe('image/loader', () => {
  it('visits every record once per epoch in the (seed, epoch) permutation; same seed, same order', async () => {
    const recs = records(23);
    const { decode } = fakeDecoder();
    const a = await collect(new DataLoader(recs, base({ decode })).iterate(0));
    const b = await collect(new DataLoader(recs, base({ decode })).iterate(0));
    const e1 = await collect(new DataLoader(recs, base({ decode })).iterate(1));
    const order = (bs: Batch[]) => bs.flatMap((x) => x.indices);
    assert.deepEqual(order(a), Array.from(permutation(23, 11, 0)));
    assert.deepEqual(order(a), order(b));
    assert.notDeepEqual(order(a), order(e1));
    assert.deepEqual([...order(e1)].sort((x, y) => x - y), Array.from({ length: 23 }, (_, i) => i));
    assert.deepEqual(
      a.map((x) => x.n),
      [4, 4, 4, 4, 4, 3],
    );
    const noShuffle = await collect(new DataLoader(recs, base({ decode, shuffle: false, dropLast: true })).iterate(0));
    assert.deepEqual(order(noShuffle), Array.from({ length: 20 }, (_, i) => i));
  });

  it('fills 8-bit grey images [n, S, S] as decoded (normalised natively later), the label matrix (NaN = missing) and reports', async () => {
    const recs = records(10);
    const { decode } = fakeDecoder();
    const [b] = await collect(new DataLoader(recs, base({ decode, shuffle: false, batchSize: 10 })).iterate(0));
    assert.ok(b.images instanceof Uint8Array);
    assert.deepEqual(b.pixelShape, [10, 4, 4]);
    assert.equal(b.images.length, 10 * 16);
    for (let k = 0; k < 10; k++) assert.deepEqual(Array.from(b.images.subarray(k * 16, (k + 1) * 16)), new Array(16).fill(k), `image ${k}`);
    assert.deepEqual(b.labelNames, ['A', 'B']);
    assert.deepEqual(Array.from(b.labels.subarray(0, 8)), [0, NaN, 1, 1, 0, 1, 1, -1]);
    assert.equal(b.reports[3], undefined);
    assert.equal(b.reports[4], 'report 4');
    assert.deepEqual(b.imagePaths.slice(0, 2), ['img/0', 'img/1']);
  });

  it('skips bad samples (batches stay full), counts them, and resumes exactly from any batch position', async () => {
    const recs = records(30);
    const bad = new Set(['img/4', 'img/17', 'img/18', 'img/29']);
    const seen: string[] = [];
    const mk = () => new DataLoader(recs, base({ decode: fakeDecoder({ bad }).decode, onBad: (x) => seen.push(x.path) }));
    const loader = mk();
    const all = await collect(loader.iterate(2));
    assert.deepEqual(
      all.map((b) => b.n),
      [4, 4, 4, 4, 4, 4, 2],
    );
    const used = all.flatMap((b) => b.indices);
    assert.equal(used.length, 26);
    assert.ok(!used.some((i) => bad.has(`img/${i}`)));
    const s = loader.summary()!;
    assert.equal(s.skipped, 4);
    assert.equal(s.samples, 26);
    assert.equal(s.bad.byReason['cannot decode image'], 4);
    assert.deepEqual([...seen].sort(), [...bad].sort());
    assert.match(formatEpochSummary(s), /^epoch 2: 26 samples in 7 batches; skipped 4: 4 × cannot decode image$/);
    for (const k of [0, 2, 5]) {
      const rest = await collect(mk().iterate(2, all[k].position, k + 1));
      assert.deepEqual(
        rest.map((b) => [b.batchIndex, b.indices]),
        all.slice(k + 1).map((b) => [b.batchIndex, b.indices]),
        `resume after batch ${k}`,
      );
    }
    assert.deepEqual(await collect(mk().iterate(2, all[6].position)), []);
  });

  it("onBadSample 'fail' throws the decoder's coded error naming the file", async () => {
    const recs = records(12);
    const { decode } = fakeDecoder({ bad: new Set(['img/7']) });
    await assert.rejects(
      collect(new DataLoader(recs, base({ decode, shuffle: false, onBadSample: 'fail' })).iterate(0)),
      (e: Error & { code?: string }) => e.code === 'XT_INVALID' && /^img\/7: cannot decode image/.test(e.message),
    );
  });

  it('requireReport skips studies without report text; a record without images is bad, not a crash', async () => {
    const recs = records(14);
    recs[5].images = [];
    const { decode } = fakeDecoder();
    const l = new DataLoader(recs, base({ decode, shuffle: false, requireReport: true }));
    const used = (await collect(l.iterate(0))).flatMap((b) => b.indices);
    assert.deepEqual(used, [0, 1, 2, 4, 6, 7, 8, 9, 11, 12, 13]);
    const s = l.summary()!;
    assert.equal(s.bad.byReason['empty report'], 2);
    assert.equal(s.bad.byReason['no images'], 1);
  });

  it('a sample that never finishes times out and is skipped: the loader does not hang', async () => {
    const recs = records(9);
    const { decode } = fakeDecoder({ hang: new Set(['img/2']) });
    const l = new DataLoader(recs, base({ decode, shuffle: false, sampleTimeoutMs: 50 }));
    const bs = await collect(l.iterate(0));
    assert.equal(bs.flatMap((b) => b.indices).length, 8);
    assert.match(l.summary()!.bad.examples[0].reason, /^timed out/);
  });

  it('bounds decode concurrency and prefetch, and stops decoding when the consumer stops', async () => {
    const recs = records(200);
    const { decode, st } = fakeDecoder({ delayMs: 2 });
    const l = new DataLoader(recs, base({ decode, batchSize: 8, prefetch: 2, concurrency: 3 }));
    const it = l.iterate(0);
    const first = await it.next();
    assert.equal(first.value!.n, 8);
    await sleep(150); // a slow consumer: the producer must stop at `prefetch` batches ahead
    assert.ok(st.maxInflight <= 3, `max in flight ${st.maxInflight}`);
    // consumed 1 batch + 2 ready + at most `concurrency` decodes looking ahead
    assert.ok(st.started <= 8 + 2 * 8 + 3, `started ${st.started}`);
    assert.ok(st.started >= 8 + 2 * 8, `prefetched only ${st.started}`);
    await it.return(undefined);
    const after = st.started;
    await sleep(50);
    assert.equal(st.started, after, 'no decode starts after the iterator is closed');
  });

  it('picks a seeded random image of multi-image studies when augmenting; first otherwise', async () => {
    const recs = records(6).map((r, i) => ({ ...r, images: [`img/${i}`, `img/${i + 100}`, `img/${i + 200}`] }));
    const { decode } = fakeDecoder();
    const first = await collect(new DataLoader(recs, base({ decode, shuffle: false })).iterate(0));
    assert.deepEqual(first.flatMap((b) => b.imagePaths), ['img/0', 'img/1', 'img/2', 'img/3', 'img/4', 'img/5']);
    const r1 = (await collect(new DataLoader(recs, base({ decode, shuffle: false, augment: true })).iterate(3))).flatMap((b) => b.imagePaths);
    const r2 = (await collect(new DataLoader(recs, base({ decode, shuffle: false, augment: true })).iterate(3))).flatMap((b) => b.imagePaths);
    assert.deepEqual(r1, r2);
    assert.ok(r1.some((p) => Number(p.split('/')[1]) >= 100), r1.join(','));
  });

  it('end to end over the manifest fixture with real decoding and seeded augmentation', async () => {
    const ds = await openDataset('manifest', fix('manifest'));
    // sharp injected: unit tests load no addon (the default decoder is lib/image's per-file rule)
    const decode = decodeGreySharp;
    const run = async () => collect(new DataLoader(ds.records, { batchSize: 2, imageSize: 32, seed: 3, augment: true, decode }).iterate(1));
    const a = await run();
    const b = await run();
    assert.deepEqual(
      a.map((x) => x.n),
      [2, 1],
    );
    assert.deepEqual(Array.from(a[0].images), Array.from(b[0].images));
    assert.deepEqual(a[0].pixelShape, [2, 32, 32]);
    assert.ok(new Set(a[0].images).size > 16, 'augmented images keep many grey levels');
    const plain = await collect(new DataLoader(ds.records, { batchSize: 3, imageSize: 32, shuffle: false, mode: 'pad', decode }));
    assert.equal(plain[0].images.length, 3 * 32 * 32);
    const direct = await decodeGreySharp(ds.records[0].images[0], { size: 32, mode: 'pad' });
    assert.deepEqual(Array.from(plain[0].images.subarray(0, 1024)), Array.from(direct.data), 'batch = the decoded bytes');
    assert.deepEqual(plain[0].labelNames, ['Cardiomegaly', 'Pleural Effusion']);
  });

  it('scales to 150,000 records: only indices are shuffled', async () => {
    const n = 150000;
    const recs: StudyRecord[] = new Array(n);
    for (let i = 0; i < n; i++) recs[i] = { id: String(i), images: [`img/${i}`], labels: {}, split: 'train' };
    const { decode } = fakeDecoder();
    const t0 = Date.now();
    const it = new DataLoader(recs, base({ decode, batchSize: 64 })).iterate(0);
    const b = (await it.next()).value as Batch;
    await it.return(undefined);
    assert.equal(b.n, 64);
    assert.deepEqual(b.indices, Array.from(permutation(n, 11, 0).subarray(0, 64)));
    assert.ok(Date.now() - t0 < 5000);
  });

  it('rejects bad options with XT_INVALID', () => {
    assert.throws(() => new DataLoader([], { batchSize: 0, imageSize: 8 }), /batchSize must be an integer ≥ 1/);
    assert.throws(() => new DataLoader([], { batchSize: 2, imageSize: 8, onBadSample: 'ignore' as never }), /onBadSample must be skip or fail/);
  });
});
