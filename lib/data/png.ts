/**
 * A minimal PNG encoder for 8-bit grey images (colour type 0): Paeth-filtered rows and zlib deflate. Used by `synth`, where
 * images are small and sharp's per-call overhead would dominate.
 */
import * as zlib from 'zlib';
import { promisify } from 'util';

const deflate = promisify(zlib.deflate);

let CRC_TABLE: Uint32Array | undefined;
function crcTable(): Uint32Array {
  if (CRC_TABLE) return CRC_TABLE;
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return (CRC_TABLE = t);
}

/** CRC-32 (PNG / zlib polynomial). */
export function crc32(buf: Uint8Array, start = 0, end = buf.length, seed = 0): number {
  const t = crcTable();
  let c = (seed ^ 0xffffffff) >>> 0;
  for (let i = start; i < end; i++) c = t[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out, 4, 8 + data.length), 8 + data.length);
  return out;
}

/**
 * Filtered scanlines (filter byte + row) for 8-bit grey: Paeth on every row but the first (Sub),
 * the usual best single choice for continuous-tone images.
 */
export function filterRows(px: Uint8Array, w: number, h: number): Buffer {
  const out = Buffer.alloc((w + 1) * h);
  for (let y = 0; y < h; y++) {
    const o = y * (w + 1);
    const r = y * w;
    if (y === 0) {
      out[o] = 1; // Sub
      for (let x = 0; x < w; x++) out[o + 1 + x] = (px[x] - (x > 0 ? px[x - 1] : 0)) & 0xff;
      continue;
    }
    out[o] = 4; // Paeth
    const u = r - w;
    for (let x = 0; x < w; x++) {
      const a = x > 0 ? px[r + x - 1] : 0;
      const b = px[u + x];
      const c = x > 0 ? px[u + x - 1] : 0;
      const p = a + b - c;
      const pa = p > a ? p - a : a - p;
      const pb = p > b ? p - b : b - p;
      const pc = p > c ? p - c : c - p;
      const pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      out[o + 1 + x] = (px[r + x] - pred) & 0xff;
    }
  }
  return out;
}

function assemble(w: number, h: number, idat: Uint8Array): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // colour type: grey
  ihdr[10] = 0; // deflate
  ihdr[11] = 0; // adaptive filtering
  ihdr[12] = 0; // no interlace
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([sig, chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', new Uint8Array(0))]);
}

/** Encode 8-bit grey pixels (row-major, w × h) as a PNG; deflate runs on libuv's pool. */
export async function encodeGreyPng(px: Uint8Array, w: number, h: number, level = 6): Promise<Buffer> {
  return assemble(w, h, await deflate(filterRows(px, w, h), { level }));
}

/** Synchronous variant. */
export function encodeGreyPngSync(px: Uint8Array, w: number, h: number, level = 6): Buffer {
  return assemble(w, h, zlib.deflateSync(filterRows(px, w, h), { level }));
}
