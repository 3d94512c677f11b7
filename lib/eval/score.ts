/**
 * Scoring any model's probabilities, or any reader's binary decisions, against a labels file.
 *
 * Rows are matched by id (see ids.ts: exact, or the same study named with a different prefix, or an image path
 * under a study), columns by NAME (the files may order them differently). Labels: 1 / 0, blank = missing, -1 =
 * uncertain (left out by default). Several prediction rows for one labels row (one per image) are averaged; a
 * decisions file must have exactly one row per labels row.
 *
 * Result shape (what `xray-torch score --json` prints):
 *   { "rows": n, "tasks": [names],
 *     "predictions": {"file", "threshold", "tasks": {name: {auroc, auroc_ci, auprc, auprc_ci, f1, mcc, …}}, "mean": {…}},
 *     "decisions": [{"file", "tasks": {name: {f1, f1_ci, mcc, mcc_ci, …}}, "mean": {f1, mcc, …}}],
 *     "mean": {f1, f1_ci, mcc, mcc_ci, …} }          (the readers' mean; present with decisions)
 */
import { xtError } from '../errors';
import { readCsvRecords } from '../data/csv';
import { parseLabelCell } from '../data/labels';
import { IdMatcher } from './study-ids';
import {
  evaluate, poolReaders, THRESHOLD_METRICS, describePolicy, resolveThresholds,
  type BootstrapOptions, type EvalResult, type LabelResult, type LabelScores, type MeanResult, type ThresholdPolicy,
} from './metrics';

export interface CsvTable {
  file: string;
  header: string[];
  idColumn: string;
  rows: { id: string; line: number; row: Record<string, string> }[];
}

/** Id column names tried, in order, when none is named. */
export const ID_COLUMNS = ['Study', 'study', 'study_id', 'id', 'ID', 'Id', 'Path', 'path', 'Image Index', 'image', 'ImageID'];

export function chooseIdColumn(header: string[], file: string, requested?: string): string {
  if (requested) {
    if (!header.includes(requested)) {
      throw xtError('XT_INVALID', `${file}: no id column "${requested}" (header: ${header.join(',')})`);
    }
    return requested;
  }
  const found = ID_COLUMNS.find((c) => header.includes(c));
  if (!found) {
    throw xtError('XT_INVALID', `${file}: cannot tell the id column (tried ${ID_COLUMNS.join(', ')}); name it with --id`);
  }
  return found;
}

/** A whole CSV file with its id column; malformed rows are errors (a score must not silently drop rows). */
export async function readTable(file: string, idColumn?: string): Promise<CsvTable> {
  const rows: CsvTable['rows'] = [];
  let header: string[] | undefined;
  let col = '';
  const bad: string[] = [];
  for await (const r of readCsvRecords(file, { onBad: (where, reason) => bad.push(`${where}: ${reason}`) })) {
    if (!header) {
      header = Object.keys(r.row);
      col = chooseIdColumn(header, file, idColumn);
    }
    const id = (r.row[col] ?? '').trim();
    if (!id) throw xtError('XT_INVALID', `${file}:${r.line}: empty id in column "${col}"`);
    rows.push({ id, line: r.line, row: r.row });
  }
  if (bad.length) throw xtError('XT_INVALID', `${bad[0]}${bad.length > 1 ? ` (and ${bad.length - 1} more)` : ''}`);
  if (!header) throw xtError('XT_INVALID', `${file}: no data rows`);
  return { file, header, idColumn: col, rows };
}

export type Uncertain = 'ignore' | 'zero' | 'one';

/** Ground truth over rows: one label vector per task (1 / 0 / NaN missing), rows in the labels file's order. */
export interface GroundTruth {
  ids: string[];
  tasks: string[];
  y: Record<string, Float64Array>;
}

export function labelValue(cell: string | undefined, uncertain: Uncertain, where: string): number {
  const v = parseLabelCell(cell);
  if (v === undefined) throw xtError('XT_INVALID', `${where}: label ${JSON.stringify(cell)}, expected 1, 0, -1 or blank`);
  if (v === null) return NaN;
  if (v === -1) return uncertain === 'zero' ? 0 : uncertain === 'one' ? 1 : NaN;
  return v;
}

export function groundTruthFromTable(t: CsvTable, tasks: string[], uncertain: Uncertain = 'ignore'): GroundTruth {
  const missing = tasks.filter((c) => !t.header.includes(c));
  if (missing.length) {
    throw xtError('XT_INVALID', `${t.file}: no column ${missing.map((m) => `"${m}"`).join(', ')} (header: ${t.header.join(',')})`);
  }
  const seen = new Set<string>();
  for (const r of t.rows) {
    if (seen.has(r.id)) throw xtError('XT_INVALID', `${t.file}:${r.line}: id "${r.id}" appears twice`);
    seen.add(r.id);
  }
  const y: Record<string, Float64Array> = {};
  for (const c of tasks) {
    y[c] = Float64Array.from(t.rows, (r) => labelValue(r.row[c], uncertain, `${t.file}:${r.line} column "${c}"`));
  }
  return { ids: t.rows.map((r) => r.id), tasks, y };
}

/**
 * Label columns by default: those of the labels file (besides the id) that every score file also has and whose
 * labels values all read as labels (so `Sex`, `Age`, `Path` … drop out). In the labels file's order.
 */
export function defaultTasks(labels: CsvTable, others: CsvTable[]): string[] {
  return labels.header.filter((c) => c !== labels.idColumn &&
    others.every((o) => o.header.includes(c) && c !== o.idColumn) &&
    labels.rows.every((r) => parseLabelCell(r.row[c]) !== undefined));
}

/**
 * The scores of `t` aligned to the ground truth's rows, per task. `kind` predictions: any finite number, several
 * rows per id averaged; decisions: 0/1, one row per id. Every ground-truth row must be covered.
 */
export function alignTable(gt: GroundTruth, t: CsvTable, kind: 'predictions' | 'decisions',
  onWarning?: (msg: string) => void): Record<string, Float64Array> {
  const missing = gt.tasks.filter((c) => !t.header.includes(c));
  if (missing.length) {
    throw xtError('XT_INVALID', `${t.file}: no column ${missing.map((m) => `"${m}"`).join(', ')} (header: ${t.header.join(',')})`);
  }
  const matcher = new IdMatcher(gt.ids);
  const index = new Map(gt.ids.map((id, i) => [id, i]));
  const n = gt.ids.length;
  const sums: Record<string, Float64Array> = {};
  for (const c of gt.tasks) sums[c] = new Float64Array(n);
  const counts = new Uint32Array(n);
  let unmatched = 0;
  let firstUnmatched = '';
  for (const r of t.rows) {
    const ref = matcher.match(r.id);
    if (ref === undefined) {
      if (!unmatched) firstUnmatched = r.id;
      unmatched++;
      continue;
    }
    const i = index.get(ref)!;
    if (kind === 'decisions' && counts[i] > 0) {
      throw xtError('XT_INVALID', `${t.file}:${r.line}: a second row for "${ref}" (a decisions file needs one row per id)`);
    }
    counts[i]++;
    for (const c of gt.tasks) {
      const cell = r.row[c];
      const where = `${t.file}:${r.line} column "${c}"`;
      let v: number;
      if (kind === 'decisions') {
        const d = parseLabelCell(cell);
        if (d !== 0 && d !== 1) throw xtError('XT_INVALID', `${where}: decision ${JSON.stringify(cell)}, expected 0 or 1`);
        v = d;
      } else {
        v = cell === undefined || cell.trim() === '' ? NaN : Number(cell);
        if (!Number.isFinite(v)) throw xtError('XT_INVALID', `${where}: score ${JSON.stringify(cell)}, expected a number`);
      }
      sums[c][i] += v;
    }
  }
  const uncovered: string[] = [];
  for (let i = 0; i < n; i++) if (counts[i] === 0) uncovered.push(gt.ids[i]);
  if (uncovered.length) {
    throw xtError('XT_INVALID', `${t.file}: ${uncovered.length} of ${n} labelled rows have no ${kind === 'decisions' ? 'decision' : 'prediction'} ` +
      `(first: "${uncovered[0]}"; ids are matched on column "${t.idColumn}")`);
  }
  if (unmatched && onWarning) {
    onWarning(`${t.file}: ${unmatched} row(s) match no labelled id and were ignored (first: "${firstUnmatched}")`);
  }
  for (const c of gt.tasks) for (let i = 0; i < n; i++) sums[c][i] /= counts[i];
  return sums;
}

export interface PredictionsReport {
  file?: string;
  threshold: string;
  tasks: Record<string, LabelResult>;
  mean: MeanResult;
}

export interface DecisionsReport {
  file: string;
  tasks: Record<string, Omit<LabelResult, 'threshold'>>;
  mean: MeanResult;
}

export interface ScoreReport {
  rows: number;
  tasks: string[];
  predictions?: PredictionsReport;
  decisions?: DecisionsReport[];
  /** The readers' mean (with decisions). */
  mean?: MeanResult;
}

/** The aligned inputs a report was made from (for ROC curves and operating points in HTML). */
export interface ScoreData {
  gt: GroundTruth;
  predictions?: { file?: string; scores: Record<string, ArrayLike<number>> };
  decisions?: { file: string; scores: Record<string, ArrayLike<number>> }[];
}

export interface ScoreOptions {
  /** Default 0.5 for all labels. */
  thresholds?: number | Record<string, number | null>;
  thresholdPolicy?: string;
  bootstrap?: BootstrapOptions | false;
}

function strip(r: EvalResult): { tasks: Record<string, LabelResult>; mean: MeanResult } {
  return { tasks: r.tasks, mean: r.mean };
}

/** Score aligned data (pure; `scoreFiles` reads and aligns the CSVs first). */
export function scoreData(d: ScoreData, opts: ScoreOptions = {}): ScoreReport {
  const { gt } = d;
  const out: ScoreReport = { rows: gt.ids.length, tasks: gt.tasks };
  const asLabels = (scores: Record<string, ArrayLike<number>>): LabelScores[] =>
    gt.tasks.map((name) => ({ name, y: gt.y[name], scores: scores[name] }));
  if (d.predictions) {
    const r = evaluate(asLabels(d.predictions.scores), { thresholds: opts.thresholds ?? 0.5, bootstrap: opts.bootstrap });
    out.predictions = {
      ...(d.predictions.file ? { file: d.predictions.file } : {}),
      threshold: opts.thresholdPolicy ?? (typeof opts.thresholds === 'object' ? 'given per label' : `fixed ${opts.thresholds ?? 0.5}`),
      ...strip(r),
    };
  }
  if (d.decisions && d.decisions.length) {
    const results = d.decisions.map((x) => evaluate(asLabels(x.scores), { rank: false, thresholds: 0.5, bootstrap: opts.bootstrap }));
    out.decisions = d.decisions.map((x, i) => {
      const tasks: DecisionsReport['tasks'] = {};
      for (const [k, v] of Object.entries(results[i].tasks)) {
        const { threshold: _t, ...rest } = v;
        tasks[k] = rest;
      }
      return { file: x.file, tasks, mean: results[i].mean };
    });
    out.mean = poolReaders(results, THRESHOLD_METRICS);
  }
  return out;
}

export interface ScoreFilesOptions extends ScoreOptions {
  labels: string;
  predictions?: string;
  decisions?: string[];
  tasks?: string[];
  /** Id column (default: the first of ID_COLUMNS each file has). */
  id?: string;
  uncertain?: Uncertain;
  /** Threshold policy for predictions; max-mcc / youden need the validation files. */
  policy?: ThresholdPolicy;
  validation?: { labels: string; predictions: string };
  onWarning?: (msg: string) => void;
}

/** Read, align and score CSV files. Returns the report and the aligned data. */
export async function scoreFiles(o: ScoreFilesOptions): Promise<{ report: ScoreReport; data: ScoreData }> {
  if (!o.predictions && !(o.decisions && o.decisions.length)) {
    throw xtError('XT_INVALID', 'score: give --predictions CSV or --decisions CSV…');
  }
  const labels = await readTable(o.labels, o.id);
  const pred = o.predictions ? await readTable(o.predictions, o.id) : undefined;
  const decs = await Promise.all((o.decisions ?? []).map((f) => readTable(f, o.id)));
  const others = [...(pred ? [pred] : []), ...decs];
  const tasks = o.tasks && o.tasks.length ? o.tasks : defaultTasks(labels, others);
  if (tasks.length === 0) {
    throw xtError('XT_INVALID', `${o.labels}: no label column shared with ${others.map((t) => t.file).join(', ')}; name them with --tasks`);
  }
  const gt = groundTruthFromTable(labels, tasks, o.uncertain ?? 'ignore');
  const data: ScoreData = { gt };
  if (pred) data.predictions = { file: pred.file, scores: alignTable(gt, pred, 'predictions', o.onWarning) };
  if (decs.length) data.decisions = decs.map((t) => ({ file: t.file, scores: alignTable(gt, t, 'decisions', o.onWarning) }));

  let thresholds: number | Record<string, number | null> | undefined = o.thresholds;
  let policyName = o.thresholdPolicy;
  if (o.policy) {
    let val: LabelScores[] | undefined;
    if (o.policy.kind === 'max-mcc' || o.policy.kind === 'youden') {
      if (!o.validation) throw xtError('XT_INVALID', `threshold ${o.policy.kind} needs --val-labels and --val-predictions`);
      const vl = await readTable(o.validation.labels, o.id);
      const vp = await readTable(o.validation.predictions, o.id);
      const vgt = groundTruthFromTable(vl, tasks, o.uncertain ?? 'ignore');
      const vs = alignTable(vgt, vp, 'predictions', o.onWarning);
      val = tasks.map((name) => ({ name, y: vgt.y[name], scores: vs[name] }));
    }
    thresholds = resolveThresholds(o.policy, tasks, val);
    policyName = describePolicy(o.policy);
  }
  return { report: scoreData(data, { ...o, thresholds, thresholdPolicy: policyName }), data };
}
