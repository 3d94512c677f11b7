/**
 * Image decoding to 8-bit grey at a target geometry, with one rule for which decoder runs. The rule depends on
 * the file alone (its format and bit depth), never on what the process happened to load before:
 *  - 8-bit JPEG (grey or YCbCr) and 8-bit grey PNG (with or without alpha) → the native decoder
 *    (binding/image/decode.cc: libjpeg-turbo with DCT-domain downscaling / libpng, then PIL's antialiased
 *    bicubic), the addon being loaded on first use;
 *  - everything else (16-bit PNG, colour or palette PNG, CMYK JPEG, TIFF, WebP, …) → sharp (libvips,
 *    lib/data/images.ts); DICOM → its reader (lib/data/dicom.ts), then sharp for the geometry;
 *  - a non-default `kernel` (anything but `cubic`) → sharp, for every format (the native resampler is bicubic).
 * The two decoders agree within a few grey levels (test/native/image-parity.test.ts measures it on real X-rays).
 *
 * Override (an explicit choice, for all files): `XRAY_TORCH_DECODER=sharp|native|auto` or `setImageBackend()`.
 * `sharp` decodes everything with sharp and never loads the addon; `native` makes an unavailable native decoder
 * an error. With `auto` (the default), an addon that cannot be loaded or was built without libjpeg/libpng
 * leaves every file to sharp, with one process warning (code XT_DECODER).
 */
import { native, type ImageNative } from '../native';
import { xtError } from '../errors';
import { checkSize, decodeGreyBufferSharp, decodeGreySharp, type DecodeOptions, type GreyImage } from '../data/images';
import { isDicomBuffer } from '../data/dicom';

export type ImageBackend = 'auto' | 'sharp' | 'native';

type NativeDecode = NonNullable<ImageNative['decodeImageGrey']>;

function envBackend(): ImageBackend {
  const v = (process.env.XRAY_TORCH_DECODER ?? 'auto').toLowerCase();
  return v === 'sharp' || v === 'native' ? v : 'auto';
}

let backend: ImageBackend = envBackend();
/** undefined: not looked up yet; null: unavailable (`unavailable` says why). */
let nativeDecode: NativeDecode | null | undefined;
let unavailable: Error | undefined;
let warned = false;

/** Choose the decoding backend for every file (see the module comment); `auto` is the per-file rule. */
export function setImageBackend(b: ImageBackend): void {
  if (b !== 'auto' && b !== 'sharp' && b !== 'native') throw xtError('XT_INVALID', `image backend must be auto, sharp or native, got ${b}`);
  backend = b;
}

/**
 * The requested backend and whether the native decoder is available to it (with `auto` or `native`, this
 * loads the addon if it is not loaded yet).
 */
export function imageBackend(): { requested: ImageBackend; native: boolean } {
  return { requested: backend, native: backend !== 'sharp' && !!lookupNative() };
}

function lookupNative(): NativeDecode | null {
  if (nativeDecode === undefined) {
    try {
      const a = native() as ImageNative;
      nativeDecode = typeof a.decodeImageGrey === 'function' ? a.decodeImageGrey.bind(a) : null;
      if (!nativeDecode) {
        unavailable = xtError('XT_LOAD', 'the native addon was built without libjpeg/libpng (Debian: libjpeg62-turbo-dev libpng-dev); ' +
          'rebuild it, or choose the sharp backend (XRAY_TORCH_DECODER=sharp)');
      }
    } catch (e) {
      nativeDecode = null;
      unavailable = e as Error;
    }
  }
  return nativeDecode;
}

/** The native decoder when the rule sends this request to it (format checks are the decoder's: null = not its format). */
function nativeFor(opts: DecodeOptions): NativeDecode | null {
  if (backend === 'sharp' || (opts.kernel ?? 'cubic') !== 'cubic') return null;
  const dec = lookupNative();
  if (!dec) {
    if (backend === 'native') throw unavailable!;
    if (!warned) {
      warned = true;
      process.emitWarning(`native image decoder unavailable (${unavailable?.message}); decoding every image with sharp`, { code: 'XT_DECODER' });
    }
  }
  return dec;
}

/** Whether the bytes are a format the native decoder takes (8-bit JPEG; 8-bit grey PNG): saves a copy otherwise. */
function nativeFormat(b: Uint8Array): boolean {
  if (b.length > 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return true;
  return b.length > 28 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 && b[24] === 8 && (b[25] === 0 || b[25] === 4);
}

/** Read and decode an image file (JPEG, PNG 8/16-bit, TIFF, DICOM) to 8-bit grey at the requested geometry. */
export async function decodeGrey(file: string, opts: DecodeOptions = {}): Promise<GreyImage> {
  checkSize(opts);
  const dec = nativeFor(opts);
  if (dec) {
    const r = await dec(file, opts.size ?? 0, opts.mode ?? 'crop');
    if (r) return r;
  }
  return decodeGreySharp(file, opts);
}

/** Decode encoded bytes (the formats of `decodeGrey`) by the same rule; `name` names them in errors. */
export async function decodeGreyBuffer(buf: Buffer | Uint8Array, opts: DecodeOptions = {}, name = '<buffer>'): Promise<GreyImage> {
  checkSize(opts);
  if (buf.length === 0) throw xtError('XT_INVALID', `${name}: cannot decode image: empty input`);
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (nativeFormat(b) && !isDicomBuffer(b)) {
    const dec = nativeFor(opts);
    if (dec) {
      const r = await dec(b, opts.size ?? 0, opts.mode ?? 'crop', name);
      if (r) return r;
    }
  }
  return decodeGreyBufferSharp(b, opts, name);
}
