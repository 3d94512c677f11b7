/**
 * The CLIP model as an `InferenceModel`: texts are tokenised with the model's own tokenizer (its context length)
 * and encoded with `encodeTokens`; images (8-bit grey bytes, or normalised floats) go straight to `encodeImages`;
 * `imageSize` is the model's resolution.
 */
import { xtError } from '../errors';
import type { InferenceModel } from './inference';
import type { Embeddings, Pixels } from './zeroshot';
import { ClipTokenizer } from '../text/clip-tokenizer';
import { loadModel, type ClipModel } from '../model/clip';

/** What the adapter uses of a loaded CLIP model (lib/model/clip.ts `ClipModel`). */
export interface ClipLike {
  encodeImages(pixels: Pixels, shape: number[]): Promise<Embeddings>;
  encodeTokens(ids: Int32Array, shape: number[]): Promise<Embeddings>;
  config: { imageResolution: number; contextLength: number };
  tokenizer?: { tokenize(texts: string[], contextLength?: number): Int32Array };
  /** exp(logit_scale), when the model exposes it. */
  logitScale?: number;
  dispose?(): void;
}

export interface ClipInferenceModel extends InferenceModel {
  clip: ClipLike;
  dispose(): void;
}

export function adaptClip(clip: ClipLike, logitScale?: number): ClipInferenceModel {
  const size = clip.config.imageResolution;
  const ctx = clip.config.contextLength;
  if (!Number.isInteger(size) || size < 1 || !Number.isInteger(ctx) || ctx < 1) {
    throw xtError('XT_INVALID', `model config: imageResolution ${size}, contextLength ${ctx}: expected positive integers`);
  }
  const scale = logitScale ?? clip.logitScale;
  return {
    clip,
    imageSize: size,
    ...(scale !== undefined && Number.isFinite(scale) ? { logitScale: scale } : {}),
    encodeImages: (pixels, shape) => clip.encodeImages(pixels, shape),
    encodeTexts: async (texts) => {
      if (!clip.tokenizer) {
        throw xtError('XT_INVALID', 'the model has no tokenizer (none beside its weights): give one (--tokenizer FILE|DIR)');
      }
      const ids = clip.tokenizer.tokenize(texts, ctx);
      return clip.encodeTokens(ids, [texts.length, ctx]);
    },
    dispose: () => clip.dispose?.(),
  };
}

export interface LoadOptions {
  /** `cpu` (default) or `cuda[:i]`. */
  device?: string;
  /** Tokenizer file or folder, when none sits beside the weights (or to override it). */
  tokenizer?: string;
}

/** Load a model directory (xray-torch checkpoint, OpenAI or Hugging Face CLIP) for inference. */
export async function loadInferenceModel(dir: string, opts: LoadOptions = {}): Promise<ClipInferenceModel> {
  const clip: ClipModel = await loadModel(dir, opts.device ? { device: opts.device } : {});
  if (opts.tokenizer) {
    try {
      clip.tokenizer = ClipTokenizer.fromFile(opts.tokenizer);
    } catch (e) {
      clip.dispose?.();
      throw e;
    }
  }
  return adaptClip(clip);
}
