/**
 * A small, validating reader and writer for the safetensors format
 * (https://github.com/huggingface/safetensors): an 8-byte little-endian header length N, N bytes
 * of JSON (`{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}`),
 * then the byte buffer the offsets index.
 *
 * Everything is checked before any tensor is handed out: header length within the file, UTF-8
 * JSON object, known dtypes, shapes of non-negative integers, offsets inside the buffer, in order,
 * not overlapping and covering it without holes, and shape x dtype size = byte length. Failures are
 * XT_IO errors naming the file and the tensor.
 */
import * as fs from 'fs';
import * as os from 'os';
import { xtError, XtError } from '../errors';

export type SafetensorsDtype =
  | 'F64'
  | 'F32'
  | 'F16'
  | 'BF16'
  | 'F8_E4M3'
  | 'F8_E5M2'
  | 'I64'
  | 'I32'
  | 'I16'
  | 'I8'
  | 'U64'
  | 'U32'
  | 'U16'
  | 'U8'
  | 'BOOL';

/** Bytes per element of each dtype. */
export const DTYPE_SIZE: Readonly<Record<SafetensorsDtype, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
};

/** The typed array a tensor's raw data is returned in (F16/BF16 as their raw 16-bit words). */
export type SafetensorsArray =
  | Float64Array
  | Float32Array
  | BigInt64Array
  | BigUint64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array;

export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Offsets within the data buffer (after the header), as in the file. */
  begin: number;
  end: number;
}

export interface SafeTensor<A extends SafetensorsArray = SafetensorsArray> {
  dtype: SafetensorsDtype;
  shape: number[];
  data: A;
}

/** Hard limit on the JSON header (the format's own reference implementation uses 100 MB). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

function ioError(source: string, msg: string): XtError {
  return xtError('XT_IO', `${source}: ${msg}`);
}

function isDtype(s: unknown): s is SafetensorsDtype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_SIZE, s);
}

function numelOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A parsed, validated safetensors file over its bytes (tensor data is copied out on access). */
export class SafetensorsFile {
  readonly source: string;
  readonly metadata: Readonly<Record<string, string>>;
  /** Entries in file order (by offset). */
  readonly entries: readonly SafetensorsEntry[];
  private readonly byName: Map<string, SafetensorsEntry>;
  private readonly bytes: Uint8Array;
  private readonly dataStart: number;

  constructor(bytes: Uint8Array, source = '<buffer>') {
    this.source = source;
    this.bytes = bytes;
    if (bytes.length < 8) throw ioError(source, `not a safetensors file: ${bytes.length} bytes, no 8-byte header length`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const n = view.getBigUint64(0, true);
    if (n > BigInt(bytes.length - 8)) {
      throw ioError(source, `header length ${n} runs past the end of the file (${bytes.length - 8} bytes after it)`);
    }
    if (n > BigInt(MAX_HEADER_BYTES)) throw ioError(source, `header length ${n} exceeds ${MAX_HEADER_BYTES} bytes`);
    const headerLen = Number(n);
    if (headerLen < 2) throw ioError(source, `header of ${headerLen} bytes cannot hold a JSON object`);
    this.dataStart = 8 + headerLen;
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
    } catch {
      throw ioError(source, 'header is not valid UTF-8');
    }
    let header: unknown;
    try {
      header = JSON.parse(text);
    } catch (e) {
      throw ioError(source, `header is not valid JSON (${(e as Error).message})`);
    }
    if (header === null || typeof header !== 'object' || Array.isArray(header)) {
      throw ioError(source, 'header is not a JSON object');
    }
    const dataLen = bytes.length - this.dataStart;
    const entries: SafetensorsEntry[] = [];
    let metadata: Record<string, string> = {};
    for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
      if (name === '__metadata__') {
        if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
          throw ioError(source, '__metadata__ must be an object of strings');
        }
        for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
          if (typeof v !== 'string') throw ioError(source, `__metadata__.${k} must be a string, got ${typeof v}`);
        }
        metadata = { ...(raw as Record<string, string>) };
        continue;
      }
      const where = `tensor "${name}"`;
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
        throw ioError(source, `${where}: entry is not an object`);
      }
      const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (!isDtype(e.dtype)) throw ioError(source, `${where}: unknown dtype ${JSON.stringify(e.dtype)}`);
      if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
        throw ioError(source, `${where}: shape must be an array of non-negative integers, got ${JSON.stringify(e.shape)}`);
      }
      const offs = e.data_offsets;
      if (
        !Array.isArray(offs) ||
        offs.length !== 2 ||
        !offs.every((o) => Number.isSafeInteger(o) && o >= 0) ||
        offs[0] > offs[1]
      ) {
        throw ioError(source, `${where}: data_offsets must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(offs)}`);
      }
      const [begin, end] = offs as [number, number];
      if (end > dataLen) {
        throw ioError(source, `${where}: data_offsets [${begin}, ${end}] run past the data buffer (${dataLen} bytes)`);
      }
      const shape = e.shape as number[];
      const want = numelOf(shape) * DTYPE_SIZE[e.dtype];
      if (want !== end - begin) {
        throw ioError(
          source,
          `${where}: shape [${shape.join(', ')}] of ${e.dtype} needs ${want} bytes but data_offsets give ${end - begin}`,
        );
      }
      entries.push({ name, dtype: e.dtype, shape: [...shape], begin, end });
    }
    entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
    let pos = 0;
    for (const e of entries) {
      if (e.begin < pos) {
        const prev = entries[entries.indexOf(e) - 1];
        throw ioError(source, `tensor "${e.name}": bytes [${e.begin}, ${e.end}) overlap tensor "${prev.name}" [${prev.begin}, ${prev.end})`);
      }
      if (e.begin > pos) throw ioError(source, `tensor "${e.name}": unindexed bytes [${pos}, ${e.begin}) before it`);
      pos = e.end;
    }
    if (pos !== dataLen) throw ioError(source, `unindexed bytes [${pos}, ${dataLen}) at the end of the data buffer`);
    this.entries = entries;
    this.byName = new Map(entries.map((e) => [e.name, e]));
    this.metadata = metadata;
  }

  /** Tensor names in file order. */
  get names(): string[] {
    return this.entries.map((e) => e.name);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  entry(name: string): SafetensorsEntry {
    const e = this.byName.get(name);
    if (!e) throw ioError(this.source, `no tensor "${name}" (it has ${this.entries.length}: ${this.names.slice(0, 8).join(', ')}${this.entries.length > 8 ? ', …' : ''})`);
    return e;
  }

  /** The tensor's data in its own dtype, as a fresh (aligned) typed array. */
  get(name: string): SafeTensor {
    const e = this.entry(name);
    // a fresh ArrayBuffer (a Buffer's slice() would share memory, possibly misaligned)
    const raw = new Uint8Array(e.end - e.begin);
    raw.set(this.bytes.subarray(this.dataStart + e.begin, this.dataStart + e.end));
    return { dtype: e.dtype, shape: [...e.shape], data: typedView(e.dtype, raw.buffer, 0, raw.byteLength) };
  }

  /** The tensor converted to Float64Array (any numeric dtype; F16/BF16 decoded; 64-bit ints must be exact). */
  getFloat64(name: string): SafeTensor<Float64Array> {
    const t = this.get(name);
    return { dtype: t.dtype, shape: t.shape, data: toFloat64(t, `${this.source}: tensor "${name}"`) };
  }

  /** The tensor converted to Float32Array. */
  getFloat32(name: string): SafeTensor<Float32Array> {
    const t = this.getFloat64(name);
    return { dtype: t.dtype, shape: t.shape, data: Float32Array.from(t.data) };
  }
}

function checkEndianness(): void {
  if (os.endianness() !== 'LE') throw xtError('XT_IO', 'safetensors: only little-endian hosts are supported');
}

function typedView(dtype: SafetensorsDtype, buf: ArrayBufferLike, off: number, len: number): SafetensorsArray {
  checkEndianness();
  const n = len / DTYPE_SIZE[dtype];
  switch (dtype) {
    case 'F64':
      return new Float64Array(buf, off, n);
    case 'F32':
      return new Float32Array(buf, off, n);
    case 'F16':
    case 'BF16':
    case 'U16':
      return new Uint16Array(buf, off, n);
    case 'I64':
      return new BigInt64Array(buf, off, n);
    case 'U64':
      return new BigUint64Array(buf, off, n);
    case 'I32':
      return new Int32Array(buf, off, n);
    case 'U32':
      return new Uint32Array(buf, off, n);
    case 'I16':
      return new Int16Array(buf, off, n);
    case 'I8':
      return new Int8Array(buf, off, n);
    default:
      return new Uint8Array(buf, off, n); // U8, BOOL, F8_*
  }
}

/** IEEE half (raw 16 bits) to number. */
export function halfToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** bfloat16 (raw 16 bits) to number. */
export function bf16ToNumber(h: number): number {
  const b = new Float32Array(new Uint32Array([h << 16]).buffer);
  return b[0];
}

/** Round a number to IEEE half (raw 16 bits, round to nearest even). */
export function numberToHalf(x: number): number {
  const f32 = new Float32Array([x]);
  const u = new Uint32Array(f32.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // a carry rounds up the exponent (to Inf at the top)
  return sign | h;
}

/** Round a number to bfloat16 (raw 16 bits, round to nearest even). */
export function numberToBf16(x: number): number {
  const u = new Uint32Array(new Float32Array([x]).buffer)[0];
  if ((u & 0x7f800000) === 0x7f800000 && u & 0x7fffff) return (u >>> 16) | 0x40;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

function toFloat64(t: SafeTensor, what: string): Float64Array {
  const d = t.data;
  const out = new Float64Array(d.length);
  if (t.dtype === 'F16') {
    for (let i = 0; i < d.length; i++) out[i] = halfToNumber(d[i] as number);
  } else if (t.dtype === 'BF16') {
    for (let i = 0; i < d.length; i++) out[i] = bf16ToNumber(d[i] as number);
  } else if (t.dtype === 'F8_E4M3' || t.dtype === 'F8_E5M2') {
    throw xtError('XT_IO', `${what}: ${t.dtype} cannot be converted to float64 here`);
  } else if (d instanceof BigInt64Array || d instanceof BigUint64Array) {
    for (let i = 0; i < d.length; i++) {
      const v = Number(d[i]);
      if (!Number.isSafeInteger(v)) throw xtError('XT_IO', `${what}: element ${i} (${d[i]}) is not exactly representable`);
      out[i] = v;
    }
  } else {
    for (let i = 0; i < d.length; i++) out[i] = d[i] as number;
  }
  return out;
}

/** Parse safetensors bytes (validated; throws XT_IO naming `source`). */
export function parseSafetensors(bytes: Uint8Array, source = '<buffer>'): SafetensorsFile {
  return new SafetensorsFile(bytes, source);
}

/** Read and validate a safetensors file. */
export async function readSafetensors(file: string): Promise<SafetensorsFile> {
  let bytes: Buffer;
  try {
    bytes = await fs.promises.readFile(file);
  } catch (e) {
    throw xtError('XT_IO', `${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return new SafetensorsFile(bytes, file);
}

export function readSafetensorsSync(file: string): SafetensorsFile {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw xtError('XT_IO', `${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return new SafetensorsFile(bytes, file);
}

/** A tensor to write; `dtype` defaults from the array type (Uint16Array needs one: F16, BF16 or U16). */
export interface SafeTensorInput {
  dtype?: SafetensorsDtype;
  shape: number[];
  data: SafetensorsArray;
}

function defaultDtype(a: SafetensorsArray): SafetensorsDtype | undefined {
  if (a instanceof Float64Array) return 'F64';
  if (a instanceof Float32Array) return 'F32';
  if (a instanceof BigInt64Array) return 'I64';
  if (a instanceof BigUint64Array) return 'U64';
  if (a instanceof Int32Array) return 'I32';
  if (a instanceof Uint32Array) return 'U32';
  if (a instanceof Int16Array) return 'I16';
  if (a instanceof Int8Array) return 'I8';
  if (a instanceof Uint8Array) return 'U8';
  return undefined;
}

/**
 * Serialise tensors (in the given order) and string metadata. The header is padded with spaces
 * to a multiple of 8 bytes so every tensor starts 8-byte aligned when sizes allow.
 */
export function serializeSafetensors(
  tensors: Record<string, SafeTensorInput> | [string, SafeTensorInput][],
  metadata?: Record<string, string>,
): Buffer {
  checkEndianness();
  const list = Array.isArray(tensors) ? tensors : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw xtError('XT_INVALID', `safetensors metadata "${k}" must be a string`);
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  const parts: Uint8Array[] = [];
  const seen = new Set<string>();
  for (const [name, t] of list) {
    if (name === '__metadata__') throw xtError('XT_INVALID', 'safetensors: "__metadata__" is reserved');
    if (seen.has(name)) throw xtError('XT_INVALID', `safetensors: tensor "${name}" given twice`);
    seen.add(name);
    const dtype = t.dtype ?? defaultDtype(t.data);
    if (!dtype || !isDtype(dtype)) {
      throw xtError('XT_INVALID', `safetensors: tensor "${name}": give a dtype (F16, BF16 or U16) for a ${t.data.constructor.name}`);
    }
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw xtError('XT_INVALID', `safetensors: tensor "${name}": shape must be non-negative integers`);
    }
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    if (numelOf(t.shape) * DTYPE_SIZE[dtype] !== bytes.byteLength) {
      throw xtError(
        'XT_SHAPE',
        `safetensors: tensor "${name}": shape [${t.shape.join(', ')}] of ${dtype} needs ${numelOf(t.shape) * DTYPE_SIZE[dtype]} bytes, data has ${bytes.byteLength}`,
      );
    }
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    parts.push(bytes);
    offset += bytes.byteLength;
  }
  let json = JSON.stringify(header);
  const jsonLen = Buffer.byteLength(json, 'utf8');
  json += ' '.repeat((8 - (jsonLen % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let pos = 8 + headerBytes.length;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.byteLength;
  }
  return out;
}

/** Write tensors to a safetensors file (via a temporary file and rename). */
export async function writeSafetensors(
  file: string,
  tensors: Record<string, SafeTensorInput> | [string, SafeTensorInput][],
  metadata?: Record<string, string>,
): Promise<void> {
  const bytes = serializeSafetensors(tensors, metadata);
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  try {
    await fs.promises.writeFile(tmp, bytes);
    await fs.promises.rename(tmp, file);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
    throw xtError('XT_IO', `${file}: cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}
