import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { runZeroShotEval, predictionsCsv } from '../../../lib/eval/pipeline';
import { scoreFiles } from '../../../lib/eval/score';
import { resolveLabels } from '../../../lib/eval/labelsets';
import { auroc } from '../../../lib/eval/metrics';
import type { InferenceModel } from '../../../lib/eval/inference';
import type { Pixels } from '../../../lib/eval/zeroshot';
import { normalizeLut } from '../../../lib/data/images';
import { setImageBackend } from '../../../lib/image/decode';

const LUT0 = normalizeLut()[0]; // grey level → CLIP-normalised channel 0, as the addon computes it

/**
 * Image embedding = [mean brightness (CLIP-normalised channel 0), 0.5, 0]; "edema" prompts point along +x,
 * "no edema" along +y, so a brighter image is more "edema". Records the largest batch it saw.
 */
class BrightnessModel implements InferenceModel {
  imageSize = 16;
  logitScale = 5;
  maxBatch = 0;
  images = 0;
  async encodeImages(px: Pixels, shape: number[]) {
    assert.ok(px instanceof Uint8Array && shape.length === 3, 'the eval loop hands the model 8-bit grey [n, S, S]');
    const n = shape[0];
    this.maxBatch = Math.max(this.maxBatch, n);
    this.images += n;
    const per = px.length / n;
    const data = new Float32Array(n * 3);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < per; k++) s += LUT0[px[i * per + k]];
      data.set([s / per + 2, 2, 0], i * 3);
    }
    return { data, shape: [n, 3] };
  }
  async encodeTexts(texts: string[]) {
    return {
      data: Float32Array.from(texts.flatMap((t) => (t.startsWith('no ') ? [0, 1, 0.1] : t.includes('edema') ? [1, 0, 0.1] : [0.3, 0.3, 1]))),
      shape: [texts.length, 3],
    };
  }
}

describe('eval/pipeline: zero-shot eval over a manifest', function () {
  this.timeout(60000);
  let dir: string;
  const levels: number[] = [];
  const edema: number[] = [];
  const mass: (number | null)[] = [];

  after(() => setImageBackend('auto'));
  before(async () => {
    setImageBackend('sharp'); // unit tests load no addon
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xt-pipe-'));
    const rows: string[] = [];
    for (let i = 0; i < 30; i++) {
      const split = i < 24 ? 'test' : 'valid';
      const level = (i * 37) % 256;
      const e = level > 120 ? 1 : 0;
      const m = i % 5 === 0 ? null : i % 2;
      const file = `img${i}.png`;
      await sharp({ create: { width: 24, height: 20, channels: 3, background: { r: level, g: level, b: level } } }).png().toFile(path.join(dir, file));
      rows.push(JSON.stringify({ id: `s${i}`, image: file, split, labels: { Edema: e, Mass: m, Other: 1 } }));
      if (split === 'test') {
        levels.push(level);
        edema.push(e);
        mass.push(m);
      }
    }
    // one unreadable image in the test split: skipped with a warning
    fs.writeFileSync(path.join(dir, 'broken.png'), 'not a png');
    rows.push(JSON.stringify({ id: 'broken', image: 'broken.png', split: 'test', labels: { Edema: 1, Mass: 0, Other: 1 } }));
    fs.writeFileSync(path.join(dir, 'manifest.jsonl'), rows.join('\n') + '\n');
    // a reader's decisions on the test studies
    fs.writeFileSync(path.join(dir, 'reader.csv'), 'id,Edema,Mass\n' +
      levels.map((l, i) => `s${i},${l > 100 ? 1 : 0},${i % 3 === 0 ? 1 : 0}`).join('\n') + '\nbroken,1,0\n');
  });

  it('streams batches, scores against the records, skips a bad image, reports readers beside the model', async () => {
    const model = new BrightnessModel();
    const warnings: string[] = [];
    const progress: number[] = [];
    const r = await runZeroShotEval(model, {
      data: dir, labels: resolveLabels('Edema,Mass'), batchSize: 4, readers: [path.join(dir, 'reader.csv')],
      bootstrap: { resamples: 50 }, onWarning: (m) => warnings.push(m), onProgress: (n) => progress.push(n),
    });
    assert.equal(model.maxBatch, 4);
    assert.equal(model.images, 24);
    assert.equal(r.meta.studies, 24);
    assert.equal(r.meta.skipped, 1);
    assert.ok(warnings.some((w) => /broken\.png/.test(w)), warnings.join('\n'));
    assert.equal(progress[progress.length - 1], 24);
    assert.equal(r.report.predictions!.tasks.Edema.auroc, 1); // brightness separates Edema exactly
    assert.equal(r.report.predictions!.tasks.Edema.n, 24);
    const yMass = mass.map((v) => (v === null ? NaN : v));
    const ids = r.predictions.ids;
    assert.deepEqual(ids, levels.map((_, i) => `s${i}`)); // dataset order
    const massScores = ids.map((_, k) => r.predictions.scores[k * 2 + 1]);
    assert.equal(r.report.predictions!.tasks.Mass.auroc, auroc(yMass, massScores));
    assert.equal(r.report.predictions!.tasks.Mass.n, mass.filter((v) => v !== null).length);
    assert.equal(r.report.decisions!.length, 1);
    assert.ok(r.report.decisions![0].tasks.Edema.mcc! > 0.5);
    assert.ok(typeof r.report.mean!.mcc === 'number');
    assert.ok(Number(r.meta['images/s']) > 0);
  });

  it('the predictions CSV re-scores to the same AUROC with `score`', async () => {
    const r = await runZeroShotEval(new BrightnessModel(), { data: dir, labels: resolveLabels('Edema,Mass'), bootstrap: false });
    const pred = path.join(dir, 'pred.csv');
    fs.writeFileSync(pred, predictionsCsv(r.predictions));
    const labels = path.join(dir, 'labels.csv');
    fs.writeFileSync(labels, 'id,Edema,Mass\n' + levels.map((_, i) => `s${i},${edema[i]},${mass[i] ?? ''}`).join('\n') + '\n');
    const s = await scoreFiles({ labels, predictions: pred, bootstrap: false });
    assert.equal(s.report.predictions!.tasks.Mass.auroc, r.report.predictions!.tasks.Mass.auroc);
    assert.ok(Math.abs(s.report.predictions!.tasks.Mass.f1! - r.report.predictions!.tasks.Mass.f1!) < 1e-12);
  });

  it('chooses thresholds on the validation split (max MCC)', async () => {
    const r = await runZeroShotEval(new BrightnessModel(), {
      data: dir, labels: resolveLabels('Edema'), threshold: { kind: 'max-mcc' }, bootstrap: false,
    });
    const t = r.report.predictions!.tasks.Edema.threshold!;
    assert.ok(t > 0 && t < 1);
    assert.match(r.report.predictions!.threshold, /max MCC/);
  });

  it('defaults to the manifest\'s labels; rejects labels without ground truth and empty splits', async () => {
    const r = await runZeroShotEval(new BrightnessModel(), { data: dir, bootstrap: false });
    assert.deepEqual(Object.keys(r.report.predictions!.tasks), ['Edema', 'Mass', 'Other']);
    assert.equal(r.report.predictions!.tasks.Other.auroc, null); // single class: n/a
    await assert.rejects(runZeroShotEval(new BrightnessModel(), { data: dir, labels: resolveLabels('Fracture') }),
      /no ground truth for label\(s\) "Fracture"/);
    await assert.rejects(runZeroShotEval(new BrightnessModel(), { data: dir, split: 'train' }), /no studies in split "train"/);
  });
});
