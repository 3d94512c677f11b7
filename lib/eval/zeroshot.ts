/**
 * Zero-shot multi-label classification with an image–text encoder.
 *
 * - Prompt texts are encoded once and cached (normalised), so many images, batches or requests reuse them.
 * - Per label, each side (positive / negative) is the normalised mean of its prompts' normalised embeddings.
 * - Paired mode: p = softmax(τ·cos(img, pos), τ·cos(img, neg))[0] = sigmoid(τ·(cos_pos − cos_neg)).
 *   τ defaults to the model's exp(logit_scale) (CLIP's own scale; CheXzero used τ = 1: the ranking, hence AUROC,
 *   AUPRC and the 0.5-threshold decisions, is the same for every τ > 0, only the calibration changes).
 * - Cosine mode: the score is cos(img, pos) (no negative prompts).
 * - Images arrive as a stream of batches; only one batch's embeddings are held at a time, and studies with several
 *   images are aggregated on the fly (mean or max of their images' probabilities).
 */
import { xtError } from '../errors';
import { l2NormalizeRows } from './l2';
import type { LabelPrompts } from './prompts';
import { uniquePromptTexts } from './prompts';

export interface Embeddings {
  /** Row-major [n, D]. */
  data: Float32Array;
  shape: number[];
}

/**
 * Image batches as the models take them: 8-bit grey `Uint8Array` [n, H, W] (what the decoders and the
 * DataLoader give; the model normalises it), or a normalised float `Float32Array` [n, 3, H, W].
 */
export type Pixels = Uint8Array | Float32Array;

/** What zero-shot classification needs from a model (the CLIP model adapts to this). */
export interface ZeroShotEncoder {
  /** Embeddings (need not be normalised) of an image batch: grey [n, H, W] bytes or normalised [n, 3, H, W] floats. */
  encodeImages(pixels: Pixels, shape: number[]): Promise<Embeddings>;
  /** Embeddings of texts (tokenised by the model's tokenizer; need not be normalised). */
  encodeTexts(texts: string[]): Promise<Embeddings>;
  /** exp(logit_scale): the model's scale for cosine similarities, when known. */
  logitScale?: number;
}

export type ZeroShotMode = 'paired' | 'cosine';

const l2normalize = (v: Float32Array): Float32Array => l2NormalizeRows(v, v.length, 'throw');

function checkEmbeddings(e: Embeddings, rows: number, what: string): number {
  if (!e || !(e.data instanceof Float32Array) || e.shape.length !== 2 || e.shape[0] !== rows ||
    e.data.length !== e.shape[0] * e.shape[1]) {
    throw xtError('XT_SHAPE', `${what}: expected [${rows}, D] embeddings, got shape [${e?.shape?.join(', ')}]`);
  }
  return e.shape[1];
}

/** Normalised text embeddings by text, encoded on first use; bounded (least recently used go first). */
export class TextEmbeddingCache {
  private readonly map = new Map<string, Float32Array>();
  /** Texts encoded so far (cache misses), for tests and stats. */
  encoded = 0;

  constructor(private readonly encoder: Pick<ZeroShotEncoder, 'encodeTexts'>, readonly maxEntries = 10000,
    private readonly chunk = 64) {}

  get size(): number {
    return this.map.size;
  }

  /** Normalised embeddings of `texts` (same order). */
  async get(texts: string[]): Promise<Float32Array[]> {
    const missing = [...new Set(texts.filter((t) => !this.map.has(t)))];
    const fresh = new Map<string, Float32Array>();
    for (let i = 0; i < missing.length; i += this.chunk) {
      const part = missing.slice(i, i + this.chunk);
      const e = await this.encoder.encodeTexts(part);
      const d = checkEmbeddings(e, part.length, 'encodeTexts');
      part.forEach((t, k) => fresh.set(t, l2normalize(e.data.subarray(k * d, (k + 1) * d))));
      this.encoded += part.length;
    }
    const out = texts.map((t) => {
      const v = this.map.get(t) ?? fresh.get(t)!;
      this.map.delete(t); // refresh recency
      this.map.set(t, v);
      return v;
    });
    while (this.map.size > this.maxEntries) this.map.delete(this.map.keys().next().value as string);
    return out;
  }
}

function meanDirection(vs: Float32Array[]): Float32Array {
  const d = vs[0].length;
  const acc = new Float32Array(d);
  for (const v of vs) {
    if (v.length !== d) throw xtError('XT_SHAPE', 'prompt embeddings differ in width');
    for (let i = 0; i < d; i++) acc[i] += v[i];
  }
  return l2normalize(acc);
}

export interface ZeroShotOptions {
  mode?: ZeroShotMode;
  /** Softmax temperature τ for paired mode (default: the encoder's logitScale, else 100). */
  temperature?: number;
  /** Share a text cache (e.g. across requests in a server). */
  cache?: TextEmbeddingCache;
}

/** A ready classifier: the label directions are computed once; images are scored batch by batch. */
export class ZeroShotClassifier {
  readonly labels: string[];
  readonly mode: ZeroShotMode;
  readonly temperature: number;
  /** [L, D] normalised positive / negative directions. */
  private readonly pos: Float32Array;
  private readonly neg: Float32Array | null;
  readonly dim: number;

  private constructor(readonly encoder: ZeroShotEncoder, labels: string[], pos: Float32Array, neg: Float32Array | null,
    dim: number, mode: ZeroShotMode, temperature: number) {
    this.labels = labels;
    this.pos = pos;
    this.neg = neg;
    this.dim = dim;
    this.mode = mode;
    this.temperature = temperature;
  }

  static async create(encoder: ZeroShotEncoder, prompts: LabelPrompts[], opts: ZeroShotOptions = {}): Promise<ZeroShotClassifier> {
    if (prompts.length === 0) throw xtError('XT_INVALID', 'zero-shot: no labels');
    const mode = opts.mode ?? 'paired';
    if (mode !== 'paired' && mode !== 'cosine') throw xtError('XT_INVALID', `zero-shot mode "${mode}": expected paired or cosine`);
    const temperature = opts.temperature ?? encoder.logitScale ?? 100;
    if (!(temperature > 0) || !Number.isFinite(temperature)) {
      throw xtError('XT_INVALID', `temperature ${temperature}: expected a positive number`);
    }
    const cache = opts.cache ?? new TextEmbeddingCache(encoder);
    const texts = uniquePromptTexts(prompts, mode);
    const embs = await cache.get(texts);
    const byText = new Map(texts.map((t, i) => [t, embs[i]]));
    const dim = embs[0].length;
    const L = prompts.length;
    const pos = new Float32Array(L * dim);
    const neg = mode === 'paired' ? new Float32Array(L * dim) : null;
    prompts.forEach((p, l) => {
      pos.set(meanDirection(p.positive.map((t) => byText.get(t)!)), l * dim);
      if (neg) neg.set(meanDirection(p.negative.map((t) => byText.get(t)!)), l * dim);
    });
    return new ZeroShotClassifier(encoder, prompts.map((p) => p.name), pos, neg, dim, mode, temperature);
  }

  /** Scores [n, L] (row-major) from image embeddings [n, D] (normalised here). */
  scoreEmbeddings(e: Embeddings): Float32Array {
    const n = e.shape[0];
    const d = checkEmbeddings(e, n, 'image embeddings');
    if (d !== this.dim) throw xtError('XT_SHAPE', `image embeddings have width ${d}, text embeddings ${this.dim}`);
    const L = this.labels.length;
    const out = new Float32Array(n * L);
    for (let i = 0; i < n; i++) {
      const img = l2normalize(e.data.subarray(i * d, (i + 1) * d));
      for (let l = 0; l < L; l++) {
        let sp = 0;
        let sn = 0;
        const o = l * d;
        for (let k = 0; k < d; k++) sp += img[k] * this.pos[o + k];
        if (this.neg) {
          for (let k = 0; k < d; k++) sn += img[k] * this.neg[o + k];
          out[i * L + l] = 1 / (1 + Math.exp(-this.temperature * (sp - sn)));
        } else {
          out[i * L + l] = sp;
        }
      }
    }
    return out;
  }

  /** Scores [n, L] for an image batch (grey [n, H, W] bytes or normalised [n, 3, H, W] floats). */
  async classifyPixels(pixels: Pixels, shape: number[]): Promise<Float32Array> {
    const e = await this.encoder.encodeImages(pixels, shape);
    return this.scoreEmbeddings(e);
  }

  /** One `{label: score}` object per image. */
  toObjects(scores: Float32Array): Record<string, number>[] {
    const L = this.labels.length;
    const out: Record<string, number>[] = [];
    for (let i = 0; i < scores.length / L; i++) {
      const o: Record<string, number> = {};
      this.labels.forEach((name, l) => (o[name] = scores[i * L + l]));
      out.push(o);
    }
    return out;
  }
}

/** A batch of images (see `Pixels`); `keys[i]` is the study (record id) image i belongs to. */
export interface ImageBatch {
  pixels: Pixels;
  shape: number[];
  keys: string[];
}

export type StudyAggregate = 'mean' | 'max';

export interface StudyScores {
  /** Record ids in first-seen order. */
  ids: string[];
  /** [ids.length, L] row-major scores. */
  scores: Float64Array;
  labels: string[];
  images: number;
  seconds: number;
}

/**
 * Score a stream of image batches, aggregating images of the same study. Only the current batch is in memory
 * (plus one running sum per study). `onBatch` reports progress (images so far).
 */
export async function scoreStream(clf: ZeroShotClassifier, batches: AsyncIterable<ImageBatch>,
  opts: { aggregate?: StudyAggregate; onBatch?: (images: number) => void } = {}): Promise<StudyScores> {
  const agg = opts.aggregate ?? 'mean';
  const L = clf.labels.length;
  const acc = new Map<string, { v: Float64Array; k: number }>();
  let images = 0;
  const t0 = process.hrtime.bigint();
  for await (const b of batches) {
    const n = b.shape[0];
    if (b.keys.length !== n) throw xtError('XT_SHAPE', `image batch: ${n} images but ${b.keys.length} keys`);
    if (n === 0) continue;
    const s = await clf.classifyPixels(b.pixels, b.shape);
    for (let i = 0; i < n; i++) {
      let a = acc.get(b.keys[i]);
      if (!a) {
        a = { v: new Float64Array(L).fill(agg === 'max' ? -Infinity : 0), k: 0 };
        acc.set(b.keys[i], a);
      }
      for (let l = 0; l < L; l++) {
        const x = s[i * L + l];
        a.v[l] = agg === 'max' ? Math.max(a.v[l], x) : a.v[l] + x;
      }
      a.k++;
    }
    images += n;
    opts.onBatch?.(images);
  }
  const ids = [...acc.keys()];
  const scores = new Float64Array(ids.length * L);
  ids.forEach((id, r) => {
    const a = acc.get(id)!;
    for (let l = 0; l < L; l++) scores[r * L + l] = agg === 'mean' ? a.v[l] / a.k : a.v[l];
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { ids, scores, labels: clf.labels, images, seconds };
}
