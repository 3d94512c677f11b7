import { strict as assert } from 'assert';
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { promisify } from 'util';
import { checkDataset, formatCheckReport } from '../../../lib/data/check';
import { repoRoot } from '../../helpers/shared';
import { fix, rmScratch, scratchCopy } from '../../helpers/data-fixtures';

const run = promisify(execFile);
const cli = path.join(repoRoot, 'bin', 'xray-torch.js');

describe('data check', () => {
  it('counts studies, decoded images, reports, splits and labels for every format', async () => {
    const cases: [string, string, Record<string, unknown>, number, number, number, Record<string, number>][] = [
      // the dataset's own split names: MIMIC's split file says `validate` (issue 15, defect 6)
      ['mimic', fix('mimic'), { reports: fix('mimic', 'reports') }, 4, 6, 3, { train: 2, validate: 1, test: 1 }],
      ['chexpert', fix('chexpert', 'CheXpert-v1.0-small'), {}, 7, 9, 0, { train: 3, valid: 1, test: 3 }],
      ['nih', fix('nih'), {}, 6, 6, 0, { train: 4, test: 2 }],
      ['padchest', fix('padchest'), {}, 3, 4, 3, {}],
      ['openi', fix('openi'), {}, 3, 6, 3, {}],
      ['manifest', fix('manifest'), {}, 3, 3, 2, { train: 1, valid: 1, test: 1 }],
    ];
    for (const [format, root, opts, studies, images, reports, splits] of cases) {
      const r = await checkDataset(format as never, root, opts);
      assert.equal(r.format, format);
      assert.equal(r.bad.count, 0, `${format}: ${JSON.stringify(r.bad)}`);
      assert.equal(r.studies, studies, format);
      assert.equal(r.images, images, format);
      assert.equal(r.reports, reports, format);
      assert.equal(Object.values(r.splits).reduce((a, b) => a + b, 0), studies);
      if (Object.keys(splits).length) assert.deepEqual(r.splits, splits, format);
      for (const c of Object.values(r.labels)) assert.equal(c.positive + c.negative + c.uncertain + c.missing, studies);
    }
    const m = await checkDataset('mimic', fix('mimic'));
    assert.deepEqual(m.labels.Edema, { positive: 0, negative: 0, uncertain: 1, missing: 3 });
    assert.match(formatCheckReport(m), /^ {2}splits: train 2, validate 1 \(= valid\), test 1$/m);
    const n = await checkDataset('nih', fix('nih'));
    assert.deepEqual(n.labels.Cardiomegaly, { positive: 2, negative: 4, uncertain: 0, missing: 0 });
  });

  it('finds corrupt and missing images by decoding every one, and can stop at the first', async () => {
    const root = scratchCopy('chexpert/CheXpert-v1.0-small');
    try {
      const cut = path.join(root, 'train', 'patient00002', 'study2', 'view2_lateral.jpg');
      const b = fs.readFileSync(cut);
      fs.writeFileSync(cut, b.subarray(0, b.length >> 1));
      const gone = path.join(root, 'valid', 'patient64541', 'study1', 'view1_frontal.jpg');
      fs.rmSync(gone);
      const r = await checkDataset('chexpert', root);
      assert.equal(r.studies, 7);
      assert.equal(r.images, 7);
      assert.equal(r.bad.count, 2);
      const ex = Object.fromEntries(r.bad.examples.map((e) => [e.path, e.reason]));
      assert.match(ex[cut], /^cannot decode image: /);
      assert.match(ex[gone], /^missing image file \(ENOENT\)/);
      assert.deepEqual(r.bad.byReason, { 'cannot decode image': 1, 'missing image file (ENOENT)': 1 });
      await assert.rejects(checkDataset('chexpert', root, { onBadSample: 'fail', concurrency: 1 }), (e: Error & { code?: string }) =>
        /^XT_(IO|INVALID)$/.test(e.code ?? ''),
      );
    } finally {
      rmScratch(root);
    }
  });

  it('CLI: `data check --json` prints one object with the documented shape; `synth` writes a dataset', async function () {
    this.timeout(60000);
    const { stdout } = await run(process.execPath, [cli, 'data', 'check', '--format', 'nih', '--root', fix('nih'), '--json']);
    const o = JSON.parse(stdout);
    for (const k of ['format', 'studies', 'images', 'reports', 'labels', 'splits', 'bad']) assert.ok(k in o, k);
    assert.equal(o.format, 'nih');
    assert.equal(o.studies, 6);
    assert.deepEqual(Object.keys(o.labels.Effusion).sort(), ['missing', 'negative', 'positive', 'uncertain']);
    assert.deepEqual(Object.keys(o.bad).sort(), ['byReason', 'count', 'examples']);
    const text = (await run(process.execPath, [cli, 'data', 'check', '--root', fix('manifest')])).stdout;
    assert.match(text, /^manifest dataset at /);
    assert.match(text, /studies 3, images decoded 3, reports 2/);

    const out = path.join(path.dirname(scratchCopy('manifest')), 'synth');
    try {
      const s = JSON.parse((await run(process.execPath, [cli, 'synth', '--out', out, '--n', '12', '--seed', '2', '--size', '48', '--json'])).stdout);
      assert.equal(s.n, 12);
      const again = JSON.parse((await run(process.execPath, [cli, 'data', 'check', '--format', 'manifest', '--root', out, '--json'])).stdout);
      assert.equal(again.studies, 12);
      assert.equal(again.images, 12);
      assert.equal(again.reports, 12);
      assert.equal(again.bad.count, 0);
    } finally {
      rmScratch(out);
    }
    await assert.rejects(run(process.execPath, [cli, 'data', 'check', '--format', 'nih', '--root', fix('manifest')]), (e: Error & { stderr?: string; code?: number }) => e.code === 1 && /\[XT_IO\]/.test(e.stderr ?? ''));
  });
});
