/**
 * The relaxed contrastive loss (the paper's objective), computed natively with its gradients.
 *
 *   s_ij = cos(image_i, text_j); every positive pair: s_ij <- min(s_ij, positiveClip), no gradient
 *   through a clipped value; logits = exp(min(logitScale, 4.6052)) * s (CLIP's cap, exp ~ 100; the
 *   logit-scale gradient is 0 above it); loss = (CE over rows + CE over columns) / 2, batch mean.
 *
 * Positives are the diagonal, or with `groups` (an id per sample; same normalised text, same id)
 * every pair of samples sharing an id: row i's target spreads uniformly over its group in both
 * directions. All-distinct ids give the plain loss.
 */
import { native, LossImpl, LossDevice, LossComputeDtype } from './native';
import { xtError } from './errors';

export interface ContrastiveLossOptions {
  /** log-space logit scale (CLIP's `logit_scale` parameter, before the exp). */
  logitScale: number;
  /** Relaxation clip c in [-1, 1] for positive-pair similarities; 1 (default) is plain CLIP. */
  positiveClip?: number;
  /** Group id per sample ([B]); same id = positive pair (multi-positive targets). null/undefined: the diagonal. */
  groups?: Int32Array | null;
  /** 'fused' (default): the native fused kernels; 'reference': the same loss composed from ATen ops. */
  impl?: LossImpl;
  /** 'cpu' (default) or 'cuda' (needs a CUDA build and a GPU). */
  device?: LossDevice;
  /** Compute dtype (default: the input's); float16/bfloat16 only on CUDA. */
  dtype?: LossComputeDtype;
}

export interface ContrastiveLossResult<T extends Float32Array | Float64Array> {
  loss: number;
  /** d loss / d image, [B, D] row-major, the input's array type. */
  gradImage: T;
  gradText: T;
  /** d loss / d logitScale (log space). */
  gradLogitScale: number;
}

function checkShape(shape: unknown): [number, number] {
  if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw xtError('XT_SHAPE', `contrastiveLoss: shape must be [B, D] (non-negative integers), got ${JSON.stringify(shape)}`);
  }
  return [shape[0], shape[1]];
}

/**
 * Loss and gradients for image and text embeddings `[B, D]` (row-major). Float64Array inputs are
 * computed in fp64, Float32Array in fp32. Rejects with XT_SHAPE (shapes, B = 0, D mismatch, groups
 * length) or XT_INVALID (array types, non-finite values, zero rows, options).
 */
export async function contrastiveLoss<T extends Float32Array | Float64Array>(
  image: T,
  text: T,
  shape: [number, number],
  opts: ContrastiveLossOptions,
): Promise<ContrastiveLossResult<T>> {
  const [B, D] = checkShape(shape);
  const isFloat = (a: unknown) => a instanceof Float32Array || a instanceof Float64Array;
  if (!isFloat(image) || !isFloat(text)) {
    throw xtError('XT_INVALID', 'contrastiveLoss: image and text must be Float32Array or Float64Array');
  }
  if (image.constructor !== text.constructor) {
    throw xtError('XT_INVALID', `contrastiveLoss: image is a ${image.constructor.name} but text is a ${text.constructor.name}`);
  }
  if (B === 0) throw xtError('XT_SHAPE', 'contrastiveLoss: the batch is empty (B = 0)');
  if (D === 0) throw xtError('XT_SHAPE', 'contrastiveLoss: the embedding width is 0 (D = 0)');
  if (image.length !== B * D) {
    throw xtError('XT_SHAPE', `contrastiveLoss: image has ${image.length} values, [${B}, ${D}] needs ${B * D}`);
  }
  if (text.length !== B * D) {
    throw xtError('XT_SHAPE', `contrastiveLoss: text has ${text.length} values, [${B}, ${D}] needs ${B * D} (D mismatch?)`);
  }
  if (!opts || typeof opts.logitScale !== 'number' || !Number.isFinite(opts.logitScale)) {
    throw xtError('XT_INVALID', 'contrastiveLoss: opts.logitScale must be a finite number (log space)');
  }
  const positiveClip = opts.positiveClip ?? 1;
  if (typeof positiveClip !== 'number' || !(positiveClip >= -1 && positiveClip <= 1)) {
    throw xtError('XT_INVALID', `contrastiveLoss: opts.positiveClip must be in [-1, 1], got ${opts.positiveClip}`);
  }
  const groups = opts.groups ?? undefined; // null = none
  if (groups !== undefined) {
    if (!(groups instanceof Int32Array)) throw xtError('XT_INVALID', 'contrastiveLoss: opts.groups must be an Int32Array');
    if (groups.length !== B) {
      throw xtError('XT_SHAPE', `contrastiveLoss: opts.groups has ${groups.length} ids, expected one per sample (${B})`);
    }
  }
  const r = await native().contrastiveLoss(image, text, B, D, {
    logitScale: opts.logitScale,
    positiveClip,
    groups,
    impl: opts.impl ?? 'fused',
    device: opts.device ?? 'cpu',
    dtype: opts.dtype,
  });
  return { loss: r.loss, gradImage: r.gradImage as T, gradText: r.gradText as T, gradLogitScale: r.gradLogitScale };
}

/**
 * Group ids from texts for `opts.groups`: texts equal after `normalizeForGrouping` (lib/text/sampling.ts,
 * the rule the trainer's sampler uses too), or after the `normalise` given, share an id.
 */
export { assignGroupIds as groupIdsFromTexts } from './text/sampling';
