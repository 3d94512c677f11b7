/**
 * Image decoding with sharp (libvips) and CLIP preprocessing in TypeScript; no LibTorch, no addon.
 * Decode: sharp for JPEG, PNG (8- and 16-bit) and TIFF; DICOM through `dicom.ts`. Every image becomes one
 * 8-bit grey channel at the target geometry straight out of libvips (JPEG shrink-on-load, no RGB pass).
 * 16-bit images keep full precision through the resize and are min–max scaled to 8 bits afterwards.
 * Which decoder a file goes to (the native one for 8-bit JPEG and grey PNG, this one for the rest) is
 * decided in lib/image/decode.ts, by the file alone.
 * Preprocess (for callers that want float tensors; the encoders and the training step take the 8-bit grey
 * pixels and normalise them natively): grey → 3 identical channels, CLIP mean/std, Float32Array CHW / NCHW.
 */
import * as fs from 'fs';
import sharp from 'sharp';
import type { Sharp } from 'sharp';
import { decodeDicom, isDicomBuffer } from './dicom';
import { xtError, isXtError } from '../errors';

/** OpenAI CLIP's normalisation constants (RGB). */
export const CLIP_MEAN: readonly [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_STD: readonly [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

/**
 * Geometry: `crop` resizes the shorter side to `size` and centre-crops (CLIP's choice); `pad` resizes the
 * longer side to `size` and pads with black to a square (CheXzero's choice); `shorter` resizes the shorter
 * side only (keeps the aspect; used before random crops); `none` keeps the original size.
 */
export type ResizeMode = 'crop' | 'pad' | 'shorter' | 'none';

export interface DecodeOptions {
  /** Target side in pixels (required unless mode is `none`). */
  size?: number;
  mode?: ResizeMode;
  /** Resampling kernel (default `cubic`, as CLIP's bicubic). */
  kernel?: 'nearest' | 'linear' | 'cubic' | 'lanczos3';
}

/** One 8-bit grey image, row-major. */
export interface GreyImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** PNG bit depth from the IHDR chunk, TIFF bits from metadata; 8 otherwise. */
function pngBitDepth(b: Buffer): number | undefined {
  if (b.length > 26 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return b[24];
  return undefined;
}

function isTiff(b: Buffer): boolean {
  return b.length > 4 && ((b[0] === 0x49 && b[1] === 0x49 && b[2] === 0x2a) || (b[0] === 0x4d && b[1] === 0x4d && b[3] === 0x2a));
}

function geometry(p: Sharp, opts: DecodeOptions): Sharp {
  const mode = opts.mode ?? 'crop';
  if (mode === 'none') return p;
  const size = opts.size;
  if (!size || !Number.isInteger(size) || size < 1) throw xtError('XT_INVALID', `image size must be a positive integer, got ${size}`);
  const kernel = opts.kernel ?? 'cubic';
  if (mode === 'crop') return p.resize(size, size, { fit: 'cover', position: 'centre', kernel });
  if (mode === 'pad')
    return p.resize(size, size, { fit: 'contain', position: 'centre', kernel, background: { r: 0, g: 0, b: 0, alpha: 1 } });
  return p.resize(size, size, { fit: 'outside', kernel });
}

/** Scale 16-bit values to 8 bits by the image's own min–max. */
function minMax16(d: Uint16Array): Uint8Array {
  let lo = 65535;
  let hi = 0;
  for (let k = 0; k < d.length; k++) {
    const v = d[k];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const out = new Uint8Array(d.length);
  const span = hi > lo ? hi - lo : 1;
  const s = 255 / span;
  for (let k = 0; k < d.length; k++) out[k] = Math.round((d[k] - lo) * s);
  return out;
}

/** Centre a grey image on a black square of side `size` (as sharp's `contain` places it). */
export function padToSquare(img: GreyImage, size: number): GreyImage {
  if (img.width === size && img.height === size) return img;
  const out = new Uint8Array(size * size);
  const left = Math.floor((size - img.width) / 2);
  const top = Math.floor((size - img.height) / 2);
  for (let y = 0; y < img.height; y++) out.set(img.data.subarray(y * img.width, (y + 1) * img.width), (top + y) * size + left);
  return { width: size, height: size, data: out };
}

async function run(p: Sharp, depth16: boolean): Promise<GreyImage> {
  if (depth16) {
    const { data, info } = await p.toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
    const u16 = new Uint16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length));
    return { width: info.width, height: info.height, data: minMax16(u16) };
  }
  const { data, info } = await p.raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 1) throw xtError('XT_INTERNAL', `expected 1 grey channel from the decoder, got ${info.channels}`);
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

/**
 * Decode an encoded image (buffer) to 8-bit grey at the requested geometry with sharp (DICOM: its reader, then
 * sharp). `name` is used in error messages (the file path). lib/image's `decodeGreyBuffer` applies the decoder rule.
 */
export async function decodeGreyBufferSharp(buf: Buffer, opts: DecodeOptions = {}, name = '<buffer>'): Promise<GreyImage> {
  try {
    if (isDicomBuffer(buf)) {
      const d = await decodeDicom(buf, name);
      if ((opts.mode ?? 'crop') === 'none') return { width: d.width, height: d.height, data: d.data };
      const p = sharp(d.data, { raw: { width: d.width, height: d.height, channels: 1 } }).grayscale();
      return await run(geometry(p, opts), false);
    }
    let depth16 = false;
    const bd = pngBitDepth(buf);
    if (bd !== undefined) depth16 = bd === 16;
    else if (isTiff(buf)) depth16 = (await sharp(buf).metadata()).depth === 'ushort';
    const base = sharp(buf, { sequentialRead: true, failOn: 'truncated' });
    if (!depth16) return await run(geometry(base.removeAlpha().grayscale(), opts), false);
    // 16-bit: resize at full precision, then min–max to 8 bits over the image itself; pad afterwards so
    // the black border does not take part in the min–max
    const p = base.pipelineColourspace('grey16');
    if ((opts.mode ?? 'crop') !== 'pad') return await run(geometry(p, opts), true);
    const inner = await run(p.resize(opts.size!, opts.size!, { fit: 'inside', kernel: opts.kernel ?? 'cubic' }), true);
    return padToSquare(inner, opts.size!);
  } catch (e) {
    if (isXtError(e)) throw e;
    throw xtError('XT_INVALID', `${name}: cannot decode image: ${(e as Error).message}`);
  }
}

/** Read and decode an image file (JPEG, PNG 8/16-bit, TIFF, DICOM) to 8-bit grey with sharp (see above). */
export async function decodeGreySharp(file: string, opts: DecodeOptions = {}): Promise<GreyImage> {
  checkSize(opts);
  let buf: Buffer;
  try {
    buf = await fs.promises.readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw xtError('XT_IO', `${file}: ${code === 'ENOENT' ? 'missing image file' : 'cannot read image'} (${code ?? (e as Error).message})`);
  }
  if (buf.length === 0) throw xtError('XT_INVALID', `${file}: cannot decode image: empty file`);
  return decodeGreyBufferSharp(buf, opts, file);
}

/** XT_INVALID unless `size` is a positive integer (any mode but `none`). */
export function checkSize(opts: DecodeOptions): void {
  if ((opts.mode ?? 'crop') !== 'none' && (!opts.size || !Number.isInteger(opts.size) || opts.size < 1))
    throw xtError('XT_INVALID', `image size must be a positive integer, got ${opts.size}`);
}

export interface NormalizeOptions {
  mean?: readonly number[];
  std?: readonly number[];
}

/** Per-channel lookup tables: grey level → normalised float (3 × 256). */
export function normalizeLut(opts: NormalizeOptions = {}): Float32Array[] {
  const mean = opts.mean ?? CLIP_MEAN;
  const std = opts.std ?? CLIP_STD;
  return [0, 1, 2].map((c) => {
    const t = new Float32Array(256);
    for (let v = 0; v < 256; v++) t[v] = (v / 255 - mean[c]) / std[c];
    return t;
  });
}

const DEFAULT_LUT = normalizeLut();

/**
 * Write a grey image as 3 normalised channels (CHW) into `out` at `offset` (floats).
 * Returns `out` (allocated when not given).
 */
export function greyToCHW(img: GreyImage, out?: Float32Array, offset = 0, lut: Float32Array[] = DEFAULT_LUT): Float32Array {
  const n = img.width * img.height;
  const o = out ?? new Float32Array(3 * n);
  if (o.length < offset + 3 * n) throw xtError('XT_SHAPE', `output holds ${o.length} floats, needs ${offset + 3 * n}`);
  const d = img.data;
  for (let c = 0; c < 3; c++) {
    const t = lut[c];
    const base = offset + c * n;
    for (let k = 0; k < n; k++) o[base + k] = t[d[k]];
  }
  return o;
}

/** Same as `greyToCHW` from floats in [0, 1] (after augmentation). */
export function floatGreyToCHW(
  data: Float32Array,
  width: number,
  height: number,
  out?: Float32Array,
  offset = 0,
  opts: NormalizeOptions = {},
): Float32Array {
  const n = width * height;
  const o = out ?? new Float32Array(3 * n);
  if (o.length < offset + 3 * n) throw xtError('XT_SHAPE', `output holds ${o.length} floats, needs ${offset + 3 * n}`);
  const mean = opts.mean ?? CLIP_MEAN;
  const std = opts.std ?? CLIP_STD;
  for (let c = 0; c < 3; c++) {
    const m = mean[c];
    const s = 1 / std[c];
    const base = offset + c * n;
    for (let k = 0; k < n; k++) o[base + k] = (data[k] - m) * s;
  }
  return o;
}
