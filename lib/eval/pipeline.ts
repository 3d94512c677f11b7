/**
 * The zero-shot evaluation run behind `xray-torch eval`: read a dataset split (records only; images stay on disk),
 * stream its images through the data loader in batches (one image per study, in dataset order), score them with
 * the zero-shot classifier, and score the probabilities against the records' labels; optionally choose thresholds
 * on a validation split, and score readers' decision files on the same studies beside the model.
 */
import { xtError } from '../errors';
import { openDataset, type DatasetFormat } from '../data/readers';
import { DataLoader } from '../image/loader';
import type { StudyRecord } from '../data/types';
import { getLabelSet, type LabelSpec, labelSpecs } from './labelsets';
import { scoreStream, type ImageBatch, type StudyScores } from './zeroshot';
import { zeroShotClassifier, type InferenceModel, type ZeroShotSettings } from './inference';
import { describePolicy, resolveThresholds, type BootstrapOptions, type LabelScores, type ThresholdPolicy } from './metrics';
import { alignTable, readTable, scoreData, type GroundTruth, type ScoreData, type ScoreReport, type Uncertain } from './score';

export interface ZeroShotEvalOptions extends ZeroShotSettings {
  /** Dataset root (or manifest file). */
  data: string;
  format?: DatasetFormat | 'auto';
  /** Split to evaluate (default `test`). */
  split?: string;
  /** Split thresholds are chosen on for max-mcc / youden (default `valid`). */
  valSplit?: string;
  /** Labels (default: the dataset's built-in set, or the manifest's own label names). */
  labels?: LabelSpec[];
  /** Images per forward pass (default 32). */
  batchSize?: number;
  /** Keep only these views (PA, AP, LATERAL …). */
  views?: string[];
  /** At most this many studies (quick looks). */
  limit?: number;
  uncertain?: Uncertain;
  threshold?: ThresholdPolicy;
  /** Readers' decision CSVs to score on the same studies. */
  readers?: string[];
  bootstrap?: BootstrapOptions | false;
  /** Images decoded at once (default 4). */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
  onWarning?: (msg: string) => void;
}

export interface ZeroShotEvalResult {
  report: ScoreReport;
  data: ScoreData;
  /** Study ids and their scores [ids.length, labels]. */
  predictions: StudyScores;
  meta: Record<string, string | number>;
}

const FORMAT_SETS: Record<string, string> = { chexpert: 'chexpert', mimic: 'mimic', nih: 'chestx14', padchest: 'padchest', openi: 'openi' };

/** The labels a dataset is evaluated on by default: its format's built-in set, or a manifest's own label names. */
export function defaultLabelSpecs(format: DatasetFormat, labelNames: readonly string[]): LabelSpec[] {
  const set = FORMAT_SETS[format];
  return set ? getLabelSet(set)!.labels : labelSpecs(labelNames);
}

function labelY(v: number | null | undefined, uncertain: Uncertain): number {
  if (v === 1 || v === 0) return v;
  if (v === -1) return uncertain === 'zero' ? 0 : uncertain === 'one' ? 1 : NaN;
  return NaN;
}

function groundTruth(records: Map<string, StudyRecord>, ids: string[], tasks: string[], uncertain: Uncertain): GroundTruth {
  const y: Record<string, Float64Array> = {};
  for (const t of tasks) y[t] = Float64Array.from(ids, (id) => labelY(records.get(id)!.labels[t], uncertain));
  return { ids, tasks, y };
}

async function* loaderBatches(loader: DataLoader): AsyncGenerator<ImageBatch> {
  for await (const b of loader) {
    yield { pixels: b.images, shape: b.pixelShape, keys: b.records.map((r) => r.id) };
  }
}

interface SplitRun {
  format: DatasetFormat;
  labels: LabelSpec[];
  scores: StudyScores;
  gt: GroundTruth;
  records: number;
  skipped: number;
}

async function runSplit(model: InferenceModel, o: ZeroShotEvalOptions, split: string, labels?: LabelSpec[]): Promise<SplitRun> {
  const ds = await openDataset(o.format ?? 'auto', o.data, { splits: [split], views: o.views, limit: o.limit, uncertain: 'keep' });
  if (ds.records.length === 0) {
    throw xtError('XT_INVALID', `${o.data}: no studies in split "${split}"${o.views ? ` with views ${o.views.join(',')}` : ''} (format ${ds.format})`);
  }
  const specs = labels ?? o.labels ?? defaultLabelSpecs(ds.format, ds.labelNames);
  const missing = specs.filter((l) => !ds.labelNames.includes(l.name));
  if (missing.length) {
    throw xtError('XT_INVALID', `${o.data}: no ground truth for label(s) ${missing.map((l) => `"${l.name}"`).join(', ')} ` +
      `(the data has: ${ds.labelNames.join(', ')})`);
  }
  const clf = await zeroShotClassifier(model, specs, { scoring: o.scoring, templates: o.templates, prompts: o.prompts, temperature: o.temperature });
  const loader = new DataLoader(ds.records, {
    batchSize: o.batchSize ?? 32, imageSize: model.imageSize, mode: o.resize ?? 'crop', shuffle: false, image: 'first',
    onBadSample: 'skip', concurrency: o.concurrency ?? 4, prefetch: 2, labelNames: specs.map((l) => l.name),
    onBad: (b) => o.onWarning?.(`skipped ${b.path}: ${b.reason}`),
  });
  const total = ds.records.length;
  const scores = await scoreStream(clf, loaderBatches(loader), { onBatch: (n) => o.onProgress?.(n, total) });
  if (scores.ids.length === 0) throw xtError('XT_INVALID', `${o.data}: no image of split "${split}" could be read`);
  const byId = new Map(ds.records.map((r) => [r.id, r]));
  const gt = groundTruth(byId, scores.ids, specs.map((l) => l.name), o.uncertain ?? 'ignore');
  return { format: ds.format, labels: specs, scores, gt, records: total, skipped: total - scores.ids.length };
}

function scoresByTask(s: StudyScores): Record<string, Float64Array> {
  const L = s.labels.length;
  const out: Record<string, Float64Array> = {};
  s.labels.forEach((name, l) => (out[name] = Float64Array.from(s.ids, (_, r) => s.scores[r * L + l])));
  return out;
}

export async function runZeroShotEval(model: InferenceModel, o: ZeroShotEvalOptions): Promise<ZeroShotEvalResult> {
  const split = o.split ?? 'test';
  const policy = o.threshold ?? { kind: 'fixed', value: 0.5 };
  const run = await runSplit(model, o, split);
  const tasks = run.gt.tasks;
  let thresholds: Record<string, number | null>;
  if (policy.kind === 'max-mcc' || policy.kind === 'youden') {
    const val = await runSplit(model, { ...o, onProgress: undefined }, o.valSplit ?? 'valid', run.labels);
    const vs = scoresByTask(val.scores);
    const v: LabelScores[] = tasks.map((name) => ({ name, y: val.gt.y[name], scores: vs[name] }));
    thresholds = resolveThresholds(policy, tasks, v);
  } else thresholds = resolveThresholds(policy, tasks);

  const predScores = scoresByTask(run.scores);
  const data: ScoreData = { gt: run.gt, predictions: { scores: predScores } };
  const report = scoreData(data, { thresholds, thresholdPolicy: describePolicy(policy), bootstrap: o.bootstrap });

  if (o.readers && o.readers.length) {
    const tables = await Promise.all(o.readers.map((f) => readTable(f)));
    const shared = tasks.filter((t) => tables.every((tb) => tb.header.includes(t)));
    if (shared.length === 0) throw xtError('XT_INVALID', `reader files share no label column with the evaluated labels (${tasks.join(', ')})`);
    const sub: GroundTruth = { ids: run.gt.ids, tasks: shared, y: Object.fromEntries(shared.map((t) => [t, run.gt.y[t]])) };
    const decisions = tables.map((tb) => ({ file: tb.file, scores: alignTable(sub, tb, 'decisions', o.onWarning) }));
    const r = scoreData({ gt: sub, decisions }, { bootstrap: o.bootstrap });
    report.decisions = r.decisions;
    report.mean = r.mean;
    data.decisions = decisions;
  }
  const ips = run.scores.seconds > 0 ? run.scores.images / run.scores.seconds : 0;
  const meta: Record<string, string | number> = {
    data: o.data,
    format: run.format,
    split,
    studies: run.scores.ids.length,
    ...(run.skipped ? { skipped: run.skipped } : {}),
    scoring: o.scoring ?? 'paired',
    templates: typeof o.templates === 'string' ? o.templates : o.templates ? 'custom' : 'chexzero',
    ...(o.prompts ? { prompts: 'file' } : {}),
    threshold: describePolicy(policy),
    'images/s': Number(ips.toFixed(2)),
  };
  return { report, data, predictions: run.scores, meta };
}

/** The predictions as CSV (`id` + one column per label), readable by `xray-torch score --predictions`. */
export function predictionsCsv(s: StudyScores): string {
  const q = (v: string) => (/[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const L = s.labels.length;
  const lines = [['id', ...s.labels].map(q).join(',')];
  s.ids.forEach((id, r) => {
    const row = [q(id)];
    for (let l = 0; l < L; l++) row.push(String(s.scores[r * L + l]));
    lines.push(row.join(','));
  });
  return lines.join('\n') + '\n';
}
