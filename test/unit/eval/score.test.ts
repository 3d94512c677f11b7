import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { scoreFiles, readTable } from '../../../lib/eval/score';
import { IdMatcher, normalizeId } from '../../../lib/eval/study-ids';
import { auroc } from '../../../lib/eval/metrics';
import { requireShared } from '../../helpers/shared';

const TASKS = ['Atelectasis', 'Cardiomegaly', 'Consolidation', 'Edema', 'Pleural Effusion'];
// sklearn matthews_corrcoef / f1_score per reader (order of TASKS), rows matched by Study.
const SKLEARN_MCC: Record<string, number[]> = {
  bc4: [0.55705403577742, 0.519594144616924, 0.3648077295347336, 0.5244299842257224, 0.7589518614495124],
  bc6: [0.5220361352215314, 0.5788040792265103, 0.2917187264944398, 0.4900192209297453, 0.5727823212588079],
  bc8: [0.55985976497092, 0.6055125384895872, 0.41430558606047296, 0.5088405031257074, 0.6751671684441101],
};
const SKLEARN_F1_MEAN: Record<string, number> = { bc4: 0.6192236812994059, bc6: 0.589863703104611, bc8: 0.6389135198949177 };

function tmpdir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'xt-score-'));
}

function close(a: number | null | undefined, b: number, tol = 1e-9, what = ''): void {
  assert.ok(typeof a === 'number' && Math.abs(a - b) <= tol, `${what}: expected ${b}, got ${a}`);
}

describe('eval/score: radiologist benchmark (CheXpert test)', function () {
  let dir: string;
  before(function () {
    dir = requireShared(this as unknown as Mocha.Context, 'data', 'chexpert-test');
  });

  it('three radiologists vs the majority vote on the 5 competition tasks: mean MCC 0.530', async () => {
    const files = ['bc4', 'bc6', 'bc8'].map((b) => path.join(dir, 'radiologists', `${b}.csv`));
    const { report } = await scoreFiles({
      labels: path.join(dir, 'groundtruth.csv'), decisions: files, tasks: TASKS, bootstrap: { resamples: 200 },
    });
    assert.equal(report.rows, 500);
    assert.equal(report.mean!.mcc!.toFixed(3), '0.530');
    close(report.mean!.mcc, 0.529592253321743, 1e-12, 'mean mcc');
    close(report.mean!.f1, (0.6192236812994059 + 0.589863703104611 + 0.6389135198949177) / 3, 1e-12, 'mean f1');
    report.decisions!.forEach((d, i) => {
      const b = ['bc4', 'bc6', 'bc8'][i];
      assert.equal(d.file, files[i]);
      TASKS.forEach((t, k) => close(d.tasks[t].mcc, SKLEARN_MCC[b][k], 1e-12, `${b} ${t} mcc`));
      close(d.mean.f1, SKLEARN_F1_MEAN[b], 1e-12, `${b} mean f1`);
      assert.ok(d.tasks.Edema.mcc_ci![0] < d.tasks.Edema.mcc! && d.tasks.Edema.mcc! < d.tasks.Edema.mcc_ci![1]);
    });
    const ci = report.mean!.mcc_ci!;
    assert.ok(ci[0] < 0.5296 && 0.5296 < ci[1] && ci[1] - ci[0] < 0.15, `mean mcc CI ${ci}`);
  });

  it('matches columns by name: the radiologist files order Lung Lesion / Lung Opacity differently', async () => {
    const gt = await readTable(path.join(dir, 'groundtruth.csv'));
    const bc4 = await readTable(path.join(dir, 'radiologists', 'bc4.csv'));
    assert.notDeepEqual(gt.header, bc4.header);
    const { report } = await scoreFiles({
      labels: path.join(dir, 'groundtruth.csv'), decisions: [path.join(dir, 'radiologists', 'bc4.csv')],
      tasks: ['Lung Opacity'], bootstrap: false,
    });
    // Scoring bc4's "Lung Lesion" column against ground-truth "Lung Opacity" (a positional mix-up) would be near 0.
    assert.ok(report.decisions![0].tasks['Lung Opacity'].mcc! > 0.3);
  });

  it('matches ids written differently (reader ids without the CheXpert-v1.0/ prefix)', async () => {
    const t = tmpdir();
    const src = fs.readFileSync(path.join(dir, 'groundtruth.csv'), 'utf8');
    const renamed = src.replace(/CheXpert-v1\.0\//g, '');
    fs.writeFileSync(path.join(t, 'gt.csv'), renamed);
    const { report } = await scoreFiles({
      labels: path.join(t, 'gt.csv'), decisions: ['bc4', 'bc6', 'bc8'].map((b) => path.join(dir, 'radiologists', `${b}.csv`)),
      tasks: TASKS, bootstrap: false,
    });
    close(report.mean!.mcc, 0.529592253321743, 1e-12, 'mean mcc');
  });
});

describe('eval/score: predictions and errors', () => {
  const t = tmpdir();
  const labels = path.join(t, 'labels.csv');
  // 8 studies; "B" has an uncertain (-1) and a blank label.
  fs.writeFileSync(labels, [
    'Study,Sex,A,B',
    'p1/s1,M,1,0', 'p2/s1,F,0,1', 'p3/s1,M,1,-1', 'p4/s1,F,0,0', 'p5/s1,M,1,1', 'p6/s1,F,0,', 'p7/s1,M,0,1', 'p8/s1,F,1,0',
  ].join('\n') + '\n');
  const scoresA = [0.9, 0.2, 0.4, 0.5, 0.7, 0.1, 0.6, 0.8];
  const scoresB = [0.3, 0.8, 0.9, 0.2, 0.6, 0.5, 0.4, 0.1];

  it('scores per-image predictions (averaged per study, columns in another order) with AUROC and CIs', async () => {
    const pred = path.join(t, 'pred.csv');
    // Two images per study, ids are image paths under the study; columns B before A.
    const rows = ['Path,B,A'];
    scoresA.forEach((a, i) => {
      rows.push(`data/p${i + 1}/s1/view1_frontal.jpg,${scoresB[i] + 0.05},${a + 0.05}`);
      rows.push(`data/p${i + 1}/s1/view2_lateral.jpg,${scoresB[i] - 0.05},${a - 0.05}`);
    });
    fs.writeFileSync(pred, rows.join('\n') + '\n');
    const { report } = await scoreFiles({ labels, predictions: pred, bootstrap: { resamples: 100, seed: 3 } });
    assert.deepEqual(report.tasks, ['A', 'B']); // Sex is not a label column
    const yA = [1, 0, 1, 0, 1, 0, 0, 1];
    close(report.predictions!.tasks.A.auroc, auroc(yA, scoresA)!, 1e-12, 'A auroc');
    // B: the uncertain and the blank rows are left out.
    const yB = [0, 1, NaN, 0, 1, NaN, 1, 0];
    close(report.predictions!.tasks.B.auroc, auroc(yB, scoresB)!, 1e-12, 'B auroc');
    assert.equal(report.predictions!.tasks.B.n, 6);
    assert.ok(Array.isArray(report.predictions!.tasks.A.auroc_ci));
    close(report.predictions!.mean.auroc, (auroc(yA, scoresA)! + auroc(yB, scoresB)!) / 2, 1e-12, 'mean');
    assert.equal(report.predictions!.threshold, 'fixed 0.5');
  });

  it('uncertain labels can count as positive', async () => {
    const pred = path.join(t, 'pred2.csv');
    fs.writeFileSync(pred, 'Study,A,B\n' + scoresA.map((a, i) => `p${i + 1}/s1,${a},${scoresB[i]}`).join('\n') + '\n');
    const { report } = await scoreFiles({ labels, predictions: pred, uncertain: 'one', bootstrap: false });
    assert.equal(report.predictions!.tasks.B.n, 7);
  });

  it('per-label thresholds and thresholds chosen on a validation split', async () => {
    const pred = path.join(t, 'pred3.csv');
    fs.writeFileSync(pred, 'Study,A,B\n' + scoresA.map((a, i) => `p${i + 1}/s1,${a},${scoresB[i]}`).join('\n') + '\n');
    const r1 = await scoreFiles({ labels, predictions: pred, bootstrap: false, policy: { kind: 'per-label', values: { A: 0.65, B: 0.55 } } });
    assert.equal(r1.report.predictions!.tasks.A.threshold, 0.65);
    // A at 0.65: predicted positive p1 (0.9), p5 (0.7), p8 (0.8) -> tp 3, fn 1 (p3), fp 0 -> sensitivity 0.75.
    close(r1.report.predictions!.tasks.A.sensitivity, 0.75, 1e-12, 'sens');
    close(r1.report.predictions!.tasks.A.specificity, 1, 1e-12, 'spec');
    const r2 = await scoreFiles({ labels, predictions: pred, bootstrap: false, policy: { kind: 'youden' },
      validation: { labels, predictions: pred } });
    // Youden on A: J = 0.25, 0.5, 0.75, 0.5, 0.25, 0.5, 0.25 at 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.2 -> 0.7.
    assert.equal(r2.report.predictions!.tasks.A.threshold, 0.7);
    assert.match(r2.report.predictions!.threshold, /Youden/);
  });

  it('rejects uncovered rows, missing columns, bad cells and duplicate decisions with coded errors', async () => {
    const w = (name: string, text: string): string => {
      const p = path.join(t, name);
      fs.writeFileSync(p, text);
      return p;
    };
    const few = w('few.csv', 'Study,A,B\np1/s1,0.1,0.2\n');
    await assert.rejects(scoreFiles({ labels, predictions: few }), (e: Error & { code?: string }) =>
      e.code === 'XT_INVALID' && /7 of 8 labelled rows have no prediction/.test(e.message));
    const nocol = w('nocol.csv', 'Study,A\n' + scoresA.map((a, i) => `p${i + 1}/s1,${a}`).join('\n'));
    await assert.rejects(scoreFiles({ labels, predictions: nocol, tasks: ['A', 'B'] }), /no column "B"/);
    const badcell = w('bad.csv', 'Study,A\n' + scoresA.map((a, i) => `p${i + 1}/s1,${i === 3 ? 'high' : a}`).join('\n'));
    await assert.rejects(scoreFiles({ labels, predictions: badcell, tasks: ['A'] }), /bad\.csv:5 column "A": score "high"/);
    const dup = w('dup.csv', 'Study,A\np1/s1,1\n' + scoresA.map((_, i) => `p${i + 1}/s1,0`).join('\n'));
    await assert.rejects(scoreFiles({ labels, decisions: [dup], tasks: ['A'] }), /second row for "p1\/s1"/);
    const notbin = w('nb.csv', 'Study,A\n' + scoresA.map((a, i) => `p${i + 1}/s1,${a}`).join('\n'));
    await assert.rejects(scoreFiles({ labels, decisions: [notbin], tasks: ['A'] }), /expected 0 or 1/);
    await assert.rejects(scoreFiles({ labels }), /--predictions/);
    await assert.rejects(scoreFiles({ labels, predictions: path.join(t, 'absent.csv') }),
      (e: Error & { code?: string }) => e.code === 'XT_IO');
  });
});

describe('eval/ids', () => {
  it('normalises and matches prefixes, suffixes and image paths, never ambiguous short suffixes', () => {
    assert.equal(normalizeId(' a\\b//c/ '), 'a/b/c');
    const m = new IdMatcher(['CheXpert-v1.0/test/patient1/study1', 'CheXpert-v1.0/test/patient2/study1']);
    assert.equal(m.match('CheXpert-v1.0/test/patient1/study1/'), 'CheXpert-v1.0/test/patient1/study1');
    assert.equal(m.match('test/patient2/study1'), 'CheXpert-v1.0/test/patient2/study1');
    assert.equal(m.match('/data/CheXpert-v1.0/test/patient2/study1/view1_frontal.jpg'), 'CheXpert-v1.0/test/patient2/study1');
    assert.equal(m.match('study1'), undefined);
    assert.equal(m.match('test/patient3/study1'), undefined);
  });
});
