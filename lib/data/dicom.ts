/**
 * DICOM chest radiographs → 8-bit display grey (MONOCHROME2 convention: dense = bright).
 * Parsing by the maintained `dicom-parser` (cornerstonejs). Handles native pixel data (8/16/32-bit,
 * signed or not, little or big endian, deflated), JPEG baseline / extended 8-bit encapsulated pixel data
 * (decoded by sharp), RGB/YBR colour (to luminance), the modality rescale (slope/intercept), the VOI
 * (VOI LUT sequence, else window centre/width with LINEAR / LINEAR_EXACT / SIGMOID, else the full range
 * of an unscaled 8-bit image or the image's min–max), and MONOCHROME1 inversion, done after quantising
 * so a MONOCHROME1 image is the exact inverse (255 − v) of the same pixels read as MONOCHROME2.
 * Multi-frame files: the first frame.
 */
import * as zlib from 'zlib';
import * as dicomParser from 'dicom-parser';
import sharp from 'sharp';
import type { OutputInfo } from 'sharp';
import { xtError } from '../errors';

export interface DicomImage {
  width: number;
  height: number;
  /** Display values 0..255, row-major, one channel. */
  data: Uint8Array;
  photometric: string;
  transferSyntax: string;
  bitsStored: number;
  /** How the VOI was chosen: `lut`, `window`, `full-range` or `min-max`. */
  voi: 'lut' | 'window' | 'full-range' | 'min-max';
}

const TS = {
  implicitLE: '1.2.840.10008.1.2',
  explicitLE: '1.2.840.10008.1.2.1',
  deflated: '1.2.840.10008.1.2.1.99',
  explicitBE: '1.2.840.10008.1.2.2',
  jpegBaseline: '1.2.840.10008.1.2.4.50',
  jpegExtended: '1.2.840.10008.1.2.4.51',
};

const TS_NAMES: Record<string, string> = {
  '1.2.840.10008.1.2.4.57': 'JPEG lossless',
  '1.2.840.10008.1.2.4.70': 'JPEG lossless SV1',
  '1.2.840.10008.1.2.4.80': 'JPEG-LS lossless',
  '1.2.840.10008.1.2.4.81': 'JPEG-LS near-lossless',
  '1.2.840.10008.1.2.4.90': 'JPEG 2000 lossless',
  '1.2.840.10008.1.2.4.91': 'JPEG 2000',
  '1.2.840.10008.1.2.5': 'RLE lossless',
};

/** Whether a buffer looks like a DICOM Part-10 file (`DICM` at byte 128). */
export function isDicomBuffer(b: Uint8Array): boolean {
  return b.length > 132 && b[128] === 0x44 && b[129] === 0x49 && b[130] === 0x43 && b[131] === 0x4d;
}

/** dicom-parser throws strings, Errors, or `{exception, dataSet}` objects. */
function errText(e: unknown): string {
  if (typeof e === 'string') return e;
  if (e instanceof Error) return e.message;
  const ex = (e as { exception?: unknown } | null)?.exception;
  if (ex !== undefined) return errText(ex);
  return String(e);
}

function parse(buf: Uint8Array, name: string): dicomParser.DataSet {
  try {
    return dicomParser.parseDicom(buf, {
      inflater: (arr: Uint8Array, pos: number) => {
        const head = arr.slice(0, pos);
        const body = zlib.inflateRawSync(arr.subarray(pos));
        const out = new Uint8Array(head.length + body.length);
        out.set(head, 0);
        out.set(body, head.length);
        return out;
      },
    } as dicomParser.ParseDicomOptions);
  } catch (e) {
    throw xtError('XT_INVALID', `${name}: not a readable DICOM file: ${errText(e)}`);
  }
}

/** First numeric value of a DS/IS string tag (backslash-separated multi-values). */
function firstNumber(ds: dicomParser.DataSet, tag: string): number | undefined {
  const s = ds.string(tag);
  if (s === undefined || s.trim() === '') return undefined;
  const v = parseFloat(s.split('\\')[0]);
  return Number.isFinite(v) ? v : undefined;
}

/** Stored pixel values of frame 0 as numbers (grey: one per pixel). */
async function storedPixels(
  ds: dicomParser.DataSet,
  ts: string,
  name: string,
): Promise<{ values: ArrayLike<number>; width: number; height: number; bits: number }> {
  const rows = ds.uint16('x00280010') ?? 0;
  const cols = ds.uint16('x00280011') ?? 0;
  const bitsAllocated = ds.uint16('x00280100') ?? 0;
  const bitsStored = ds.uint16('x00280101') ?? bitsAllocated;
  const signed = (ds.uint16('x00280103') ?? 0) === 1;
  const spp = ds.uint16('x00280002') ?? 1;
  const planar = ds.uint16('x00280006') ?? 0;
  const pe = ds.elements.x7fe00010;
  if (!pe) throw xtError('XT_INVALID', `${name}: no Pixel Data (7FE0,0010)`);
  if (!rows || !cols) throw xtError('XT_INVALID', `${name}: Rows/Columns (0028,0010/0011) missing or zero`);

  if (ts === TS.jpegBaseline || ts === TS.jpegExtended) {
    let frame: Uint8Array;
    try {
      const frames = Number(ds.string('x00280008') ?? '1') || 1;
      if (frames === 1) {
        frame = dicomParser.readEncapsulatedPixelDataFromFragments(ds, pe, 0, pe.fragments!.length) as Uint8Array;
      } else {
        const bot = pe.basicOffsetTable?.length ? pe.basicOffsetTable : dicomParser.createJPEGBasicOffsetTable(ds, pe);
        frame = dicomParser.readEncapsulatedImageFrame(ds, pe, 0, bot) as Uint8Array;
      }
    } catch (e) {
      throw xtError('XT_INVALID', `${name}: cannot read encapsulated pixel data: ${errText(e)}`);
    }
    let out: { data: Buffer; info: OutputInfo };
    try {
      out = await sharp(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength))
        .grayscale()
        .raw()
        .toBuffer({ resolveWithObject: true });
    } catch (e) {
      throw xtError('XT_INVALID', `${name}: JPEG pixel data does not decode (${(e as Error).message}); 12-bit JPEG is not supported`);
    }
    if (out.info.width !== cols || out.info.height !== rows)
      throw xtError('XT_INVALID', `${name}: JPEG frame is ${out.info.width}×${out.info.height}, header says ${cols}×${rows}`);
    return { values: new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.length), width: cols, height: rows, bits: 8 };
  }
  if (ts !== TS.implicitLE && ts !== TS.explicitLE && ts !== TS.explicitBE && ts !== TS.deflated) {
    const what = TS_NAMES[ts] ? `${TS_NAMES[ts]} (${ts})` : ts;
    throw xtError('XT_INVALID', `${name}: unsupported transfer syntax ${what}: convert it to JPEG baseline or uncompressed first`);
  }

  const n = rows * cols;
  const bytesPer = bitsAllocated / 8;
  if (![8, 16, 32].includes(bitsAllocated))
    throw xtError('XT_INVALID', `${name}: Bits Allocated (0028,0100) = ${bitsAllocated}, expected 8, 16 or 32`);
  const need = n * spp * bytesPer;
  if (pe.length < need) throw xtError('XT_INVALID', `${name}: Pixel Data holds ${pe.length} bytes, ${cols}×${rows}×${spp} needs ${need}`);
  const bytes = ds.byteArray;
  const dv = new DataView(bytes.buffer, bytes.byteOffset + pe.dataOffset, need);
  const le = ts !== TS.explicitBE;
  const read = (k: number): number => {
    if (bitsAllocated === 8) return dv.getUint8(k);
    if (bitsAllocated === 16) return dv.getUint16(k * 2, le);
    return dv.getUint32(k * 4, le);
  };
  const mask = bitsStored >= 32 ? 0xffffffff : 2 ** bitsStored - 1;
  const signBit = 2 ** (bitsStored - 1);
  const toValue = (raw: number): number => {
    const v = bitsStored >= 32 ? raw : raw % (mask + 1);
    return signed && v >= signBit ? v - 2 * signBit : v;
  };
  const values = new Float64Array(n);
  if (spp === 1) {
    for (let k = 0; k < n; k++) values[k] = toValue(read(k));
  } else if (spp === 3) {
    // RGB to luminance (Rec. 601)
    for (let k = 0; k < n; k++) {
      const [r, g, b] = planar ? [read(k), read(n + k), read(2 * n + k)] : [read(3 * k), read(3 * k + 1), read(3 * k + 2)];
      values[k] = 0.299 * r + 0.587 * g + 0.114 * b;
    }
  } else throw xtError('XT_INVALID', `${name}: Samples per Pixel (0028,0002) = ${spp}, expected 1 or 3`);
  return { values, width: cols, height: rows, bits: bitsStored };
}

/** Decode a DICOM buffer to 8-bit display grey. */
export async function decodeDicom(buf: Uint8Array, name = '<buffer>'): Promise<DicomImage> {
  const ds = parse(buf, name);
  const ts = (ds.string('x00020010') ?? TS.explicitLE).trim();
  const photometric = (ds.string('x00280004') ?? 'MONOCHROME2').trim().toUpperCase();
  const { values, width, height, bits } = await storedPixels(ds, ts, name);
  const n = width * height;

  // modality LUT: rescale slope/intercept
  const slope = firstNumber(ds, 'x00281053') ?? 1;
  const intercept = firstNumber(ds, 'x00281052') ?? 0;
  const rescaled = slope !== 1 || intercept !== 0;

  const out = new Uint8Array(n);
  let voi: DicomImage['voi'];
  const voiSeq = ds.elements.x00283010?.items?.[0]?.dataSet;
  const center = firstNumber(ds, 'x00281050');
  const widthW = firstNumber(ds, 'x00281051');
  if (voiSeq && voiSeq.elements.x00283002 && voiSeq.elements.x00283006) {
    voi = 'lut';
    const d = voiSeq.elements.x00283002;
    let entries = voiSeq.uint16('x00283002', 0) ?? 0;
    if (entries === 0) entries = 65536;
    // first mapped value: US or SS depending on the pixel representation
    let first = voiSeq.uint16('x00283002', 1) ?? 0;
    if ((ds.uint16('x00280103') ?? 0) === 1 && first >= 32768) first -= 65536;
    const lutBits = voiSeq.uint16('x00283002', 2) ?? 16;
    void d;
    const dataEl = voiSeq.elements.x00283006;
    const lut = new Float64Array(entries);
    const lutMax = 2 ** lutBits - 1;
    for (let k = 0; k < entries; k++) {
      const v = dataEl.length >= entries * 2 ? voiSeq.uint16('x00283006', k) ?? 0 : voiSeq.byteArray[dataEl.dataOffset + k];
      lut[k] = v / lutMax;
    }
    for (let k = 0; k < n; k++) {
      const x = Number(values[k]) * slope + intercept;
      const i = Math.min(entries - 1, Math.max(0, Math.round(x) - first));
      out[k] = Math.round(Math.min(1, Math.max(0, lut[i])) * 255);
    }
  } else if (center !== undefined && widthW !== undefined && widthW > 0) {
    voi = 'window';
    const fn = (ds.string('x00281056') ?? 'LINEAR').trim().toUpperCase();
    for (let k = 0; k < n; k++) {
      const x = Number(values[k]) * slope + intercept;
      let t: number;
      if (fn === 'SIGMOID') t = 1 / (1 + Math.exp((-4 * (x - center)) / widthW));
      else if (fn === 'LINEAR_EXACT') t = (x - center) / widthW + 0.5;
      else if (widthW <= 1) t = x > center - 0.5 ? 1 : 0;
      else t = (x - (center - 0.5)) / (widthW - 1) + 0.5;
      out[k] = Math.round(Math.min(1, Math.max(0, t)) * 255);
    }
  } else if (bits <= 8 && !rescaled && Array.prototype.every.call(values, (v: number) => v >= 0)) {
    // an unscaled 8-bit image already holds display levels
    voi = 'full-range';
    for (let k = 0; k < n; k++) out[k] = Number(values[k]);
  } else {
    voi = 'min-max';
    let lo = Infinity;
    let hi = -Infinity;
    for (let k = 0; k < n; k++) {
      const x = Number(values[k]) * slope + intercept;
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
    const span = hi > lo ? hi - lo : 1;
    for (let k = 0; k < n; k++) out[k] = Math.round(((Number(values[k]) * slope + intercept - lo) / span) * 255);
  }
  if (photometric === 'MONOCHROME1') for (let k = 0; k < n; k++) out[k] = 255 - out[k];
  return { width, height, data: out, photometric, transferSyntax: ts, bitsStored: bits, voi };
}
