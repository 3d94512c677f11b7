/**
 * Validation at an epoch end: one pass over the validation records already in memory.
 *
 * Each validation image is decoded once and encoded once. From those image embeddings come both
 *  - the validation loss: the relaxed contrastive loss (lib/loss.ts, the training objective with the run's
 *    relaxation and multi-positive groups) of each batch against the text embeddings of a fixed sentence draw
 *    (epoch 0, so that epochs compare), averaged over the studies — batches of `batchSize` studies with a
 *    report, in record order, as `TrainSession.evalLoss` computed it batch by batch; and
 *  - the zero-shot macro AUROC (lib/eval: prompts, `ZeroShotClassifier`, metrics) over the labelled studies,
 *    one image per study.
 */
import { DataLoader, type LoaderOptions } from '../image/loader';
import type { DatasetFormat } from '../data/readers';
import type { StudyRecord } from '../data/types';
import { contrastiveLoss } from '../loss';
import type { ClipModel } from '../model/clip';
import type { ClipTokenizer } from '../text/clip-tokenizer';
import type { SentenceSampler } from '../text/sampling';
import { adaptClip } from '../eval/model';
import { zeroShotClassifier } from '../eval/inference';
import { labelSpecs, type LabelSpec } from '../eval/labelsets';
import { evaluate } from '../eval/metrics';
import { defaultLabelSpecs } from '../eval/pipeline';
import type { ZeroShotClassifier } from '../eval/zeroshot';
import { batchPixels } from './batch-input';
import { prepareReport, recordReport } from './report-text';

export interface ValidationInput {
  model: ClipModel;
  tokenizer: ClipTokenizer;
  /** The run's sentence sampler (its sections, sentences per study, full-report settings). */
  sampler: SentenceSampler;
  /** The validation split's studies with an image. */
  records: StudyRecord[];
  /** The dataset's format and label columns (for the default labels of the AUROC). */
  format: DatasetFormat;
  labelNames: readonly string[];
  /** Labels of the AUROC (default: the dataset's). */
  labels?: string[];
  batchSize: number;
  positiveClip: number;
  multiPositive: boolean;
  concurrency: number;
  /** The image decoder (the loader's default when absent). */
  decode?: LoaderOptions['decode'];
  log?: (m: string) => void;
}

export interface ValidationResult {
  /** Mean contrastive loss per study; NaN with fewer than two studies with a report. */
  loss: number;
  /** Zero-shot macro AUROC; undefined when the split has no labels (or they could not be scored), null when no
   * label had both classes. */
  auroc?: number | null;
  /** Images decoded (and encoded). */
  images: number;
}

const hasLabels = (r: StudyRecord) => Object.values(r.labels).some((v) => v === 0 || v === 1);

/** The labels to score, or why none: the given ones or the dataset's, all of them present in the data. */
function aurocLabels(v: ValidationInput): LabelSpec[] | string {
  const specs = v.labels ? labelSpecs(v.labels) : defaultLabelSpecs(v.format, v.labelNames);
  const missing = specs.filter((l) => !v.labelNames.includes(l.name));
  if (missing.length) return `no ground truth for label(s) ${missing.map((l) => `"${l.name}"`).join(', ')} (the data has: ${v.labelNames.join(', ')})`;
  return specs;
}

export async function runValidation(v: ValidationInput): Promise<ValidationResult> {
  const { model } = v;
  const log = v.log ?? (() => undefined);
  const withReport = v.records.filter((r) => recordReport(r) !== undefined).length;
  const wantLoss = withReport >= 2;
  // the zero-shot classifier of the current weights (a fresh prompt cache: the text tower has moved)
  let clf: ZeroShotClassifier | undefined;
  let wantAuroc = v.records.some(hasLabels);
  if (wantAuroc) {
    const specs = aurocLabels(v);
    try {
      if (typeof specs === 'string') throw new Error(specs);
      clf = await zeroShotClassifier(adaptClip(model), specs);
    } catch (e) {
      log(`validation AUROC skipped: ${(e as Error).message}`);
      wantAuroc = false;
    }
  }
  const records = wantAuroc ? v.records : wantLoss ? v.records.filter((r) => recordReport(r) !== undefined) : [];
  if (records.length === 0) return { loss: NaN, images: 0 };

  // ---- the one pass: decode, encode, score ----
  const emb: (Float32Array | undefined)[] = new Array(records.length);
  const scores: (Float32Array | undefined)[] = new Array(records.length);
  let dim = 0;
  const loader = new DataLoader(records, {
    batchSize: v.batchSize, imageSize: model.config.imageResolution, shuffle: false, augment: false, image: 'first',
    onBadSample: 'skip', concurrency: v.concurrency, labelNames: [], ...(v.decode ? { decode: v.decode } : {}),
    onBad: (b) => log(`validation: skipped ${b.path}: ${b.reason}`),
  });
  let images = 0;
  for await (const b of loader) {
    const { pixels, shape } = batchPixels(b);
    // the native encoder takes the loader's 8-bit grey batch as it is
    const t = await model.native.encodeImages(pixels, shape);
    const e = { data: t.data, shape: [t.shape[0], t.shape[1]] };
    dim = e.shape[1];
    const s = clf ? clf.scoreEmbeddings(e) : undefined;
    const L = clf ? clf.labels.length : 0;
    b.indices.forEach((i, j) => {
      emb[i] = e.data.slice(j * dim, (j + 1) * dim);
      if (s) scores[i] = s.slice(j * L, (j + 1) * L);
    });
    images += b.n;
  }
  const loss = wantLoss ? await validationLoss(v, records, emb, dim) : NaN;
  const auroc = clf ? validationAuroc(clf, records, scores, log) : undefined;
  return { loss, ...(auroc !== undefined ? { auroc } : {}), images };
}

/** The loss of the studies with a report, `batchSize` at a time in record order (a last batch of one is left
 * out), weighted by batch size. */
async function validationLoss(v: ValidationInput, records: StudyRecord[], emb: (Float32Array | undefined)[], dim: number): Promise<number> {
  const { model, tokenizer, sampler } = v;
  const withReport = records.filter((r) => recordReport(r) !== undefined).length;
  const ok = records.map((_, i) => i).filter((i) => emb[i] !== undefined && recordReport(records[i]) !== undefined);
  const bs = Math.min(v.batchSize, withReport);
  const ctx = model.config.contextLength;
  const logitScale = Math.log(model.logitScale);
  let total = 0;
  let n = 0;
  for (let k = 0; k < ok.length; k += bs) {
    const chunk = ok.slice(k, k + bs);
    if (chunk.length < 2) continue;
    const drawn = sampler.sampleBatch(chunk.map((i) => ({ id: records[i].id, report: prepareReport(sampler, records[i]) })), 0);
    const ids = tokenizer.tokenize(drawn.map((d) => d.text), ctx);
    const txt = await model.encodeTokens(ids, [chunk.length, ctx]);
    const img = new Float32Array(chunk.length * dim);
    chunk.forEach((i, j) => img.set(emb[i]!, j * dim));
    const r = await contrastiveLoss(img, txt.data, [chunk.length, dim], {
      logitScale, positiveClip: v.positiveClip, groups: v.multiPositive ? Int32Array.from(drawn.map((d) => d.groupId)) : null,
    });
    total += r.loss * chunk.length;
    n += chunk.length;
  }
  return n ? total / n : NaN;
}

/** Macro AUROC over the labels (missing and uncertain labels left out per label). */
function validationAuroc(clf: ZeroShotClassifier, records: StudyRecord[], scores: (Float32Array | undefined)[],
  log: (m: string) => void): number | null | undefined {
  const rows = records.map((_, i) => i).filter((i) => scores[i] !== undefined);
  if (rows.length === 0) {
    log('validation AUROC skipped: no validation image could be read');
    return undefined;
  }
  const y = (x: number | null | undefined) => (x === 0 || x === 1 ? x : NaN);
  const r = evaluate(clf.labels.map((name, l) => ({
    name,
    y: Float64Array.from(rows, (i) => y(records[i].labels[name])),
    scores: Float64Array.from(rows, (i) => scores[i]![l]),
  })), { bootstrap: false });
  const a = r.mean.auroc;
  return typeof a === 'number' ? a : null;
}
