/**
 * NumPy `.npy` (format 1.0) for float32 arrays: what `numpy.save` writes for a C-ordered little-endian float32
 * array, byte for byte (header dict, space padding and newline to a multiple of 64 bytes), and a reader for it.
 */
import * as fs from 'fs';
import { xtError } from '../errors';

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

function shapeTuple(shape: number[]): string {
  if (shape.length === 0) return '()';
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(', ')})`;
}

/** Encode a float32 array of `shape` as .npy bytes. */
export function encodeNpy(data: Float32Array, shape: number[]): Buffer {
  const count = shape.reduce((a, b) => a * b, 1);
  if (shape.some((d) => !Number.isInteger(d) || d < 0) || count !== data.length) {
    throw xtError('XT_SHAPE', `npy: shape [${shape.join(', ')}] does not hold ${data.length} values`);
  }
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeTuple(shape)}, }`;
  // numpy leaves room to grow the first axis in place (21 digits), then pads with 1–64 spaces + '\n' so the
  // data starts on a 64-byte boundary.
  if (shape.length > 0) header += ' '.repeat(Math.max(0, 21 - String(shape[0]).length));
  const unpadded = MAGIC.length + 2 + 2 + header.length + 1;
  header += ' '.repeat(64 - (unpadded % 64)) + '\n';
  if (header.length > 0xffff) throw xtError('XT_SHAPE', 'npy: header too long for format 1.0');
  const pre = Buffer.alloc(MAGIC.length + 4);
  MAGIC.copy(pre, 0);
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  const body = Buffer.alloc(data.length * 4);
  for (let i = 0; i < data.length; i++) body.writeFloatLE(data[i], i * 4);
  return Buffer.concat([pre, Buffer.from(header, 'latin1'), body]);
}

export function writeNpy(file: string, data: Float32Array, shape: number[]): void {
  try {
    fs.writeFileSync(file, encodeNpy(data, shape));
  } catch (e) {
    if ((e as { code?: string }).code === 'XT_SHAPE') throw e;
    throw xtError('XT_IO', `cannot write ${file}: ${(e as Error).message}`);
  }
}

/** Decode a little-endian float32, C-ordered .npy (format 1.x / 2.x). */
export function decodeNpy(buf: Buffer): { data: Float32Array; shape: number[] } {
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) throw xtError('XT_INVALID', 'npy: bad magic');
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.subarray(start, start + hlen).toString('latin1');
  if (!/'descr':\s*'<f4'/.test(header)) throw xtError('XT_INVALID', `npy: only little-endian float32 is supported (${header.trim()})`);
  if (/'fortran_order':\s*True/.test(header)) throw xtError('XT_INVALID', 'npy: Fortran order is not supported');
  const m = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!m) throw xtError('XT_INVALID', 'npy: no shape in header');
  const shape = m[1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const off = start + hlen;
  if (buf.length - off !== count * 4) throw xtError('XT_INVALID', `npy: ${buf.length - off} data bytes, shape needs ${count * 4}`);
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = buf.readFloatLE(off + i * 4);
  return { data, shape };
}
