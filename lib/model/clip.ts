/**
 * CLIP image/text encoders on the native LibTorch core.
 *
 *   const model = await loadModel('ViT-B-32-dir');            // OpenAI / open_clip / Hugging Face / ours
 *   const img = await model.encodeImages(grey, [n, 224, 224]);   // 8-bit grey Uint8Array (or normalised floats [n, 3, 224, 224])
 *   const txt = await model.encodeTokens(model.tokenizer!.tokenize(texts), [texts.length, 77]);
 *   await model.save('out-dir');                              // xray-torch checkpoint (+ tokenizer files)
 *   model.dispose();
 *
 * Weights are auto-detected (see binding/io/weights.h): OpenAI state dicts in safetensors, OpenAI
 * TorchScript archives, Hugging Face `CLIPModel` folders (also sharded), open_clip checkpoints
 * (torch.save zip or safetensors) and our own checkpoints; fp32/fp16/bf16 storage. Every heavy call
 * runs on a native worker thread; calls on one model are serialised natively, so concurrent use is
 * safe. Embeddings are projected and NOT normalised.
 */
import * as fs from 'fs';
import * as path from 'path';
import { native } from '../native';
import { xtError } from '../errors';
import type { ClipConfig, ClipModelNative, ClipSaveLayout, ClipDtype, PixelArray, PixelNorm, WeightsInfo } from '../native';
import { findTokenizer, ClipTokenizer, TOKENIZER_FILES } from '../text/clip-tokenizer';
import { bundledClipTokenizer, bundledVocabDir, OPENAI_VOCAB_SIZE } from '../text/bundled-vocab';
import { resolveDevice } from '../runtime/device';

export type { ClipConfig, ClipSaveLayout, ClipDtype, PixelArray, PixelNorm, WeightsInfo } from '../native';

export interface LoadModelOptions extends PixelNorm {
  /** `auto` (default: cuda:0 on the CUDA variant with a GPU, else cpu; or `XRAY_TORCH_DEVICE`), `cpu`, `cuda`, `cuda:N`. */
  device?: string;
  /** Compute/storage dtype of the loaded parameters (default float32). */
  dtype?: ClipDtype;
  /** Attach the tokenizer found beside the weights (default true). */
  tokenizer?: boolean;
}

export interface CreateModelOptions extends PixelNorm {
  /** Seed of CLIP's random init (default: random). The same seed gives the same weights. */
  seed?: number;
  /** Input resolution (a multiple of the patch size); default: the preset's. */
  imageSize?: number;
  /** Vocabulary size (default the preset's 49408; a tokenizer trained from scratch is smaller). */
  vocabSize?: number;
  /** Text context length (default the preset's 77). */
  contextLength?: number;
  /** As in `LoadModelOptions.device`. */
  device?: string;
  dtype?: ClipDtype;
}

export interface SaveModelOptions {
  /** `xray-torch` (default; config in the metadata), `openai` (OpenAI names) or `hf` (Hugging Face folder). */
  layout?: ClipSaveLayout;
  /** Storage dtype (default: the model's); logit_scale is always stored as float32. */
  dtype?: ClipDtype;
  /** Copy the tokenizer files the model was loaded with (default true; folders only). */
  tokenizer?: boolean;
}

export interface Embeddings {
  data: Float32Array;
  shape: [number, number];
}

/** Files that make up a tokenizer, copied along by `save`. */
const TOKENIZER_COPY = Array.from(new Set([...TOKENIZER_FILES, 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json']));

function checkShape(shape: unknown, dims: number, what: string): number[] {
  if (!Array.isArray(shape) || shape.length !== dims || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw xtError('XT_SHAPE', `${what}: shape must be an array of ${dims} non-negative integers`);
  }
  return shape as number[];
}

/** Grey bytes take [n, H, W], normalised floats [n, 3, H, W] (another array type: the addon's XT_INVALID). */
function checkPixelShape(pixels: PixelArray, shape: unknown, what: string): number[] {
  return checkShape(shape, pixels instanceof Uint8Array ? 3 : 4, what);
}

function asEmbeddings(r: { data: Float32Array | Float64Array | Int32Array | BigInt64Array; shape: number[] }): Embeddings {
  return { data: r.data as Float32Array, shape: [r.shape[0], r.shape[1]] };
}

/** The folder a model was loaded from (for its tokenizer), or undefined. */
function sourceDir(source: string): string | undefined {
  if (!source) return undefined;
  try {
    return fs.statSync(source).isDirectory() ? source : path.dirname(source);
  } catch {
    return undefined;
  }
}

export class ClipModel {
  /** The tokenizer found beside the weights (`vocab.json` + `merges.txt`, `tokenizer.json`,
   * `bpe_simple_vocab_16e6.txt.gz`), else OpenAI's bundled one for a 49,408-token vocabulary. */
  tokenizer?: ClipTokenizer;
  /** Where that tokenizer's files are (copied by `save`). */
  tokenizerDir?: string;
  /** Where the attached tokenizer came from: `files` beside the weights, or `bundled`: OpenAI's CLIP
   * vocabulary shipped with xray-torch (weights with a 49,408-token vocabulary and no tokenizer files).
   * Undefined when `load` attached none (or `create` made the model). */
  tokenizerSource?: 'files' | 'bundled';

  private constructor(private readonly handle: ClipModelNative) {}

  /** Load weights from a file or a folder in any supported format. */
  static async load(source: string, opts: LoadModelOptions = {}): Promise<ClipModel> {
    if (typeof source !== 'string' || source === '') throw xtError('XT_INVALID', 'loadModel(source): source must be a path');
    const handle = await native().clipLoad(source, { device: resolveDevice(opts.device).device, dtype: opts.dtype, mean: opts.mean, std: opts.std });
    const model = new ClipModel(handle);
    if (opts.tokenizer !== false) {
      try {
        model.attachTokenizer(source);
      } catch (e) {
        handle.dispose();
        throw e;
      }
    }
    return model;
  }

  /** The tokenizer beside the weights; else, for OpenAI's 49,408-token vocabulary, the bundled one. */
  private attachTokenizer(source: string): void {
    const dir = sourceDir(source);
    const tok = dir ? findTokenizer(dir) : undefined;
    if (dir && tok) {
      this.tokenizer = tok;
      this.tokenizerSource = 'files';
      this.tokenizerDir = fs.existsSync(path.join(dir, 'tokenizer')) && !TOKENIZER_COPY.some((f) => fs.existsSync(path.join(dir, f)))
        ? path.join(dir, 'tokenizer')
        : dir;
    } else if (this.config.vocabSize === OPENAI_VOCAB_SIZE) {
      // OpenAI .pt, open_clip and CheXzero checkpoints ship no tokenizer: OpenAI's and open_clip's
      // packages carry this vocabulary, and so does ours (vocab/); `save` copies it beside the weights
      this.tokenizer = bundledClipTokenizer();
      this.tokenizerSource = 'bundled';
      this.tokenizerDir = bundledVocabDir();
    }
  }

  /** A randomly initialised model (CLIP's own init scheme) from a preset:
   * `ViT-B-32`, `ViT-B-16`, `ViT-L-14`, `tiny`, `small`. */
  static async create(preset: string, opts: CreateModelOptions = {}): Promise<ClipModel> {
    if (opts.seed !== undefined && (!Number.isSafeInteger(opts.seed) || opts.seed < 0)) {
      throw xtError('XT_INVALID', `ClipModel.create: seed must be a non-negative integer, got ${opts.seed}`);
    }
    const handle = await native().clipCreate(preset, {
      seed: opts.seed,
      imageSize: opts.imageSize,
      vocabSize: opts.vocabSize,
      contextLength: opts.contextLength,
      device: resolveDevice(opts.device).device,
      dtype: opts.dtype,
      mean: opts.mean,
      std: opts.std,
    });
    return new ClipModel(handle);
  }

  /** The native model object (to hand to other native calls, e.g. a training step). */
  get native(): ClipModelNative {
    return this.handle;
  }

  /** Preset names for `create`. */
  static presets(): string[] {
    return native().clipPresets();
  }

  /** Describe a weight file or folder (format, configuration) without loading it. */
  static inspect(source: string): Promise<WeightsInfo> {
    return native().inspectWeights(source);
  }

  get config(): ClipConfig {
    return this.handle.config;
  }
  get device(): string {
    return this.handle.device;
  }
  get dtype(): ClipDtype {
    return this.handle.dtype;
  }
  /** `random` for `create`, else the detected weight format. */
  get format(): string {
    return this.handle.format;
  }
  /** Storage dtype of the weights it was loaded from. */
  get storageDtype(): string {
    return this.handle.storageDtype;
  }
  get numParameters(): number {
    return this.handle.numParameters;
  }
  /** exp(logit_scale) capped at 100 (current value; the last one read while a call holds the model). */
  get logitScale(): number {
    return this.handle.logitScale;
  }
  get disposed(): boolean {
    return this.handle.disposed;
  }

  /**
   * Projected (not normalised) image embeddings of 8-bit grey pixels, `Uint8Array` [n, R, R] (what the decoders
   * give: normalised natively with the model's mean/std and expanded to 3 channels), or of already normalised
   * float pixels, `Float32Array` [n, 3, R, R].
   */
  async encodeImages(pixels: PixelArray, shape: [number, number, number] | [number, number, number, number] | number[]): Promise<Embeddings> {
    checkPixelShape(pixels, shape, 'encodeImages');
    return asEmbeddings(await this.handle.encodeImages(pixels, shape));
  }

  /** Projected (not normalised) text embeddings of token ids [n, L] (L <= contextLength; the
   * end-of-text token is the highest id of each row, as CLIP pools it). */
  async encodeTokens(ids: Int32Array | BigInt64Array, shape: [number, number] | number[]): Promise<Embeddings> {
    checkShape(shape, 2, 'encodeTokens');
    return asEmbeddings(await this.handle.encodeTokens(ids, shape));
  }

  /** Tokenise with the attached tokenizer and encode. */
  async encodeTexts(texts: string[]): Promise<Embeddings> {
    if (!this.tokenizer) {
      throw xtError('XT_INVALID', `encodeTexts: this model has no tokenizer (none beside its weights, and its ${this.config.vocabSize}-token ` +
        `vocabulary is not OpenAI's ${OPENAI_VOCAB_SIZE}): set model.tokenizer`);
    }
    const L = this.config.contextLength;
    return this.encodeTokens(this.tokenizer.tokenize(texts, L), [texts.length, L]);
  }

  /** logits_per_image [nImages, nTexts] = exp(logit_scale)·cos(image, text); pixels as in `encodeImages`. */
  async logits(pixels: PixelArray, pixelShape: number[], ids: Int32Array | BigInt64Array, idShape: number[]): Promise<{ data: Float32Array; shape: [number, number] }> {
    checkPixelShape(pixels, pixelShape, 'logits');
    checkShape(idShape, 2, 'logits');
    return asEmbeddings(await this.handle.logits(pixels, pixelShape, ids, idShape));
  }

  /** OpenAI names of the parameters, in order. */
  parameterNames(): string[] {
    return this.handle.parameterNames();
  }

  /** One parameter (by OpenAI name) as float32. */
  async getParameter(name: string): Promise<{ data: Float32Array; shape: number[] }> {
    const r = await this.handle.getParameter(name);
    return { data: r.data as Float32Array, shape: r.shape };
  }

  /**
   * Save the weights. Returns the weight file written. A path ending in `.safetensors` is one file;
   * anything else is a folder (`model.safetensors`, plus `config.json` for `hf`) that also gets
   * the tokenizer files the model was loaded with.
   */
  async save(target: string, opts: SaveModelOptions = {}): Promise<string> {
    if (typeof target !== 'string' || target === '') throw xtError('XT_INVALID', 'save(path): path must be a non-empty string');
    const file = await this.handle.save(target, { layout: opts.layout, dtype: opts.dtype });
    if (opts.tokenizer !== false && this.tokenizerDir && !target.endsWith('.safetensors')) {
      const dest = path.resolve(target);
      if (path.resolve(this.tokenizerDir) !== dest) {
        for (const f of TOKENIZER_COPY) {
          const src = path.join(this.tokenizerDir, f);
          if (fs.existsSync(src)) await fs.promises.copyFile(src, path.join(dest, f));
        }
      }
    }
    return file;
  }

  /** Free the native weights now (a call in flight finishes first). Later calls throw XT_DISPOSED. */
  dispose(): void {
    this.handle.dispose();
  }
}

/** Load CLIP weights from a file or folder (format auto-detected); attaches the tokenizer found beside them
 * (or the bundled OpenAI vocabulary: see `ClipModel.tokenizerSource`). */
export function loadModel(source: string, opts: LoadModelOptions = {}): Promise<ClipModel> {
  return ClipModel.load(source, opts);
}
