/**
 * Sentence sampling, the paper's text augmentation: for each training example and epoch, draw k
 * sentences uniformly without replacement from the chosen report sections and keep them in report
 * order. The draw depends only on (seed, epoch, example id), through a hash, never on global state
 * or on what was drawn before, so a resumed run draws exactly what the interrupted one would have.
 *
 * Options: `k`; the `sections`; `full` (always the whole text: the baseline without sampling); and
 * `fullProbability` (use the whole text for that fraction of draws). Batches also get group ids for
 * the multi-positive loss: texts that are identical after normalisation share an id.
 */
import { xtError } from '../errors';
import { clipNormalize } from './normalize';
import { ParsedReport, parseReport, reportSentences, SectionSelection, SelectOptions } from './reports';
import type { SplitOptions } from './sentences';

export type ExampleId = string | number;

/** cyrb128: a 128-bit string hash (four 32-bit words). */
function cyrb128(s: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < s.length; i++) {
    const k = s.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

/**
 * A random stream in [0, 1) determined by (seed, epoch, example id) alone (sfc32 seeded by a hash
 * of the three). Numbers and strings are distinct ids (`7` and `'7'` draw differently).
 */
export function exampleRng(seed: number, epoch: number, exampleId: ExampleId): () => number {
  if (!Number.isFinite(seed)) throw xtError('XT_INVALID', `seed must be a finite number, got ${seed}`);
  if (!Number.isInteger(epoch) || epoch < 0) throw xtError('XT_INVALID', `epoch must be an integer >= 0, got ${epoch}`);
  let [a, b, c, d] = cyrb128(`xray-torch/sentences\u0000${seed}\u0000${epoch}\u0000${typeof exampleId}:${exampleId}`);
  const next = (): number => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next(); // let the state mix
  return next;
}

export interface DrawOptions {
  /** Sentences to draw. Default 1. */
  k?: number;
  seed: number;
  epoch: number;
  exampleId: ExampleId;
  /** Always the whole text (no sampling). Default false. */
  full?: boolean;
  /** Probability of using the whole text instead of k sentences. Default 0. */
  fullProbability?: number;
}

export interface SampledText {
  /** The training text: the drawn sentences (or all of them) joined by single spaces. */
  text: string;
  /** Indices of the sentences used, ascending (all of them when `full`). */
  indices: number[];
  /** Whether the whole text was used. */
  full: boolean;
}

function checkK(k: number): void {
  if (!Number.isInteger(k) || k < 1) throw xtError('XT_INVALID', `k must be an integer >= 1, got ${k}`);
}

function checkP(p: number): void {
  if (!(p >= 0 && p <= 1)) throw xtError('XT_INVALID', `fullProbability must be in [0, 1], got ${p}`);
}

/**
 * Draw k of `sentences` uniformly without replacement, in report order, deterministically for
 * (seed, epoch, exampleId). With fewer than k sentences, all are used.
 */
export function sampleSentences(sentences: readonly string[], opts: DrawOptions): SampledText {
  const k = opts.k ?? 1;
  checkK(k);
  const p = opts.fullProbability ?? 0;
  checkP(p);
  const rng = exampleRng(opts.seed, opts.epoch, opts.exampleId);
  const n = sentences.length;
  const all = (): SampledText => ({ text: sentences.join(' '), indices: sentences.map((_, i) => i), full: true });
  const u = rng(); // drawn first and always, so the sentence draw does not depend on fullProbability's use
  if (opts.full || n === 0) return all();
  if (p > 0 && u < p) return all();
  if (n <= k) return { text: sentences.join(' '), indices: sentences.map((_, i) => i), full: false };
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rng() * (n - i));
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  const picked = idx.slice(0, k).sort((x, y) => x - y);
  return { text: picked.map((i) => sentences[i]).join(' '), indices: picked, full: false };
}

/**
 * Text normalised for grouping, the one rule for which texts are "the same" (the multi-positive loss,
 * `assignGroupIds`, lib/loss.ts `groupIdsFromTexts`): CLIP's normalisation (ftfy subset, HTML
 * entities, white space collapsed, lower case), trailing white space and punctuation dropped.
 */
export function normalizeForGrouping(text: string): string {
  return clipNormalize(text).replace(/[\s.!?;:,]+$/u, '');
}

/**
 * Group ids for a batch: texts equal after `key` (default `normalizeForGrouping`) get the same id;
 * ids are 0, 1, … in order of first appearance.
 */
export function assignGroupIds(texts: readonly string[], key: (text: string) => string = normalizeForGrouping): Int32Array {
  const ids = new Int32Array(texts.length);
  const seen = new Map<string, number>();
  texts.forEach((t, i) => {
    const k = key(t);
    let g = seen.get(k);
    if (g === undefined) {
      g = seen.size;
      seen.set(k, g);
    }
    ids[i] = g;
  });
  return ids;
}

export interface SamplerOptions extends SelectOptions, SplitOptions {
  seed: number;
  /** Sentences per example. Default 1. */
  k?: number;
  /** Sections to draw from. Default 'both' (findings + impression; the impression alone without findings). */
  sections?: SectionSelection;
  /** Always use the whole text (the baseline). Default false. */
  full?: boolean;
  /** Probability of the whole text instead of k sentences. Default 0. */
  fullProbability?: number;
}

/** A report's sentences, ready for repeated draws. */
export interface PreparedReport {
  sentences: string[];
}

export interface BatchItem {
  id: ExampleId;
  report: ParsedReport | PreparedReport | string;
}

export interface BatchSample extends SampledText {
  id: ExampleId;
  /** Same id ⇔ same normalised text within this batch. */
  groupId: number;
}

function isPrepared(r: unknown): r is PreparedReport {
  return typeof r === 'object' && r !== null && Array.isArray((r as PreparedReport).sentences);
}

/** Sentence sampler with fixed options (see the file comment). */
export class SentenceSampler {
  readonly options: Readonly<SamplerOptions>;

  constructor(opts: SamplerOptions) {
    checkK(opts.k ?? 1);
    checkP(opts.fullProbability ?? 0);
    if (!Number.isFinite(opts.seed)) throw xtError('XT_INVALID', `seed must be a finite number, got ${opts.seed}`);
    this.options = { ...opts };
  }

  /** Split a report (parsed, or raw text / Open-I XML) into the sentences draws are made from. */
  prepare(report: ParsedReport | string): PreparedReport {
    const r = typeof report === 'string' ? parseReport(report) : report;
    return { sentences: reportSentences(r, this.options.sections ?? 'both', this.options) };
  }

  /** The draw for one example at one epoch. */
  sample(report: ParsedReport | PreparedReport | string, epoch: number, exampleId: ExampleId): SampledText {
    const prepared = isPrepared(report) ? report : this.prepare(report);
    const o = this.options;
    return sampleSentences(prepared.sentences, { k: o.k, seed: o.seed, epoch, exampleId, full: o.full, fullProbability: o.fullProbability });
  }

  /** Draws for a batch, with group ids over the drawn texts. */
  sampleBatch(items: readonly BatchItem[], epoch: number): BatchSample[] {
    const drawn = items.map((it) => ({ id: it.id, ...this.sample(it.report, epoch, it.id) }));
    const groups = assignGroupIds(drawn.map((d) => d.text));
    return drawn.map((d, i) => ({ ...d, groupId: groups[i] }));
  }
}
