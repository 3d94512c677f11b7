/**
 * Zero-shot evaluation and inference on the real CLIP model (the tiny fixture CLIP, 64 px, with its Hugging Face
 * tokenizer files): probabilities against an independent computation from the model's raw embeddings, the
 * embed / classify / eval CLIs (synthetic demo data and a CSV manifest), and the HTTP server.
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { loadInferenceModel, type ClipInferenceModel } from '../../lib/eval/model';
import { classify, embedImages, embedTexts } from '../../lib/eval/inference';
import { createServer } from '../../lib/serve/server';
import { decodeNpy } from '../../lib/eval/npy';
import { loadImageTensor } from '../../lib/image/batch';
import { generateSynthetic, SYNTH_LABELS } from '../../lib/data/synth';
import { repoRoot, requireShared } from '../helpers/shared';

const BIN = path.join(repoRoot, 'bin', 'xray-torch.js');

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 300000, env: { ...process.env, XRAY_TORCH_THREADS: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function unit(v: ArrayLike<number>): number[] {
  const n = Math.hypot(...Array.from(v));
  return Array.from(v, (x) => x / n);
}
const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i], 0);

describe('eval on the CLIP model (tiny fixture)', function () {
  this.timeout(300000);
  let modelDir: string;
  let png: string;
  let jpg: string;
  let png2: string;
  let dcm: string;
  let model: ClipInferenceModel;
  let tmp: string;

  before(async function () {
    modelDir = requireShared(this as unknown as Mocha.Context, 'fixtures', 'clip-tiny', 'hf');
    png = requireShared(this as unknown as Mocha.Context, 'data', 'images', 'nih-00000001_000.png');
    png2 = requireShared(this as unknown as Mocha.Context, 'data', 'images', 'nih-00027426_000.png');
    jpg = requireShared(this as unknown as Mocha.Context, 'data', 'images', 'nih-00000001_000.jpg');
    dcm = requireShared(this as unknown as Mocha.Context, 'data', 'images', 'siim-pneumothorax-jpeg-baseline.dcm');
    model = await loadInferenceModel(modelDir);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xt-eval-native-'));
  });
  after(() => model?.dispose());

  it('paired probabilities equal softmax(τ·cos) computed from the raw image and token embeddings', async () => {
    assert.equal(model.imageSize, 64);
    assert.ok(model.logitScale! > 1 && model.logitScale! <= 100);
    const got = (await classify(model, png, 'Edema,Cardiomegaly'))[0];
    // independent path: the float tensor loader (normalised in TS, not natively), the model's tokenizer, encodeTokens
    const px = await loadImageTensor(png, { size: 64 });
    const img = unit((await model.clip.encodeImages(px, [1, 3, 64, 64])).data);
    const texts = ['edema', 'no edema', 'cardiomegaly', 'no cardiomegaly'];
    const ctx = 77;
    const te = await model.clip.encodeTokens(model.clip.tokenizer!.tokenize(texts, ctx), [4, ctx]);
    const d = te.shape[1];
    const t = texts.map((_, i) => unit(te.data.subarray(i * d, (i + 1) * d)));
    const tau = model.logitScale!;
    const p = (a: number[], b: number[]) => 1 / (1 + Math.exp(-tau * (dot(img, a) - dot(img, b))));
    assert.ok(Math.abs(got.Edema - p(t[0], t[1])) < 1e-5, `${got.Edema} vs ${p(t[0], t[1])}`);
    assert.ok(Math.abs(got.Cardiomegaly - p(t[2], t[3])) < 1e-5);
  });

  it('embedImages / embedTexts give unit rows of the model width; PNG and its JPEG copy embed alike', async () => {
    const e = await embedImages(model, [png, jpg, png2]);
    assert.deepEqual(e.shape, [3, 64]);
    const r = [0, 1, 2].map((i) => Array.from(e.data.subarray(i * 64, (i + 1) * 64)));
    for (const v of r) assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-5);
    assert.ok(dot(r[0], r[1]) > dot(r[0], r[2]), 'the JPEG copy is closer than another radiograph');
    const t = await embedTexts(model, ['pleural effusion', 'no pleural effusion']);
    assert.deepEqual(t.shape, [2, 64]);
  });

  it('`embed` writes .npy (numpy layout) and .json', () => {
    const npy = path.join(tmp, 'e.npy');
    const r = cli(['embed', '--model', modelDir, '--images', png, png2, '--out', npy]);
    assert.equal(r.code, 0, r.stderr);
    const a = decodeNpy(fs.readFileSync(npy));
    assert.deepEqual(a.shape, [2, 64]);
    assert.ok(Math.abs(Math.hypot(...Array.from(a.data.subarray(0, 64))) - 1) < 1e-5);
    const js = path.join(tmp, 't.json');
    const t = cli(['embed', '--model', modelDir, '--texts', 'edema', 'no edema', '--out', js, '--no-normalize']);
    assert.equal(t.code, 0, t.stderr);
    const j = JSON.parse(fs.readFileSync(js, 'utf8'));
    assert.deepEqual(j.shape, [2, 64]);
    assert.equal(j.kind, 'text');
    assert.equal(j.embeddings.length, 2);
    const bad = cli(['embed', '--model', modelDir, '--images', path.join(tmp, 'none.png'), '--out', npy]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /none\.png.*\[XT_IO\]/);
  });

  it('`classify` prints a table and JSON that match the library', async () => {
    const lib = await classify(model, [png, png2], 'chexpert5');
    const r = cli(['classify', png, png2, '--model', modelDir, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.length, 2);
    for (const [k, v] of Object.entries(lib[1])) assert.ok(Math.abs(j[1].labels[k] - v) < 1e-6, k);
    const table = cli(['classify', png, '--model', modelDir, '--labels', 'Edema,Mass']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /Image\s+Edema\s+Mass/);
  });

  it('`eval` on the synthetic demo data: JSON (tasks/mean), CSV, predictions and an HTML report with plots', async () => {
    const synth = path.join(tmp, 'synth');
    await generateSynthetic({ out: synth, n: 60, size: 96, seed: 3 });
    const out = path.join(tmp, 'ev.json');
    const html = path.join(tmp, 'ev.html');
    const pred = path.join(tmp, 'pred.csv');
    const r = cli(['eval', '--model', modelDir, '--data', synth, '--split', 'train', '--json', out, '--html', html,
      '--csv', path.join(tmp, 'ev.csv'), '--predictions-out', pred, '--resamples', '50', '--batch-size', '8']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Mean \(\d+\)/);
    const j = JSON.parse(fs.readFileSync(out, 'utf8'));
    assert.equal(j.format, 'manifest');
    assert.ok(j.studies > 30);
    assert.deepEqual(Object.keys(j.predictions.tasks).sort(), [...SYNTH_LABELS].sort());
    for (const t of Object.values(j.predictions.tasks) as { auroc: number | null; n: number }[]) {
      assert.equal(t.n, j.studies);
      assert.ok(t.auroc === null || (t.auroc >= 0 && t.auroc <= 1));
    }
    assert.ok(typeof j.predictions.mean.auroc === 'number');
    assert.ok(j['images/s'] > 0);
    const h = fs.readFileSync(html, 'utf8');
    assert.ok((h.match(/<polyline class="curve"/g) ?? []).length >= 1);
    assert.match(h, /src="data:image\/png;base64,/);
    assert.equal(fs.readFileSync(pred, 'utf8').split('\n')[0], ['id', ...Object.keys(j.predictions.tasks)].join(','));
  });

  it('`eval` on a CSV manifest with cosine scoring and several templates', () => {
    const dir = path.join(tmp, 'csvman');
    fs.mkdirSync(dir);
    const rows = ['id,image,split,Effusion,Mass'];
    const imgs = [png, png2, jpg, png, png2, jpg];
    imgs.forEach((f, i) => rows.push(`r${i},${f},test,${i % 2},${i < 3 ? 1 : 0}`));
    fs.writeFileSync(path.join(dir, 'manifest.csv'), rows.join('\n') + '\n');
    const r = cli(['eval', '--model', modelDir, '--data', path.join(dir, 'manifest.csv'), '--scoring', 'cosine',
      '--templates', 'report', '--json', '--resamples', '0']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.studies, 6);
    assert.equal(j.scoring, 'cosine');
    assert.deepEqual(Object.keys(j.predictions.tasks), ['Effusion', 'Mass']);
  });

  it('serves classify / embed with the model loaded once; bad images get 400 and the server stays up', async () => {
    const s = createServer({ model, maxConcurrent: 1 });
    const port = (await s.listen(0)).port;
    const post = (p: string, body: Buffer, type: string) => new Promise<{ status: number; json: any }>((resolve, reject) => { // eslint-disable-line @typescript-eslint/no-explicit-any
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: p, headers: { 'Content-Type': type }, agent: false }, (res) => {
        const c: Buffer[] = [];
        res.on('data', (x) => c.push(x));
        res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(Buffer.concat(c).toString()) }));
      });
      req.on('error', reject);
      req.end(body);
    });
    try {
      const buf = fs.readFileSync(png);
      const lib = (await classify(model, buf, 'chexpert5'))[0];
      const rs = await Promise.all([0, 1, 2, 3, 4, 5].map((i) =>
        i === 3 ? post('/v1/classify', Buffer.from('GIF89a not really'), 'image/gif') : post('/v1/classify', buf, 'image/png')));
      assert.equal(rs[3].status, 400);
      assert.equal(rs[3].json.error.code, 'bad_image');
      for (const r of rs.filter((_, i) => i !== 3)) {
        assert.equal(r.status, 200);
        for (const [k, v] of Object.entries(lib)) assert.ok(Math.abs(r.json.labels[k] - v) < 1e-6);
      }
      const e = await post('/v1/embed', fs.readFileSync(jpg), 'image/jpeg');
      assert.equal(e.status, 200);
      assert.equal(e.json.dim, 64);
      const d = await post('/v1/classify?labels=Pneumothorax', fs.readFileSync(dcm), 'application/dicom');
      assert.equal(d.status, 200, JSON.stringify(d.json));
      assert.ok(d.json.labels.Pneumothorax > 0 && d.json.labels.Pneumothorax < 1);
    } finally {
      await s.close();
    }
  });
});
