import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ZeroShotClassifier, TextEmbeddingCache, scoreStream, type ZeroShotEncoder, type ImageBatch } from '../../../lib/eval/zeroshot';
import { buildPrompts, loadPromptFile, parsePromptFile, TEMPLATE_PRESETS, uniquePromptTexts } from '../../../lib/eval/prompts';
import { resolveLabels, getLabelSet, LABEL_SETS, CHEXPERT_COMPETITION } from '../../../lib/eval/labelsets';

/**
 * A fake encoder in D = 3: texts map to fixed vectors; an image [3,1,1] embeds as its 3 pixel values.
 * Counts calls so caching can be checked.
 */
class FakeEncoder implements ZeroShotEncoder {
  textCalls: string[][] = [];
  imageCalls = 0;
  logitScale = 10;
  constructor(private readonly vecs: Record<string, number[]>) {}
  async encodeTexts(texts: string[]) {
    this.textCalls.push(texts);
    const data = new Float32Array(texts.length * 3);
    texts.forEach((t, i) => {
      const v = this.vecs[t];
      if (!v) throw new Error(`no vector for "${t}"`);
      data.set(v, i * 3);
    });
    return { data, shape: [texts.length, 3] };
  }
  async encodeImages(pixels: Float32Array, shape: number[]) {
    this.imageCalls++;
    return { data: Float32Array.from(pixels), shape: [shape[0], 3] };
  }
}

const norm = (v: number[]): number[] => {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};
const dot = (a: number[], b: number[]): number => a.reduce((s, x, i) => s + x * b[i], 0);

describe('eval/labelsets', () => {
  it('has the built-in sets with the readers\' label names', () => {
    assert.equal(LABEL_SETS.chexpert.labels.length, 14);
    assert.deepEqual(LABEL_SETS.chexpert5.labels.map((l) => l.name), CHEXPERT_COMPETITION);
    assert.equal(LABEL_SETS.mimic.labels.length, 14);
    assert.equal(LABEL_SETS.chestx14.labels.length, 14);
    assert.ok(LABEL_SETS.chestx14.labels.some((l) => l.name === 'Pleural_Thickening' && l.text === 'pleural thickening'));
    assert.ok(LABEL_SETS.padchest.labels.some((l) => l.name === 'pleural effusion'));
    assert.ok(LABEL_SETS.openi.labels.some((l) => l.name === 'Cardiomegaly'));
    assert.equal(getLabelSet('NIH'), LABEL_SETS.chestx14);
    assert.equal(getLabelSet('nope'), undefined);
  });

  it('resolves user lists, files and set ids; rejects duplicates and empty names', () => {
    assert.deepEqual(resolveLabels('Edema, Pleural Effusion').map((l) => l.text), ['edema', 'pleural effusion']);
    assert.equal(resolveLabels('chexpert5').length, 5);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xt-labels-'));
    fs.writeFileSync(path.join(dir, 'l.txt'), '# mine\nEdema\n\nFracture\n');
    fs.writeFileSync(path.join(dir, 'l.json'), '{"labels": ["Edema", "Mass"]}');
    assert.deepEqual(resolveLabels(path.join(dir, 'l.txt')).map((l) => l.name), ['Edema', 'Fracture']);
    assert.deepEqual(resolveLabels(path.join(dir, 'l.json')).map((l) => l.name), ['Edema', 'Mass']);
    assert.throws(() => resolveLabels('Edema,Edema'), /twice/);
    assert.throws(() => resolveLabels('Edema,,Mass'), (e: Error & { code?: string }) => e.code === 'XT_INVALID');
    assert.throws(() => resolveLabels(path.join(dir, 'missing.json')), (e: Error & { code?: string }) => e.code === 'XT_IO');
  });
});

describe('eval/prompts', () => {
  it('builds CheXzero pairs by default and several templates from a preset', () => {
    const p = buildPrompts(resolveLabels('Edema'));
    assert.deepEqual(p, [{ name: 'Edema', positive: ['edema'], negative: ['no edema'] }]);
    const r = buildPrompts(resolveLabels('Edema'), { templates: 'report' });
    assert.equal(r[0].positive.length, TEMPLATE_PRESETS.report.positive.length);
    assert.ok(r[0].negative.includes('no evidence of edema'));
  });

  it('a prompt file sets templates, phrases and explicit prompts; bad files name the field', () => {
    const f = parsePromptFile({
      templates: { positive: ['{label} is present'], negative: ['{} is absent'] },
      labels: { Cardiomegaly: 'enlarged heart', 'No Finding': { positive: ['normal study'], negative: ['abnormal study'] } },
    }, 'p.json');
    const p = buildPrompts(resolveLabels('Cardiomegaly,No Finding,Edema'), { file: f });
    assert.deepEqual(p[0], { name: 'Cardiomegaly', positive: ['enlarged heart is present'], negative: ['enlarged heart is absent'] });
    assert.deepEqual(p[1], { name: 'No Finding', positive: ['normal study'], negative: ['abnormal study'] });
    assert.deepEqual(p[2].positive, ['edema is present']);
    assert.deepEqual(uniquePromptTexts(p, 'cosine'), ['enlarged heart is present', 'normal study', 'edema is present']);
    assert.throws(() => parsePromptFile({ templates: { positive: ['no placeholder'], negative: ['{}'] } }, 'p.json'),
      /p\.json: templates\.positive: template "no placeholder" has no \{\} placeholder/);
    assert.throws(() => parsePromptFile({ label: {} }, 'p.json'), /unknown field "label"/);
    assert.throws(() => parsePromptFile({ labels: { A: { positive: [] } } }, 'p.json'), /labels\["A"\]\.positive/);
    assert.throws(() => parsePromptFile({ templates: 'fancy' }, 'p.json'), /unknown template preset "fancy"/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xt-prompts-'));
    fs.writeFileSync(path.join(dir, 'bad.json'), '{"templates": ');
    assert.throws(() => loadPromptFile(path.join(dir, 'bad.json')), /not valid JSON/);
  });
});

describe('eval/zeroshot', () => {
  const vecs: Record<string, number[]> = {
    edema: [1, 0, 0],
    'no edema': [0, 1, 0],
    'there is edema': [1, 0, 1],
    'there is no edema': [0, 1, 1],
    fracture: [0, 0, 1],
    'no fracture': [1, 1, 0],
  };

  it('paired mode: p = softmax over (τ·cos_pos, τ·cos_neg), τ = the model scale', async () => {
    const enc = new FakeEncoder(vecs);
    const clf = await ZeroShotClassifier.create(enc, buildPrompts(resolveLabels('Edema,Fracture')));
    assert.equal(clf.temperature, 10);
    const img = [0.6, 0.3, 0.2];
    const s = await clf.classifyPixels(Float32Array.from(img), [1, 3, 1, 1]);
    const u = norm(img);
    const want = (p: number[], n: number[]): number => {
      const a = Math.exp(10 * dot(u, norm(p)));
      const b = Math.exp(10 * dot(u, norm(n)));
      return a / (a + b);
    };
    assert.ok(Math.abs(s[0] - want([1, 0, 0], [0, 1, 0])) < 1e-6);
    assert.ok(Math.abs(s[1] - want([0, 0, 1], [1, 1, 0])) < 1e-6);
    assert.deepEqual(Object.keys(clf.toObjects(s)[0]), ['Edema', 'Fracture']);
  });

  it('several templates are averaged as normalised mean directions; cosine mode gives cos_pos', async () => {
    const enc = new FakeEncoder(vecs);
    const prompts = [{ name: 'Edema', positive: ['edema', 'there is edema'], negative: ['no edema', 'there is no edema'] }];
    const img = [0.2, 0.5, 0.9];
    const u = norm(img);
    const meanDir = (a: number[], b: number[]): number[] => norm(norm(a).map((x, i) => x + norm(b)[i]));
    const pos = meanDir([1, 0, 0], [1, 0, 1]);
    const neg = meanDir([0, 1, 0], [0, 1, 1]);
    const paired = await ZeroShotClassifier.create(enc, prompts, { temperature: 1 });
    const p = (await paired.classifyPixels(Float32Array.from(img), [1, 3, 1, 1]))[0];
    assert.ok(Math.abs(p - 1 / (1 + Math.exp(-(dot(u, pos) - dot(u, neg))))) < 1e-6);
    const cos = await ZeroShotClassifier.create(enc, prompts, { mode: 'cosine' });
    const c = (await cos.classifyPixels(Float32Array.from(img), [1, 3, 1, 1]))[0];
    assert.ok(Math.abs(c - dot(u, pos)) < 1e-6);
    await assert.rejects(ZeroShotClassifier.create(enc, prompts, { temperature: -1 }), /temperature/);
  });

  it('encodes each prompt text once (shared cache), and evicts beyond its bound', async () => {
    const enc = new FakeEncoder(vecs);
    const cache = new TextEmbeddingCache(enc, 3);
    await ZeroShotClassifier.create(enc, buildPrompts(resolveLabels('Edema')), { cache });
    await ZeroShotClassifier.create(enc, buildPrompts(resolveLabels('Edema')), { cache });
    assert.equal(cache.encoded, 2);
    assert.equal(enc.textCalls.length, 1);
    await ZeroShotClassifier.create(enc, buildPrompts(resolveLabels('Fracture')), { cache });
    assert.equal(cache.encoded, 4);
    assert.equal(cache.size, 3);
  });

  it('scoreStream consumes batches lazily and aggregates images per study (mean, max)', async () => {
    const enc = new FakeEncoder(vecs);
    const clf = await ZeroShotClassifier.create(enc, buildPrompts(resolveLabels('Edema')), { temperature: 5 });
    const imgs = [[1, 0.1, 0.1], [0.1, 1, 0.1], [0.5, 0.5, 0.1], [0.9, 0.2, 0.3]];
    const keys = ['s1', 's1', 's2', 's3'];
    const single = await clf.classifyPixels(Float32Array.from(imgs.flat()), [4, 3, 1, 1]);
    const events: string[] = [];
    async function* batches(): AsyncGenerator<ImageBatch> {
      for (let i = 0; i < 4; i += 2) {
        events.push(`yield ${i}`);
        yield { pixels: Float32Array.from(imgs.slice(i, i + 2).flat()), shape: [2, 3, 1, 1], keys: keys.slice(i, i + 2) };
      }
    }
    const r = await scoreStream(clf, batches(), { onBatch: (n) => events.push(`scored ${n}`) });
    assert.deepEqual(events, ['yield 0', 'scored 2', 'yield 2', 'scored 4']);
    assert.deepEqual(r.ids, ['s1', 's2', 's3']);
    assert.equal(r.images, 4);
    assert.ok(Math.abs(r.scores[0] - (single[0] + single[1]) / 2) < 1e-7);
    assert.ok(Math.abs(r.scores[2] - single[3]) < 1e-7);
    const m = await scoreStream(clf, batches(), { aggregate: 'max' });
    assert.ok(Math.abs(m.scores[0] - Math.max(single[0], single[1])) < 1e-7);
    async function* bad(): AsyncGenerator<ImageBatch> {
      yield { pixels: new Float32Array(6), shape: [2, 3, 1, 1], keys: ['x'] };
    }
    await assert.rejects(scoreStream(clf, bad()), (e: Error & { code?: string }) => e.code === 'XT_SHAPE');
  });
});
