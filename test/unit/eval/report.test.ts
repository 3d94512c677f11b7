import { strict as assert } from 'assert';
import sharp from 'sharp';
import { scoreData, type ScoreData } from '../../../lib/eval/score';
import { formatTerminal, reportCsv, htmlReport, rocSvg, svgToPng, textTable } from '../../../lib/eval/report';
import { parseCsv } from '../../../lib/data/csv';

function data(): ScoreData {
  const y = { A: Float64Array.from([1, 0, 1, 0, 1, 0, 0, 1, 1, 0]), 'B <&>': Float64Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) };
  return {
    gt: { ids: y.A.map((_, i) => i).join(',').split(','), tasks: ['A', 'B <&>'], y },
    predictions: {
      file: 'model.csv',
      scores: { A: [0.9, 0.3, 0.4, 0.45, 0.8, 0.1, 0.6, 0.7, 0.35, 0.2], 'B <&>': [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1] },
    },
    decisions: [
      { file: '/x/bc4.csv', scores: { A: [1, 0, 1, 0, 1, 0, 1, 1, 0, 0], 'B <&>': [0, 0, 0, 0, 0, 0, 0, 0, 0, 0] } },
      { file: '/x/bc6.csv', scores: { A: [1, 1, 1, 0, 1, 0, 0, 1, 1, 0], 'B <&>': [0, 1, 0, 0, 0, 0, 0, 0, 0, 0] } },
    ],
  };
}

describe('eval/report', () => {
  const d = data();
  const report = scoreData(d, { bootstrap: { resamples: 100 } });

  it('terminal: model table with CIs, n/a for a single-class label, readers beside the model', () => {
    const s = formatTerminal({ title: 'T', meta: { model: 'm' }, report });
    assert.match(s, /model: m/);
    const aRow = s.split('\n').find((l) => l.startsWith('A '))!;
    assert.ok(aRow.includes(report.predictions!.tasks.A.auroc!.toFixed(3)), aRow);
    assert.match(s.split('\n').find((l) => l.startsWith('B <&>'))!, /n\/a/);
    assert.match(s, /bc4 MCC/);
    assert.match(s, /Model MCC/);
    assert.match(s, /Mean \(1\)/);
  });

  it('CSV: one row per source and label plus means, CI bounds as columns', () => {
    const rows = parseCsv(reportCsv(report));
    const h = rows[0];
    assert.deepEqual(h.slice(0, 8), ['source', 'label', 'n', 'positives', 'threshold', 'auroc', 'auroc_lo', 'auroc_hi']);
    const a = rows.find((r) => r[0] === 'predictions' && r[1] === 'A')!;
    assert.equal(Number(a[h.indexOf('auroc')]), report.predictions!.tasks.A.auroc);
    assert.equal(Number(a[h.indexOf('auroc_lo')]), report.predictions!.tasks.A.auroc_ci![0]);
    const b = rows.find((r) => r[0] === 'predictions' && r[1] === 'B <&>')!;
    assert.equal(b[h.indexOf('auroc')], '');
    assert.ok(rows.some((r) => r[0] === '/x/bc6.csv' && r[1] === 'mean'));
    const readers = rows.find((r) => r[0] === 'readers')!;
    assert.equal(Number(readers[h.indexOf('mcc')]), report.mean!.mcc);
    assert.equal(rows.length, 1 + 3 + 3 + 3 + 1);
  });

  it('HTML: self-contained, CI table, inline SVG ROC curves and a PNG data URI that decodes', async () => {
    const html = await htmlReport({ title: 'Eval <report>', report, data: d });
    assert.ok(html.startsWith('<!DOCTYPE html>'));
    assert.ok(!/(src|href)="(https?:)?\/\//.test(html), 'no external resources');
    assert.match(html, /<title>Eval &lt;report&gt;<\/title>/);
    assert.equal((html.match(/<polyline class="curve"/g) ?? []).length, 1); // B is single-class: no curve
    assert.equal((html.match(/<circle class="reader"/g) ?? []).length, 2); // A only: B has no sensitivity
    assert.match(html, /B &lt;&amp;&gt;/);
    assert.match(html, /95% confidence intervals/);
    const m = /<img class="roc-png" alt="[^"]*" src="data:image\/png;base64,([A-Za-z0-9+/=]+)"/.exec(html);
    assert.ok(m, 'PNG data URI');
    const png = Buffer.from(m[1], 'base64');
    const meta = await sharp(png).metadata();
    assert.equal(meta.format, 'png');
    const w = Number(/<svg[^>]* width="(\d+)"/.exec(html)![1]);
    assert.equal(meta.width, w);
    // The curve is drawn: the PNG has clearly blue pixels (#1f77b4).
    const { data: px, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    let blue = 0;
    for (let i = 0; i < px.length; i += info.channels) if (px[i + 2] > 150 && px[i] < 80) blue++;
    assert.ok(blue > 100, `blue pixels: ${blue}`);
  });

  it('rocSvg lays panels in a grid; svgToPng renders it at the SVG size', async () => {
    const svg = rocSvg([{ label: 'x', curve: { fpr: [0, 0, 1], tpr: [0, 1, 1] }, auroc: 1 }, { label: 'y' }], { columns: 2, panel: 200 });
    assert.match(svg, /width="400" height="226"/);
    const meta = await sharp(await svgToPng(svg)).metadata();
    assert.deepEqual([meta.width, meta.height], [400, 226]);
  });

  it('textTable aligns columns', () => {
    assert.equal(textTable(['a', 'bb'], [['xyz', '1']]), 'a    bb\n---  --\nxyz   1');
  });
});
