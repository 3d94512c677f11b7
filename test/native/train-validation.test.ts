/**
 * Validation at an epoch end (lib/train/validation.ts): one pass over the validation records in memory. Each
 * image is decoded once per validation, and the loss and the zero-shot AUROC come from the same embeddings;
 * both equal what the earlier two-pass path gave (`TrainSession.evalLoss` over a loader of the studies with a
 * report; `runZeroShotEval` re-reading the split) on a small synthetic run.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { train } from '../../lib/train/trainer';
import { runValidation } from '../../lib/train/validation';
import { prepareReport, recordReport } from '../../lib/train/report-text';
import { defaultSessionOptions } from '../../lib/train/options';
import { generateSynthetic, SYNTH_FINDINGS } from '../../lib/data/synth';
import { openDataset } from '../../lib/data/readers';
import { DataLoader } from '../../lib/image/loader';
import { decodeGrey } from '../../lib/image/decode';
import { loadModel, type ClipModel } from '../../lib/model/clip';
import { SentenceSampler } from '../../lib/text/sampling';
import { adaptClip } from '../../lib/eval/model';
import { runZeroShotEval } from '../../lib/eval/pipeline';
import { labelSpecs } from '../../lib/eval/labelsets';
import { native } from '../../lib/native';
import type { StudyRecord } from '../../lib/data/types';

describe('training validation: one pass over the records in memory', function () {
  this.timeout(300000);
  let tmp: string;
  let manifest: string;
  let model: ClipModel;
  let records: StudyRecord[];
  let ds: Awaited<ReturnType<typeof openDataset>>;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xt-valid-'));
    await generateSynthetic({ out: path.join(tmp, 'data'), n: 120, seed: 3, size: 64 });
    manifest = path.join(tmp, 'data', 'manifest.jsonl');
    // a few steps, so that the weights are not the initial ones
    const run = train({
      data: manifest, model: 'scratch:tiny', out: path.join(tmp, 'run'), batchSize: 16, steps: 4, lr: 1e-3, warmup: 1,
      seed: 7, vocabSize: 600, contextLength: 24, validate: false, progress: 'quiet',
    });
    const summary = await run.done;
    model = await loadModel(summary.modelDir);
    ds = await openDataset('auto', manifest, { uncertain: 'keep' });
    records = ds.records.filter((r) => r.split === 'valid' && r.images.length > 0);
  });
  after(() => {
    model?.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** The earlier validation loss: evalLoss over a loader of the studies with a report, weighted by batch size. */
  async function oldLoss(sampler: SentenceSampler, batchSize: number, positiveClip: number, multiPositive: boolean): Promise<number> {
    const recs = records.filter((r) => recordReport(r) !== undefined);
    const session = new (native().TrainSessionNative)(model.native, defaultSessionOptions({ positiveClip, multiPositive }));
    const ctx = model.config.contextLength;
    const vl = new DataLoader(recs, {
      batchSize: Math.min(batchSize, recs.length), imageSize: model.config.imageResolution, shuffle: false, augment: false,
      onBadSample: 'skip', concurrency: 2, labelNames: [], image: 'first',
    });
    let total = 0;
    let n = 0;
    for await (const b of vl) {
      if (b.n < 2) continue;
      const drawn = sampler.sampleBatch(b.indices.map((i, j) => ({ id: b.records[j].id, report: prepareReport(sampler, recs[i]) })), 0);
      const ids = model.tokenizer!.tokenize(drawn.map((d) => d.text), ctx);
      const groups = multiPositive ? Int32Array.from(drawn.map((d) => d.groupId)) : null;
      const r = await session.evalLoss(b.images, b.pixelShape, ids, [b.n, ctx], groups);
      total += r.loss * b.n;
      n += b.n;
    }
    return total / n;
  }

  for (const arm of [
    { positiveClip: 0.8, multiPositive: false, sentences: 1, batchSize: 5 },
    { positiveClip: 0.3, multiPositive: true, sentences: 2, batchSize: 4 },
  ]) {
    it(`decodes each image once; loss and AUROC equal the two-pass path (c=${arm.positiveClip}, multi-positive ${arm.multiPositive})`, async () => {
      assert.ok(records.length >= 8, `${records.length} validation studies`);
      assert.ok(records.some((r) => Object.values(r.labels).some((v) => v === 1)), 'the split has labels');
      const sampler = () => new SentenceSampler({ seed: 7, k: arm.sentences, sections: 'both', full: false, fullProbability: 0 });
      const decoded = new Map<string, number>();
      const v = await runValidation({
        model, tokenizer: model.tokenizer!, sampler: sampler(), records, format: ds.format, labelNames: ds.labelNames,
        labels: [...SYNTH_FINDINGS], batchSize: arm.batchSize, positiveClip: arm.positiveClip, multiPositive: arm.multiPositive,
        concurrency: 2,
        decode: (file, o) => {
          decoded.set(file, (decoded.get(file) ?? 0) + 1);
          return decodeGrey(file, o);
        },
      });
      // one decode per validation study (its first image), none twice
      assert.equal(v.images, records.length);
      assert.deepEqual([...decoded.keys()].map((f) => path.resolve(f)).sort(), records.map((r) => path.resolve(r.images[0])).sort());
      assert.ok([...decoded.values()].every((k) => k === 1), `decodes per image: ${[...decoded.values()]}`);

      const before = await oldLoss(sampler(), arm.batchSize, arm.positiveClip, arm.multiPositive);
      assert.ok(Number.isFinite(v.loss) && v.loss > 0, `loss ${v.loss}`);
      assert.ok(Math.abs(v.loss - before) <= 1e-5 * Math.abs(before), `loss ${v.loss} vs evalLoss ${before}`);

      const ev = await runZeroShotEval(adaptClip(model), {
        data: manifest, split: 'valid', bootstrap: false, labels: labelSpecs([...SYNTH_FINDINGS]), concurrency: 2,
      });
      const a = ev.report.predictions!.mean.auroc!;
      assert.equal(typeof v.auroc, 'number');
      assert.ok(Math.abs((v.auroc as number) - a) < 1e-9, `AUROC ${v.auroc} vs runZeroShotEval ${a}`);
    });
  }

  it('without labels: the loss only; labels the data lacks: the AUROC is skipped with a message', async () => {
    const unlabelled = records.map((r) => ({ ...r, labels: Object.fromEntries(Object.keys(r.labels).map((k) => [k, null])) }));
    const sampler = new SentenceSampler({ seed: 7, k: 1, sections: 'both', full: false, fullProbability: 0 });
    const base = { model, tokenizer: model.tokenizer!, sampler, format: ds.format, labelNames: ds.labelNames, batchSize: 5,
      positiveClip: 0.8, multiPositive: false, concurrency: 2 };
    const a = await runValidation({ ...base, records: unlabelled });
    assert.ok(Number.isFinite(a.loss));
    assert.equal(a.auroc, undefined);
    const logs: string[] = [];
    const b = await runValidation({ ...base, records, labels: ['Nope'], log: (m) => logs.push(m) });
    assert.equal(b.auroc, undefined);
    assert.ok(Math.abs(b.loss - a.loss) < 1e-9, 'the same loss');
    assert.ok(logs.some((m) => /validation AUROC skipped: no ground truth for label\(s\) "Nope"/.test(m)), logs.join('\n'));
  });
});
