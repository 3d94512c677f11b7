/**
 * Binary classification metrics per label, threshold policies, macro means and bootstrap confidence intervals.
 *
 * Conventions (checked against scikit-learn by test/unit/eval/metrics.test.ts, fixtures made by
 * scripts/fixtures/make_metrics_fixtures.py):
 * - labels `y`: 1 positive, 0 negative, NaN missing (the row is left out of that label); anything else is an error;
 * - a row is predicted positive when its score is >= the threshold;
 * - AUROC is the Mann–Whitney statistic with ties counted one half (= sklearn roc_auc_score);
 * - AUPRC is average precision, Σ (Rₙ − Rₙ₋₁)·Pₙ over distinct thresholds (= sklearn average_precision_score);
 * - F1 and precision are 0 when there is no true positive, MCC is 0 when a margin is empty (sklearn's choices);
 * - a label whose (non-missing) rows hold a single class is n/a: every metric is null, never 0.5 or 0;
 * - macro means are over the labels that are defined;
 * - bootstrap: resample the rows with replacement (one shared draw for every label, so the macro mean's CI is
 *   right), mulberry32 PRNG, index = floor(u·n); a resample where a label is single-class is skipped for that
 *   label, and for the mean when any averaged label is; CI = numpy's linear percentiles 2.5 and 97.5.
 */
import { xtError } from '../errors';

export type Metric = 'auroc' | 'auprc' | 'f1' | 'mcc' | 'sensitivity' | 'specificity' | 'precision';
export const THRESHOLD_METRICS: (keyof ThresholdMetrics & Metric)[] = ['f1', 'mcc', 'sensitivity', 'specificity', 'precision'];
export const RANK_METRICS: Metric[] = ['auroc', 'auprc'];

export type Interval = [number, number];

export interface Confusion {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

// ---------------------------------------------------------------------------------------------
// PRNG and percentiles
// ---------------------------------------------------------------------------------------------

/** mulberry32: a small, fast, seeded 32-bit PRNG; returns uniform doubles in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** numpy.percentile(values, q) with the default 'linear' method (q in [0, 100]); null for no values. */
export function percentile(values: ArrayLike<number>, q: number): number | null {
  const n = values.length;
  if (n === 0) return null;
  const a = Float64Array.from(values).sort();
  const quantile = q / 100;
  const virtual = n * quantile + (1 - quantile) - 1;
  const lo = Math.min(Math.max(Math.floor(virtual), 0), n - 1);
  const hi = Math.min(lo + 1, n - 1);
  const t = virtual - Math.floor(virtual);
  const x = a[lo];
  const y = a[hi];
  const d = y - x;
  return t >= 0.5 ? y - d * (1 - t) : x + d * t;
}

/** Mean of the non-null values, or null when there is none. */
export function macroMean(values: (number | null | undefined)[]): number | null {
  let s = 0;
  let k = 0;
  for (const v of values) {
    if (v === null || v === undefined || Number.isNaN(v)) continue;
    s += v;
    k++;
  }
  return k === 0 ? null : s / k;
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

function checkPair(y: ArrayLike<number>, s: ArrayLike<number>, what = 'scores'): void {
  if (y.length !== s.length) {
    throw xtError('XT_SHAPE', `labels and ${what} differ in length (${y.length} vs ${s.length})`);
  }
  for (let i = 0; i < y.length; i++) {
    const v = y[i];
    if (v !== 0 && v !== 1 && !Number.isNaN(v)) {
      throw xtError('XT_INVALID', `label at row ${i} is ${v}: expected 0, 1 or NaN (missing)`);
    }
    if (!Number.isNaN(v) && !Number.isFinite(s[i])) {
      throw xtError('XT_INVALID', `${what} at row ${i} is ${s[i]}: expected a finite number`);
    }
  }
}

/** Number of positives and negatives among the non-missing rows. */
export function classCounts(y: ArrayLike<number>): { positives: number; negatives: number } {
  let p = 0;
  let n = 0;
  for (let i = 0; i < y.length; i++) {
    if (y[i] === 1) p++;
    else if (y[i] === 0) n++;
  }
  return { positives: p, negatives: n };
}

export function isSingleClass(y: ArrayLike<number>): boolean {
  const c = classCounts(y);
  return c.positives === 0 || c.negatives === 0;
}

// ---------------------------------------------------------------------------------------------
// Ranking metrics over a pre-sorted label (weighted, for the bootstrap)
// ---------------------------------------------------------------------------------------------

/** One label's non-missing rows sorted by score (descending), ties grouped. Built once, reused per resample. */
export class RankedLabel {
  /** Row indices, highest score first. */
  readonly rows: Int32Array;
  /** 1 when the row at that sorted position is positive. */
  readonly positive: Uint8Array;
  /** Sorted position where each tie group ends (exclusive). */
  readonly groupEnds: Int32Array;
  /** Scores at the sorted positions. */
  readonly scores: Float64Array;

  constructor(y: ArrayLike<number>, s: ArrayLike<number>) {
    checkPair(y, s);
    const idx: number[] = [];
    for (let i = 0; i < y.length; i++) if (!Number.isNaN(y[i])) idx.push(i);
    idx.sort((a, b) => s[b] - s[a] || a - b);
    this.rows = Int32Array.from(idx);
    this.positive = Uint8Array.from(idx, (i) => (y[i] === 1 ? 1 : 0));
    this.scores = Float64Array.from(idx, (i) => s[i]);
    const ends: number[] = [];
    for (let k = 1; k <= idx.length; k++) {
      if (k === idx.length || this.scores[k] !== this.scores[k - 1]) ends.push(k);
    }
    this.groupEnds = Int32Array.from(ends);
  }

  /**
   * AUROC and AUPRC, each row counted `w[row]` times (all once when `w` is omitted); null when the weighted
   * rows hold a single class.
   */
  rankMetrics(w?: Uint32Array): { auroc: number | null; auprc: number | null } {
    let tp = 0;
    let fp = 0;
    let halfPairs = 0; // Σ over groups of positives × (negatives ranked above + ½ negatives tied)
    let apSum = 0; // Σ over groups of Δtp × precision (divided by P at the end)
    let start = 0;
    const { rows, positive, groupEnds } = this;
    for (let g = 0; g < groupEnds.length; g++) {
      const end = groupEnds[g];
      let gp = 0;
      let gn = 0;
      for (let k = start; k < end; k++) {
        const c = w ? w[rows[k]] : 1;
        if (positive[k]) gp += c;
        else gn += c;
      }
      start = end;
      if (gp === 0 && gn === 0) continue;
      halfPairs += gp * (fp + 0.5 * gn);
      tp += gp;
      fp += gn;
      if (gp > 0) apSum += gp * (tp / (tp + fp));
    }
    if (tp === 0 || fp === 0) return { auroc: null, auprc: null };
    const pairs = tp * fp;
    return { auroc: (pairs - halfPairs) / pairs, auprc: apSum / tp };
  }

  /** Confusion counts at `threshold` (score >= threshold is positive), rows weighted by `w`. */
  confusion(threshold: number, w?: Uint32Array): Confusion {
    const c: Confusion = { tp: 0, fp: 0, tn: 0, fn: 0 };
    const { rows, positive, scores } = this;
    for (let k = 0; k < rows.length; k++) {
      const m = w ? w[rows[k]] : 1;
      if (m === 0) continue;
      const pred = scores[k] >= threshold;
      if (positive[k]) {
        if (pred) c.tp += m;
        else c.fn += m;
      } else if (pred) c.fp += m;
      else c.tn += m;
    }
    return c;
  }
}

// ---------------------------------------------------------------------------------------------
// Point metrics
// ---------------------------------------------------------------------------------------------

/** AUROC (Mann–Whitney, ties ½); null when only one class is present. */
export function auroc(y: ArrayLike<number>, s: ArrayLike<number>): number | null {
  return new RankedLabel(y, s).rankMetrics().auroc;
}

/** AUPRC as average precision (sklearn's average_precision_score); null when only one class is present. */
export function auprc(y: ArrayLike<number>, s: ArrayLike<number>): number | null {
  return new RankedLabel(y, s).rankMetrics().auprc;
}

export interface RocCurve {
  /** From (0, 0) up to (1, 1), one point per distinct score (highest first), as sklearn's roc_curve
   * with drop_intermediate=False. */
  fpr: number[];
  tpr: number[];
  /** The threshold of each point after the first (score >= threshold is positive). */
  thresholds: number[];
}

/** The ROC curve; null when only one class is present. */
export function rocCurve(y: ArrayLike<number>, s: ArrayLike<number>): RocCurve | null {
  const r = new RankedLabel(y, s);
  const { positives: P, negatives: N } = classCounts(y);
  if (P === 0 || N === 0) return null;
  const out: RocCurve = { fpr: [0], tpr: [0], thresholds: [] };
  let tp = 0;
  let fp = 0;
  let start = 0;
  for (let g = 0; g < r.groupEnds.length; g++) {
    const end = r.groupEnds[g];
    for (let k = start; k < end; k++) {
      if (r.positive[k]) tp++;
      else fp++;
    }
    start = end;
    out.fpr.push(fp / N);
    out.tpr.push(tp / P);
    out.thresholds.push(r.scores[end - 1]);
  }
  return out;
}

/** Confusion counts at a threshold: a row is predicted positive when score >= threshold. */
export function confusionAt(y: ArrayLike<number>, s: ArrayLike<number>, threshold: number): Confusion {
  return new RankedLabel(y, s).confusion(threshold);
}

function singleClass(c: Confusion): boolean {
  return c.tp + c.fn === 0 || c.tn + c.fp === 0;
}

export function sensitivity(c: Confusion): number | null {
  return singleClass(c) ? null : c.tp / (c.tp + c.fn);
}

export function specificity(c: Confusion): number | null {
  return singleClass(c) ? null : c.tn / (c.tn + c.fp);
}

export function precision(c: Confusion): number | null {
  if (singleClass(c)) return null;
  return c.tp === 0 ? 0 : c.tp / (c.tp + c.fp);
}

export function f1(c: Confusion): number | null {
  if (singleClass(c)) return null;
  return c.tp === 0 ? 0 : (2 * c.tp) / (2 * c.tp + c.fp + c.fn);
}

/** Matthews correlation coefficient; 0 when a prediction margin is empty (as sklearn). */
export function mcc(c: Confusion): number | null {
  if (singleClass(c)) return null;
  const den = (c.tp + c.fp) * (c.tp + c.fn) * (c.tn + c.fp) * (c.tn + c.fn);
  if (den === 0) return 0;
  return (c.tp * c.tn - c.fp * c.fn) / Math.sqrt(den);
}

export interface ThresholdMetrics {
  f1: number | null;
  mcc: number | null;
  sensitivity: number | null;
  specificity: number | null;
  precision: number | null;
}

export function thresholdMetrics(c: Confusion): ThresholdMetrics {
  return { f1: f1(c), mcc: mcc(c), sensitivity: sensitivity(c), specificity: specificity(c), precision: precision(c) };
}

// ---------------------------------------------------------------------------------------------
// Threshold policies
// ---------------------------------------------------------------------------------------------

export type ThresholdPolicy =
  | { kind: 'fixed'; value: number }
  | { kind: 'max-mcc' }
  | { kind: 'youden' }
  | { kind: 'per-label'; values: Record<string, number>; fallback?: number };

export function describePolicy(p: ThresholdPolicy): string {
  switch (p.kind) {
    case 'fixed':
      return `fixed ${p.value}`;
    case 'max-mcc':
      return 'max MCC on the validation split';
    case 'youden':
      return "Youden's J on the validation split";
    case 'per-label':
      return 'given per label';
  }
}

/**
 * The threshold that maximises MCC or Youden's J (sensitivity + specificity − 1) on one label, searched over its
 * distinct scores (score >= t is positive); on ties the highest threshold wins. Null when single-class.
 */
export function chooseThreshold(y: ArrayLike<number>, s: ArrayLike<number>, by: 'mcc' | 'youden'): number | null {
  const r = new RankedLabel(y, s);
  const { positives: P, negatives: N } = classCounts(y);
  if (P === 0 || N === 0) return null;
  let tp = 0;
  let fp = 0;
  let best = -Infinity;
  let bestT: number | null = null;
  let start = 0;
  for (let g = 0; g < r.groupEnds.length; g++) {
    const end = r.groupEnds[g];
    for (let k = start; k < end; k++) {
      if (r.positive[k]) tp++;
      else fp++;
    }
    start = end;
    const t = r.scores[end - 1];
    // Youden in exact integers (J·P·N); MCC in floats with a relative tie tolerance.
    const v = by === 'youden' ? tp * N - fp * P : mcc({ tp, fp, tn: N - fp, fn: P - tp })!;
    const better = by === 'youden' ? v > best : v > best + 1e-12 * Math.max(1, Math.abs(best));
    if (bestT === null || better) {
      best = v;
      bestT = t;
    }
  }
  return bestT;
}

export interface LabelScores {
  name: string;
  /** 1 / 0 / NaN (missing), one per row. */
  y: ArrayLike<number>;
  /** Scores (or 0/1 decisions), one per row. */
  scores: ArrayLike<number>;
}

/**
 * Thresholds per label for a policy. `max-mcc` and `youden` need `validation` (the same labels on a validation
 * split); a label missing there, or single-class there, gets null (its threshold metrics are then n/a).
 */
export function resolveThresholds(policy: ThresholdPolicy, labels: string[],
  validation?: LabelScores[]): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  if (policy.kind === 'fixed') {
    for (const l of labels) out[l] = policy.value;
  } else if (policy.kind === 'per-label') {
    for (const l of labels) {
      const v = policy.values[l] ?? policy.fallback;
      if (v === undefined) throw xtError('XT_INVALID', `thresholds: no threshold given for label "${l}"`);
      out[l] = v;
    }
  } else {
    if (!validation) {
      throw xtError('XT_INVALID', `threshold policy ${policy.kind} needs a validation split to choose thresholds on`);
    }
    const by = policy.kind === 'max-mcc' ? 'mcc' : 'youden';
    for (const l of labels) {
      const v = validation.find((x) => x.name === l);
      out[l] = v ? chooseThreshold(v.y, v.scores, by) : null;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Evaluation with bootstrap CIs
// ---------------------------------------------------------------------------------------------

export interface BootstrapOptions {
  /** Number of resamples (default 1000; 0 disables CIs). */
  resamples?: number;
  /** PRNG seed (default 42). */
  seed?: number;
  /** Confidence level (default 0.95). */
  level?: number;
}

export interface LabelResult {
  n: number;
  positives: number;
  threshold: number | null;
  auroc?: number | null;
  auroc_ci?: Interval | null;
  auprc?: number | null;
  auprc_ci?: Interval | null;
  f1: number | null;
  f1_ci?: Interval | null;
  mcc: number | null;
  mcc_ci?: Interval | null;
  sensitivity: number | null;
  sensitivity_ci?: Interval | null;
  specificity: number | null;
  specificity_ci?: Interval | null;
  precision: number | null;
  precision_ci?: Interval | null;
}

export type MeanResult = Partial<Record<Metric, number | null>> & Partial<Record<`${Metric}_ci`, Interval | null>> & {
  /** How many labels entered the mean (those defined). */
  labels: number;
};

export interface EvalResult {
  tasks: Record<string, LabelResult>;
  mean: MeanResult;
  /** Per-resample macro means, NaN where skipped (for pooling several readers); only when bootstrapped. */
  samples?: Partial<Record<Metric, Float64Array>>;
}

export interface EvaluateOptions {
  /** One threshold for all labels, or one per label (null: threshold metrics n/a). Default 0.5. */
  thresholds?: number | Record<string, number | null>;
  /** Compute AUROC/AUPRC (default true; false for binary decisions). */
  rank?: boolean;
  bootstrap?: BootstrapOptions | false;
}

function ciOf(samples: ArrayLike<number>, level: number): Interval | null {
  if (samples.length === 0) return null;
  const a = Float64Array.from(samples);
  const lo = percentile(a, ((1 - level) / 2) * 100)!;
  const hi = percentile(a, (1 - (1 - level) / 2) * 100)!;
  return [lo, hi];
}

/**
 * Metrics for each label over the same rows (every `y`/`scores` has one entry per row), with macro means and
 * (unless disabled) bootstrap CIs.
 */
export function evaluate(labels: LabelScores[], opts: EvaluateOptions = {}): EvalResult {
  const rank = opts.rank !== false;
  const n = labels.length ? labels[0].y.length : 0;
  for (const l of labels) {
    if (l.y.length !== n || l.scores.length !== n) {
      throw xtError('XT_SHAPE', `label "${l.name}": ${l.y.length} labels / ${l.scores.length} scores, expected ${n}`);
    }
  }
  const metrics: Metric[] = rank ? [...RANK_METRICS, ...THRESHOLD_METRICS] : [...THRESHOLD_METRICS];
  const thr = (name: string): number | null => {
    const t = opts.thresholds ?? 0.5;
    if (typeof t === 'number') return t;
    return name in t ? t[name] : 0.5;
  };
  const ranked = labels.map((l) => new RankedLabel(l.y, l.scores));
  const point = (r: RankedLabel, t: number | null, w?: Uint32Array): Partial<Record<Metric, number | null>> => {
    const out: Partial<Record<Metric, number | null>> = {};
    if (rank) Object.assign(out, r.rankMetrics(w));
    const tm = t === null ? null : thresholdMetrics(r.confusion(t, w));
    for (const m of THRESHOLD_METRICS) out[m] = tm ? tm[m] : null;
    return out;
  };

  const tasks: Record<string, LabelResult> = {};
  const pointVals = labels.map((l, i) => point(ranked[i], thr(l.name)));
  labels.forEach((l, i) => {
    const c = classCounts(l.y);
    const res: LabelResult = {
      n: c.positives + c.negatives,
      positives: c.positives,
      threshold: thr(l.name),
    } as LabelResult;
    for (const m of metrics) (res as unknown as Record<string, unknown>)[m] = pointVals[i][m] ?? null;
    tasks[l.name] = res;
  });
  const mean: MeanResult = { labels: 0 };
  const definedIn: Record<string, number[]> = {};
  for (const m of metrics) {
    definedIn[m] = labels.map((_, i) => i).filter((i) => pointVals[i][m] !== null && pointVals[i][m] !== undefined);
    mean[m] = macroMean(definedIn[m].map((i) => pointVals[i][m]!));
  }
  mean.labels = definedIn[metrics[0]].length;

  const b = opts.bootstrap === false ? null : opts.bootstrap ?? {};
  const B = b ? b.resamples ?? 1000 : 0;
  if (b && B > 0 && n > 0) {
    const level = b.level ?? 0.95;
    const rng = mulberry32(b.seed ?? 42);
    const per: Record<string, number[]>[] = labels.map(() => Object.fromEntries(metrics.map((m) => [m, []])));
    // Per-resample macro mean, NaN where the resample was skipped (kept aligned for poolReaders).
    const meanSamples: Record<string, Float64Array> = Object.fromEntries(
      metrics.map((m) => [m, new Float64Array(B).fill(NaN)]));
    const w = new Uint32Array(n);
    const vals: (number | null | undefined)[] = new Array(labels.length);
    for (let r = 0; r < B; r++) {
      w.fill(0);
      for (let j = 0; j < n; j++) w[Math.floor(rng() * n)]++;
      const pv = labels.map((l, i) => point(ranked[i], thr(l.name), w));
      for (const m of metrics) {
        let ok = definedIn[m].length > 0;
        for (let i = 0; i < labels.length; i++) {
          const v = pv[i][m];
          vals[i] = v;
          if (v !== null && v !== undefined) per[i][m].push(v);
        }
        let s = 0;
        for (const i of definedIn[m]) {
          const v = vals[i];
          if (v === null || v === undefined) {
            ok = false;
            break;
          }
          s += v;
        }
        if (ok) meanSamples[m][r] = s / definedIn[m].length;
      }
    }
    labels.forEach((l, i) => {
      const res = tasks[l.name] as unknown as Record<string, unknown>;
      for (const m of metrics) res[`${m}_ci`] = ciOf(per[i][m], level);
    });
    const samples: Partial<Record<Metric, Float64Array>> = {};
    for (const m of metrics) {
      mean[`${m}_ci`] = ciOf(meanSamples[m].filter((v) => !Number.isNaN(v)), level);
      samples[m] = meanSamples[m];
    }
    return { tasks, mean, samples };
  }
  return { tasks, mean };
}

/**
 * The mean over several readers (each an `evaluate` result over the same rows with the same seed, so their
 * resamples line up): the mean of their macro means, with a CI from the per-resample mean over readers.
 */
export function poolReaders(results: EvalResult[], metrics: Metric[], level = 0.95): MeanResult {
  const mean: MeanResult = { labels: results.length ? results[0].mean.labels : 0 };
  for (const m of metrics) {
    mean[m] = macroMean(results.map((r) => r.mean[m]));
    const s = results.map((r) => r.samples?.[m]);
    if (s.length > 0 && s.every((x) => x && x.length === s[0]!.length)) {
      // A resample counts when every reader's mean is defined in it.
      const pooled: number[] = [];
      for (let r = 0; r < s[0]!.length; r++) {
        const v = s.reduce((a, x) => a + x![r], 0) / s.length;
        if (!Number.isNaN(v)) pooled.push(v);
      }
      mean[`${m}_ci`] = ciOf(pooled, level);
    }
  }
  return mean;
}
