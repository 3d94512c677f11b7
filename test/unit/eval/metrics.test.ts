import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import {
  auroc, auprc, confusionAt, f1, mcc, sensitivity, specificity, precision, chooseThreshold, evaluate,
  mulberry32, percentile, macroMean, resolveThresholds, poolReaders, rocCurve, LabelScores,
} from '../../../lib/eval/metrics';
import { repoRoot } from '../../helpers/shared';

interface At {
  threshold: number;
  f1: number | null;
  mcc: number | null;
  sensitivity: number | null;
  specificity: number | null;
  precision: number | null;
}
interface Case {
  name: string;
  y: number[];
  s: number[];
  auroc: number | null;
  auprc: number | null;
  at: At[];
  youden_threshold: number | null;
  mcc_threshold: number | null;
  roc: { fpr: number[]; tpr: number[]; thresholds: number[] } | null;
}
type CIs = Record<string, [number, number] | null | number>;
interface Boot {
  name: string;
  seed: number;
  resamples: number;
  threshold: number;
  tasks: ({ y: (number | null)[]; s: number[] } & CIs)[];
  mean: CIs;
}
const fx = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test/fixtures/metrics/sklearn_cases.json'), 'utf8')) as {
  prng: { seed: number; first: number[] };
  cases: Case[];
  bootstrap: Boot[];
};

function close(got: number | null | undefined, want: number | null, what: string, tol = 1e-9): void {
  if (want === null) {
    assert.equal(got, null, `${what}: expected null (n/a), got ${got}`);
    return;
  }
  assert.ok(typeof got === 'number', `${what}: expected ${want}, got ${got}`);
  assert.ok(Math.abs(got - want) <= tol, `${what}: expected ${want}, got ${got} (diff ${Math.abs(got - want)})`);
}

describe('eval/metrics against scikit-learn fixtures', () => {
  it('has the fixture cases (ties, imbalanced, single-class)', () => {
    assert.ok(fx.cases.length >= 15);
    assert.ok(fx.cases.some((c) => c.auroc === null));
  });

  for (const c of fx.cases) {
    it(`${c.name}: AUROC, AUPRC, threshold metrics, chosen thresholds, ROC curve`, () => {
      close(auroc(c.y, c.s), c.auroc, 'auroc');
      close(auprc(c.y, c.s), c.auprc, 'auprc');
      for (const a of c.at) {
        const cm = confusionAt(c.y, c.s, a.threshold);
        close(f1(cm), a.f1, `f1@${a.threshold}`);
        close(mcc(cm), a.mcc, `mcc@${a.threshold}`);
        close(sensitivity(cm), a.sensitivity, `sensitivity@${a.threshold}`);
        close(specificity(cm), a.specificity, `specificity@${a.threshold}`);
        close(precision(cm), a.precision, `precision@${a.threshold}`);
      }
      assert.equal(chooseThreshold(c.y, c.s, 'youden'), c.youden_threshold);
      assert.equal(chooseThreshold(c.y, c.s, 'mcc'), c.mcc_threshold);
      const roc = rocCurve(c.y, c.s);
      if (c.roc === null) assert.equal(roc, null);
      else {
        assert.ok(roc);
        assert.deepEqual(roc.thresholds, c.roc.thresholds);
        assert.equal(roc.fpr.length, c.roc.fpr.length);
        roc.fpr.forEach((v, i) => close(v, c.roc!.fpr[i], `roc fpr[${i}]`));
        roc.tpr.forEach((v, i) => close(v, c.roc!.tpr[i], `roc tpr[${i}]`));
      }
    });
  }

  it('mulberry32 reproduces the Python replay of the stream', () => {
    const r = mulberry32(fx.prng.seed);
    for (const v of fx.prng.first) assert.equal(r(), v);
  });

  for (const b of fx.bootstrap) {
    it(`bootstrap ${b.name}: ${b.resamples} resamples, per-label and macro-mean 95% CIs match`, () => {
      const labels: LabelScores[] = b.tasks.map((t, i) => ({
        name: `t${i}`,
        y: t.y.map((v) => (v === null ? NaN : v)),
        scores: t.s,
      }));
      const res = evaluate(labels, { thresholds: b.threshold, bootstrap: { resamples: b.resamples, seed: b.seed } });
      for (const [i, t] of b.tasks.entries()) {
        for (const m of ['auroc', 'auprc', 'f1', 'mcc', 'sensitivity', 'specificity']) {
          const want = t[`${m}_ci`] as [number, number];
          const got = (res.tasks[`t${i}`] as unknown as Record<string, [number, number]>)[`${m}_ci`];
          close(got[0], want[0], `t${i} ${m}_ci lo`);
          close(got[1], want[1], `t${i} ${m}_ci hi`);
        }
      }
      for (const m of ['auroc', 'auprc', 'f1', 'mcc', 'sensitivity', 'specificity']) {
        const want = b.mean[`${m}_ci`] as [number, number];
        const got = (res.mean as unknown as Record<string, [number, number]>)[`${m}_ci`];
        close(got[0], want[0], `mean ${m}_ci lo`);
        close(got[1], want[1], `mean ${m}_ci hi`);
      }
    });
  }
});

describe('eval/metrics behaviour', () => {
  it('percentile matches numpy linear interpolation', () => {
    // np.percentile([3, 1, 4, 1, 5], [2.5, 50, 97.5]) -> [1.0, 3.0, 4.9]
    close(percentile([3, 1, 4, 1, 5], 2.5), 1.0, 'p2.5');
    close(percentile([3, 1, 4, 1, 5], 50), 3.0, 'p50');
    close(percentile([3, 1, 4, 1, 5], 97.5), 4.9, 'p97.5');
    assert.equal(percentile([], 50), null);
  });

  it('macroMean skips n/a labels', () => {
    assert.equal(macroMean([0.5, null, 1]), 0.75);
    assert.equal(macroMean([null, null]), null);
  });

  it('a single-class label is n/a, and the mean is over the defined labels only', () => {
    const res = evaluate([
      { name: 'A', y: [0, 1, 0, 1], scores: [0.1, 0.9, 0.2, 0.8] },
      { name: 'B', y: [0, 0, 0, 0], scores: [0.1, 0.9, 0.2, 0.8] },
    ], { bootstrap: false });
    assert.equal(res.tasks.B.auroc, null);
    assert.equal(res.tasks.B.mcc, null);
    assert.equal(res.tasks.A.auroc, 1);
    assert.equal(res.mean.auroc, 1);
    assert.equal(res.mean.labels, 1);
  });

  it('missing labels (NaN) leave the row out of that label only', () => {
    // Valid rows: negative 0.5, positives 0.9 and 0.2 -> AUROC 0.5 (the missing row at 0.95 would change it).
    const res = evaluate([{ name: 'A', y: [0, 1, NaN, 1], scores: [0.5, 0.9, 0.95, 0.2] }], { bootstrap: false });
    assert.equal(res.tasks.A.n, 3);
    assert.equal(res.tasks.A.positives, 2);
    assert.equal(res.tasks.A.auroc, 0.5);
  });

  it('rejects bad labels and scores with coded errors', () => {
    assert.throws(() => auroc([0, 2], [0.1, 0.2]), (e: Error & { code?: string }) => e.code === 'XT_INVALID');
    assert.throws(() => auroc([0, 1], [0.1]), (e: Error & { code?: string }) => e.code === 'XT_SHAPE');
    assert.throws(() => auroc([0, 1], [0.1, NaN]), (e: Error & { code?: string }) => e.code === 'XT_INVALID');
  });

  it('threshold policies: fixed, per label, and chosen on a validation split', () => {
    const val: LabelScores[] = [{ name: 'A', y: [0, 0, 1, 1], scores: [0.1, 0.3, 0.35, 0.9] }];
    assert.deepEqual(resolveThresholds({ kind: 'fixed', value: 0.5 }, ['A']), { A: 0.5 });
    assert.deepEqual(resolveThresholds({ kind: 'max-mcc' }, ['A', 'Z'], val), { A: 0.35, Z: null });
    assert.deepEqual(resolveThresholds({ kind: 'youden' }, ['A'], val), { A: 0.35 });
    assert.deepEqual(resolveThresholds({ kind: 'per-label', values: { A: 0.2 }, fallback: 0.6 }, ['A', 'B']),
      { A: 0.2, B: 0.6 });
    assert.throws(() => resolveThresholds({ kind: 'youden' }, ['A']), /validation/);
    assert.throws(() => resolveThresholds({ kind: 'per-label', values: {} }, ['A']), /no threshold/);
  });

  it('bootstrap is deterministic for a seed and differs across seeds', () => {
    const y = Array.from({ length: 60 }, (_, i) => i % 2);
    const s = y.map((v, i) => v * 0.3 + ((i * 7919) % 61) / 61);
    const a = evaluate([{ name: 'A', y, scores: s }], { bootstrap: { seed: 1, resamples: 200 } });
    const b = evaluate([{ name: 'A', y, scores: s }], { bootstrap: { seed: 1, resamples: 200 } });
    const c = evaluate([{ name: 'A', y, scores: s }], { bootstrap: { seed: 2, resamples: 200 } });
    assert.deepEqual(a.tasks.A.auroc_ci, b.tasks.A.auroc_ci);
    assert.notDeepEqual(a.tasks.A.auroc_ci, c.tasks.A.auroc_ci);
    const [lo, hi] = a.tasks.A.auroc_ci!;
    assert.ok(lo < a.tasks.A.auroc! && a.tasks.A.auroc! < hi);
  });

  it('poolReaders averages reader means and pools aligned resamples', () => {
    const y = [0, 1, 0, 1, 1, 0, 0, 1, 0, 1];
    const r1 = evaluate([{ name: 'A', y, scores: [0, 1, 0, 1, 0, 0, 1, 1, 0, 1] }], { rank: false });
    const r2 = evaluate([{ name: 'A', y, scores: [0, 1, 1, 1, 1, 0, 0, 0, 0, 1] }], { rank: false });
    const m = poolReaders([r1, r2], ['mcc', 'f1']);
    close(m.mcc!, (r1.mean.mcc! + r2.mean.mcc!) / 2, 'pooled mcc');
    assert.ok(m.mcc_ci && m.mcc_ci[0] <= m.mcc! && m.mcc! <= m.mcc_ci[1]);
  });
});
