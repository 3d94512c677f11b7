import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { generateSynthetic, synthImage, synthRow, SYNTH_FINDINGS, SYNTH_LABELS } from '../../../lib/data/synth';
import { openDataset } from '../../../lib/data/readers/index';
import { decodeGreySharp as decodeGrey } from '../../../lib/data/images';

/** Sentences that mention a finding, and what a negated mention looks like. */
const MENTION: Record<string, RegExp> = {
  Cardiomegaly: /cardiomegaly|heart|cardiac silhouette/i,
  'Pleural Effusion': /effusion|costophrenic/i,
  Pneumothorax: /pneumothorax/i,
  Consolidation: /consolidation/i,
  Edema: /edema/i,
  Nodule: /nodule/i,
  'Support Devices': /\btubes?\b|catheter|central line|lines (and|or) tubes|pacemaker|drain|support devices/i,
};
const NEGATED = /^(no |there is no |normal heart size|heart size is normal|the cardiac silhouette is within normal limits|the costophrenic angles are sharp)/i;

describe('data/synth', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xt-synth-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes a manifest dataset clearly labelled SYNTHETIC that the manifest reader reads cleanly', async () => {
    const out = path.join(dir, 'a');
    const r = await generateSynthetic({ out, n: 60, seed: 7, size: 64 });
    assert.equal(r.n, 60);
    assert.equal(r.splits.train + r.splits.valid + r.splits.test, 60);
    assert.match(fs.readFileSync(path.join(out, 'README.md'), 'utf8'), /^# SYNTHETIC chest radiograph dataset — not real patients/);
    assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'dataset.json'), 'utf8')).synthetic, true);
    const rows = fs.readFileSync(r.manifest, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(rows.length, 60);
    assert.ok(rows.every((x) => x.synthetic === true && x.view === 'PA'));
    const ds = await openDataset('auto', out);
    assert.equal(ds.format, 'manifest');
    assert.equal(ds.bad.count, 0);
    assert.equal(ds.records.length, 60);
    assert.deepEqual(ds.labelNames, [...SYNTH_LABELS]);
    assert.deepEqual(ds.records[0].sections, rows[0].sections);
    const g = await decodeGrey(ds.records[0].images[0], { mode: 'none' });
    assert.deepEqual([g.width, g.height], [64, 64]);
    await assert.rejects(generateSynthetic({ out: path.join(dir, 'z'), n: 0 }), (e: Error & { code?: string }) => e.code === 'XT_INVALID' && /--n/.test(e.message));
    fs.mkdirSync(path.join(dir, 'busy'));
    fs.writeFileSync(path.join(dir, 'busy', 'thesis.tex'), 'x');
    await assert.rejects(generateSynthetic({ out: path.join(dir, 'busy'), n: 2 }), /not empty and not a synth output/);
  });

  it('is deterministic per seed; a larger n extends a smaller one', async () => {
    const a = path.join(dir, 'd1');
    const b = path.join(dir, 'd2');
    await generateSynthetic({ out: a, n: 12, seed: 3, size: 48 });
    await generateSynthetic({ out: b, n: 20, seed: 3, size: 48 });
    const ma = fs.readFileSync(path.join(a, 'manifest.jsonl'), 'utf8').trim().split('\n');
    const mb = fs.readFileSync(path.join(b, 'manifest.jsonl'), 'utf8').trim().split('\n');
    assert.deepEqual(ma, mb.slice(0, 12));
    for (const f of ['synth-000000.png', 'synth-000011.png'])
      assert.ok(fs.readFileSync(path.join(a, 'images', f)).equals(fs.readFileSync(path.join(b, 'images', f))), f);
    assert.notDeepEqual(synthRow(3, 0), synthRow(4, 0));
    assert.notDeepEqual(Array.from(synthImage(3, 0, 48)), Array.from(synthImage(4, 0, 48)));
  });

  it('reports agree with the labels: positives described, negatives only ever negated', () => {
    for (let i = 0; i < 800; i++) {
      const row = synthRow(1, i);
      const sentences = row.report.split(/(?<=\.)\s+/);
      for (const f of SYNTH_FINDINGS) {
        const mentions = sentences.filter((s) => MENTION[f].test(s));
        if (row.labels[f] === 1) assert.ok(mentions.some((s) => !NEGATED.test(s)), `${i} ${f} positive but not described: ${row.report}`);
        else assert.ok(mentions.every((s) => NEGATED.test(s)), `${i} ${f} negative but described: ${row.report}`);
      }
      const normal = row.labels['No Finding'] === 1;
      assert.equal(normal, SYNTH_FINDINGS.every((f) => row.labels[f] === 0));
      if (normal) assert.match(row.sections.impression, /^(No acute cardiopulmonary (process|abnormality)|Normal chest radiograph)\.$/);
      assert.equal(row.report, `${row.sections.findings} ${row.sections.impression}`);
    }
  });

  it('multi-label with plausible co-occurrence and every finding reasonably frequent', () => {
    const n = 3000;
    const rows = Array.from({ length: n }, (_, i) => synthRow(0, i).labels);
    const p = (f: (l: Record<string, number>) => boolean) => rows.filter(f).length / n;
    for (const f of SYNTH_LABELS) {
      const prev = p((l) => l[f] === 1);
      assert.ok(prev > 0.08 && prev < 0.45, `${f} prevalence ${prev}`);
    }
    assert.ok(p((l) => SYNTH_FINDINGS.filter((f) => l[f] === 1).length >= 2) > 0.15, 'multi-label cases');
    const cond = (a: string, b: string, bv: number) => p((l) => l[a] === 1 && l[b] === bv) / p((l) => l[b] === bv);
    assert.ok(cond('Edema', 'Cardiomegaly', 1) > 3 * cond('Edema', 'Cardiomegaly', 0), 'edema goes with cardiomegaly');
    assert.ok(cond('Support Devices', 'Pneumothorax', 1) > 2 * cond('Support Devices', 'Pneumothorax', 0), 'devices go with pneumothorax');
  });

  it('findings are visible in the pixels at 64 px', () => {
    const S = 64;
    const stats: Record<string, { pos: number[]; neg: number[] }> = {};
    const add = (k: string, pos: boolean, v: number) => {
      stats[k] ??= { pos: [], neg: [] };
      (pos ? stats[k].pos : stats[k].neg).push(v);
    };
    const meanOf = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    for (let i = 0; i < 240; i++) {
      const row = synthRow(5, i);
      const px = synthImage(5, i, S);
      const region = (x0: number, x1: number, y0: number, y1: number) => {
        let s = 0;
        let c = 0;
        for (let y = Math.floor(y0 * S); y < y1 * S; y++) for (let x = Math.floor(x0 * S); x < x1 * S; x++, c++) s += px[y * S + x];
        return s / c;
      };
      // lung bases (effusion), very bright pixels (devices), darkest lateral lung (pneumothorax), heart width
      add('Pleural Effusion', row.labels['Pleural Effusion'] === 1, Math.max(region(0.2, 0.4, 0.62, 0.72), region(0.6, 0.8, 0.62, 0.72)));
      add('Support Devices', row.labels['Support Devices'] === 1, px.filter((v) => v > 235).length);
      add('Cardiomegaly', row.labels.Cardiomegaly === 1, region(0.3, 0.4, 0.6, 0.7) + region(0.66, 0.76, 0.6, 0.7));
      let dark = 0;
      for (let y = Math.floor(0.2 * S); y < 0.7 * S; y++) for (let x = Math.floor(0.15 * S); x < 0.85 * S; x++) if (px[y * S + x] < 22) dark++;
      add('Pneumothorax', row.labels.Pneumothorax === 1, dark);
    }
    for (const [k, s] of Object.entries(stats)) {
      const d = meanOf(s.pos) - meanOf(s.neg);
      const sd = Math.sqrt(meanOf(s.neg.map((v) => (v - meanOf(s.neg)) ** 2))) || 1;
      assert.ok(s.pos.length >= 10, `${k}: ${s.pos.length} positives`);
      assert.ok(d / sd > 1, `${k}: effect ${d.toFixed(2)} vs sd ${sd.toFixed(2)}`);
    }
  });
});
