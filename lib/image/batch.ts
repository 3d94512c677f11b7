/**
 * Batches of decoded images. The model input is 8-bit grey, `Uint8Array` [n, size, size] (`decodeGreyBatch`):
 * that is what crosses into the addon, where the encoders and the training step normalise it with the model's
 * mean/std and expand it to 3 channels. `loadImageTensor` / `loadImageBatch` give the normalised float NCHW
 * tensors instead (CLIP's constants unless given), for callers with their own float pipeline.
 */
import { xtError } from '../errors';
import { greyToCHW, normalizeLut, type DecodeOptions, type GreyImage, type NormalizeOptions } from '../data/images';
import { decodeGrey, decodeGreyBuffer } from './decode';

/** An image: a file path, or its encoded bytes (JPEG, PNG 8/16-bit, TIFF, DICOM). */
export type ImageInput = string | Buffer | Uint8Array;

export interface PreprocessOptions extends DecodeOptions, NormalizeOptions {
  size: number;
}

/** Decode one image (path or bytes) to 8-bit grey, size × size (`crop` by default, or `pad`). */
export async function decodeImage(img: ImageInput, size: number, opts: { mode?: 'crop' | 'pad' } = {}, name?: string): Promise<GreyImage> {
  const mode = opts.mode ?? 'crop';
  if (mode !== 'crop' && mode !== 'pad') throw xtError('XT_INVALID', `mode must be crop or pad for a square image, got ${mode}`);
  if (typeof img === 'string') return decodeGrey(img, { size, mode });
  if (!(img instanceof Uint8Array)) throw xtError('XT_INVALID', `${name ?? 'image'}: expected a path, a Buffer or a Uint8Array`);
  return decodeGreyBuffer(img, { size, mode }, name ?? '<buffer>');
}

/**
 * Decode several images into one 8-bit grey batch, `Uint8Array` [n, size, size] (the input of `encodeImages`,
 * `logits` and the training step, with shape `[n, size, size]`).
 */
export async function decodeGreyBatch(imgs: ImageInput[], size: number, opts: { mode?: 'crop' | 'pad' } = {}): Promise<Uint8Array> {
  const per = size * size;
  const out = new Uint8Array(imgs.length * per);
  await Promise.all(
    imgs.map(async (im, k) => {
      const g = await decodeImage(im, size, opts, typeof im === 'string' ? im : `image ${k}`);
      out.set(g.data, k * per);
    }),
  );
  return out;
}

function lutOf(opts: NormalizeOptions): Float32Array[] | undefined {
  return opts.mean || opts.std ? normalizeLut(opts) : undefined;
}

function squareOpts(opts: PreprocessOptions): DecodeOptions {
  const mode = opts.mode ?? 'crop';
  if (mode !== 'crop' && mode !== 'pad') throw xtError('XT_INVALID', `mode must be crop or pad for a square tensor, got ${mode}`);
  return { size: opts.size, mode, kernel: opts.kernel };
}

/** Decode + preprocess one file to a normalised Float32Array [3, size, size]. */
export async function loadImageTensor(file: string, opts: PreprocessOptions): Promise<Float32Array> {
  const img = await decodeGrey(file, squareOpts(opts));
  return greyToCHW(img, undefined, 0, lutOf(opts));
}

/** Decode + preprocess several files into one normalised NCHW Float32Array [n, 3, size, size]. */
export async function loadImageBatch(files: string[], opts: PreprocessOptions): Promise<Float32Array> {
  const per = 3 * opts.size * opts.size;
  const out = new Float32Array(files.length * per);
  const lut = lutOf(opts);
  const d = squareOpts(opts);
  await Promise.all(
    files.map(async (f, k) => {
      const img = await decodeGrey(f, d);
      greyToCHW(img, out, k * per, lut);
    }),
  );
  return out;
}
