/**
 * Helpers for the CLIP tests: an independent (pure TypeScript) safetensors reader/writer for
 * fixtures and for building fuzzed, truncated, sharded, re-typed or renamed copies, and
 * tolerance checks. Kept apart from the native reader on purpose, so tests never check the
 * native reader against itself.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export interface StEntry {
  name: string;
  dtype: string;
  shape: number[];
  bytes: Buffer;
}

export interface StFile {
  metadata: Record<string, string> | undefined;
  entries: StEntry[];
}

export function readSt(file: string): StFile {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;
  const base = 8 + n;
  const entries: StEntry[] = [];
  let metadata: Record<string, string> | undefined;
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = v as Record<string, string>;
      continue;
    }
    const info = v as { dtype: string; shape: number[]; data_offsets: [number, number] };
    entries.push({
      name,
      dtype: info.dtype,
      shape: info.shape,
      bytes: Buffer.from(buf.subarray(base + info.data_offsets[0], base + info.data_offsets[1])),
    });
  }
  return { metadata, entries };
}

/** Raw header JSON text and data of a file, for byte-level corruption. */
export function splitSt(file: string): { header: string; data: Buffer } {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  return { header: buf.subarray(8, 8 + n).toString('utf8'), data: buf.subarray(8 + n) };
}

export function joinSt(header: string, data: Buffer, lengthOverride?: number): Buffer {
  const h = Buffer.from(header, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(lengthOverride ?? h.length));
  return Buffer.concat([len, h, data]);
}

export function writeSt(file: string, entries: StEntry[], metadata?: Record<string, string>): void {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  for (const e of entries) {
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [off, off + e.bytes.length] };
    off += e.bytes.length;
  }
  let h = JSON.stringify(header);
  while ((8 + Buffer.byteLength(h)) % 8) h += ' ';
  fs.writeFileSync(file, joinSt(h, Buffer.concat(entries.map((e) => e.bytes))));
}

// ---------------------------------------------------------------------------------------------
// numbers
// ---------------------------------------------------------------------------------------------
export function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

let f16Table: Float32Array | undefined;
function f16Lut(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16ToF32(h);
  }
  return f16Table;
}

function u16View(b: Buffer): Uint16Array {
  const c = Buffer.from(b); // own, aligned copy
  return new Uint16Array(c.buffer, c.byteOffset, c.length / 2);
}

/** F16 bytes -> F32 bytes (exact). */
export function f16BytesToF32(b: Buffer): Buffer {
  const lut = f16Lut();
  const src = u16View(b);
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = lut[src[i]];
  return Buffer.from(out.buffer);
}

/** F16 bytes -> BF16 bytes (truncating the float32 value) and the float32 values of the result. */
export function f16BytesToBf16(b: Buffer): { bytes: Buffer; values: Float32Array } {
  const lut = f16Lut();
  const src = u16View(b);
  const values = new Float32Array(src.length);
  const bits = new Uint32Array(values.buffer);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    values[i] = lut[src[i]];
    bits[i] &= 0xffff0000;
    out[i] = bits[i] >>> 16;
  }
  return { bytes: Buffer.from(out.buffer), values };
}

export function asFloat64(e: StEntry): Float64Array {
  const b = e.bytes;
  if (e.dtype === 'F64') return new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
  if (e.dtype === 'F32') return Float64Array.from(new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)));
  if (e.dtype === 'F16') {
    const lut = f16Lut();
    const src = u16View(b);
    const out = new Float64Array(src.length);
    for (let i = 0; i < src.length; i++) out[i] = lut[src[i]];
    return out;
  }
  throw new Error(`asFloat64: ${e.dtype}`);
}

export function asFloat32(e: StEntry): Float32Array {
  if (e.dtype === 'F32') return new Float32Array(e.bytes.buffer.slice(e.bytes.byteOffset, e.bytes.byteOffset + e.bytes.length));
  return Float32Array.from(asFloat64(e));
}

export function asBigInt64(e: StEntry): BigInt64Array {
  if (e.dtype !== 'I64') throw new Error(`asBigInt64: ${e.dtype}`);
  return new BigInt64Array(e.bytes.buffer.slice(e.bytes.byteOffset, e.bytes.byteOffset + e.bytes.length));
}

export function entry(f: StFile, name: string): StEntry {
  const e = f.entries.find((x) => x.name === name);
  if (!e) throw new Error(`no tensor ${name}`);
  return e;
}

/**
 * Assert `got` matches `want` within `rtol` relative to the largest |want| (max-norm relative
 * error), and report it: embeddings can have near-zero entries, so per-element relative error
 * is not meaningful.
 */
export function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, what: string): number {
  assert.strictEqual(got.length, want.length, `${what}: length ${got.length} vs ${want.length}`);
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= maxDiff)) maxDiff = d; // NaN propagates
    maxRef = Math.max(maxRef, Math.abs(want[i]));
  }
  const rel = maxDiff / maxRef;
  assert.ok(rel <= rtol, `${what}: max relative difference ${rel.toExponential(3)} > ${rtol}`);
  return rel;
}

export function tmpDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `xt-clip-${tag}-`));
}

/** Remove a scratch folder; nothing to do when the suite was skipped before making one. */
export function rmDir(dir: string | undefined): void {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}

/** Await a promise that must reject with a coded error; returns the error. */
export async function rejectsWith(p: Promise<unknown> | (() => Promise<unknown>), code: string | string[], match?: RegExp): Promise<Error & { code: string }> {
  let err: (Error & { code: string }) | undefined;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e as Error & { code: string };
  }
  assert.ok(err, `expected a rejection with ${code}`);
  const codes = Array.isArray(code) ? code : [code];
  assert.ok(codes.includes(err.code), `expected ${codes.join('|')}, got ${err.code}: ${err.message}`);
  if (match) assert.match(err.message, match);
  return err;
}

/** B token rows of width `ctx` for session tests: start token, 5 + b ids varying with `k`, end token, padding. */
export function tokenRows(B: number, ctx: number, k: number): Int32Array {
  const t = new Int32Array(B * ctx);
  for (let b = 0; b < B; b++) {
    t[b * ctx] = 49406;
    for (let j = 1; j < 6 + b; j++) t[b * ctx + j] = 1 + ((b * 31 + j * 7 + k * 13) % 400);
    t[b * ctx + 6 + b] = 49407;
  }
  return t;
}
