/**
 * Inference for other Node services: `classify(model, images, labels)`, `embedImages`, `embedTexts`.
 * Images are file paths or encoded bytes (JPEG, PNG 8/16-bit, TIFF, DICOM), decoded to 8-bit grey by lib/image
 * (the per-file decoder rule) and handed to the model as they are, [n, size, size] bytes: the encoder normalises
 * them (the model's mean/std, 3 channels) natively. Encoded in batches; prompt embeddings are cached per model.
 * `preprocessImage` / `preprocessBatch` give the normalised float tensors instead, for callers that want them.
 */
import { xtError } from '../errors';
import { l2NormalizeRows } from './l2';
import { greyToCHW } from '../data/images';
import { decodeImage, decodeGreyBatch, type ImageInput } from '../image/batch';
import { resolveLabels, type LabelSpec } from './labelsets';
import { buildPrompts, type PromptFile, type PromptTemplates } from './prompts';
import { TextEmbeddingCache, ZeroShotClassifier, type Embeddings, type ZeroShotEncoder, type ZeroShotMode } from './zeroshot';

/** What inference needs: the zero-shot encoder plus its input image side. */
export interface InferenceModel extends ZeroShotEncoder {
  imageSize: number;
}

export type { ImageInput } from '../image/batch';

export interface PreprocessImageOptions {
  /** `crop` (CLIP: shorter side, centre crop; default) or `pad` (CheXzero: letterbox to square). */
  mode?: 'crop' | 'pad';
}

/**
 * Decode + preprocess one image to [3, size, size] floats (CLIP mean/std) at `out[offset…]`. Bad input: XT_INVALID /
 * XT_IO. The models take the 8-bit grey pixels directly (`decodeImage`, `decodeGreyBatch`): this is for float pipelines.
 */
export async function preprocessImage(img: ImageInput, size: number, opts: PreprocessImageOptions = {},
  out?: Float32Array, offset = 0, name?: string): Promise<Float32Array> {
  return greyToCHW(await decodeImage(img, size, opts, name), out, offset);
}

/** Decode + preprocess several images into one normalised NCHW Float32Array batch (see `preprocessImage`). */
export async function preprocessBatch(imgs: ImageInput[], size: number, opts: PreprocessImageOptions = {}): Promise<Float32Array> {
  const per = 3 * size * size;
  const out = new Float32Array(imgs.length * per);
  await Promise.all(imgs.map((im, k) => preprocessImage(im, size, opts, out, k * per, typeof im === 'string' ? im : `image ${k}`)));
  return out;
}

function checkModel(model: InferenceModel): void {
  if (!model || typeof model.encodeImages !== 'function' || typeof model.encodeTexts !== 'function' ||
    !Number.isInteger(model.imageSize) || model.imageSize < 1) {
    throw xtError('XT_INVALID', 'model: expected a loaded model (encodeImages, encodeTexts, imageSize)');
  }
}

export interface EmbedOptions extends PreprocessImageOptions {
  /** Images per forward pass (default 16). */
  batchSize?: number;
  /** L2-normalise each row (default true). */
  normalize?: boolean;
}

function normalizeRows(e: Embeddings): Embeddings {
  return { data: l2NormalizeRows(e.data, e.shape[1]), shape: e.shape };
}

function concatRows(parts: Embeddings[]): Embeddings {
  if (parts.length === 1) return parts[0];
  const d = parts[0]?.shape[1] ?? 0;
  const n = parts.reduce((a, p) => a + p.shape[0], 0);
  const data = new Float32Array(n * d);
  let o = 0;
  for (const p of parts) {
    data.set(p.data, o);
    o += p.data.length;
  }
  return { data, shape: [n, d] };
}

/** Image embeddings [n, D] (normalised unless `normalize: false`), encoded `batchSize` at a time. */
export async function embedImages(model: InferenceModel, images: ImageInput | ImageInput[], opts: EmbedOptions = {}): Promise<Embeddings> {
  checkModel(model);
  const list = Array.isArray(images) ? images : [images];
  if (list.length === 0) throw xtError('XT_INVALID', 'embedImages: no images');
  const B = opts.batchSize ?? 16;
  if (!Number.isInteger(B) || B < 1) throw xtError('XT_INVALID', `batchSize must be a positive integer, got ${B}`);
  const S = model.imageSize;
  const parts: Embeddings[] = [];
  for (let i = 0; i < list.length; i += B) {
    const chunk = list.slice(i, i + B);
    const px = await decodeGreyBatch(chunk, S, opts);
    parts.push(await model.encodeImages(px, [chunk.length, S, S]));
  }
  const e = concatRows(parts);
  return opts.normalize === false ? e : normalizeRows(e);
}

/** Text embeddings [n, D] (normalised unless `normalize: false`). */
export async function embedTexts(model: InferenceModel, texts: string | string[], opts: { normalize?: boolean; batchSize?: number } = {}): Promise<Embeddings> {
  checkModel(model);
  const list = Array.isArray(texts) ? texts : [texts];
  if (list.length === 0) throw xtError('XT_INVALID', 'embedTexts: no texts');
  list.forEach((t, i) => {
    if (typeof t !== 'string') throw xtError('XT_INVALID', `embedTexts: text ${i} is ${typeof t}, expected a string`);
  });
  const B = opts.batchSize ?? 64;
  const parts: Embeddings[] = [];
  for (let i = 0; i < list.length; i += B) parts.push(await model.encodeTexts(list.slice(i, i + B)));
  const e = concatRows(parts);
  return opts.normalize === false ? e : normalizeRows(e);
}

/** How zero-shot scores are made: the settings classify(), runZeroShotEval() and the server share. */
export interface ZeroShotSettings {
  /** Image geometry: `crop` (default) or `pad`. */
  resize?: 'crop' | 'pad';
  /** paired (default) or cosine. */
  scoring?: ZeroShotMode;
  templates?: string | PromptTemplates;
  prompts?: PromptFile;
  temperature?: number;
}

export interface ClassifyOptions extends ZeroShotSettings {
  batchSize?: number;
}

const caches = new WeakMap<object, TextEmbeddingCache>();

/** The prompt-embedding cache of a model (created on first use). */
export function textCacheFor(model: InferenceModel): TextEmbeddingCache {
  let c = caches.get(model);
  if (!c) {
    c = new TextEmbeddingCache(model);
    caches.set(model, c);
  }
  return c;
}

/** A zero-shot classifier for these labels, sharing the model's prompt cache. */
export async function zeroShotClassifier(model: InferenceModel, labels: string | string[] | LabelSpec[],
  opts: Omit<ClassifyOptions, 'resize' | 'batchSize'> = {}): Promise<ZeroShotClassifier> {
  checkModel(model);
  const specs: LabelSpec[] = Array.isArray(labels) && labels.length && typeof labels[0] === 'object'
    ? (labels as LabelSpec[]) : resolveLabels(labels as string | string[]);
  const prompts = buildPrompts(specs, { templates: opts.templates, file: opts.prompts });
  return ZeroShotClassifier.create(model, prompts, { mode: opts.scoring, temperature: opts.temperature, cache: textCacheFor(model) });
}

/**
 * Zero-shot probabilities per label for each image: `[{label: probability}, …]` (paired mode), or cosine scores.
 * `labels`: a label set id (`chexpert5`), `"A,B"`, names, or label specs.
 */
export async function classify(model: InferenceModel, images: ImageInput | ImageInput[], labels: string | string[] | LabelSpec[],
  opts: ClassifyOptions = {}): Promise<Record<string, number>[]> {
  const clf = await zeroShotClassifier(model, labels, opts);
  const list = Array.isArray(images) ? images : [images];
  if (list.length === 0) throw xtError('XT_INVALID', 'classify: no images');
  const B = opts.batchSize ?? 16;
  const S = model.imageSize;
  const out: Record<string, number>[] = [];
  for (let i = 0; i < list.length; i += B) {
    const chunk = list.slice(i, i + B);
    const px = await decodeGreyBatch(chunk, S, { mode: opts.resize });
    out.push(...clf.toObjects(await clf.classifyPixels(px, [chunk.length, S, S])));
  }
  return out;
}
