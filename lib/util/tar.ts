/**
 * A small reader for (gzipped) tar archives: ustar, GNU long names ('L') and pax headers ('x', 'g'
 * path=). Regular files only; directories, links and devices are skipped. Everything is read into
 * memory, which suits the archives this project reads (report collections of a few MB).
 */
import * as fs from 'fs';
import * as zlib from 'zlib';
import { xtError } from '../errors';

export interface TarEntry {
  /** Path inside the archive, as stored ('/'-separated). */
  name: string;
  data: Buffer;
}

function field(buf: Buffer, off: number, len: number): string {
  let end = off;
  while (end < off + len && buf[end] !== 0) end++;
  return buf.toString('utf8', off, end);
}

function octal(buf: Buffer, off: number, len: number, where: string): number {
  // GNU base-256 encoding for large values: high bit of the first byte set.
  if (buf[off] & 0x80) {
    let v = buf[off] & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + buf[off + i];
    return v;
  }
  const s = field(buf, off, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw xtError('XT_INVALID', `${where}: bad octal field ${JSON.stringify(s)}`);
  return parseInt(s, 8);
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    const sp = data.indexOf(0x20, pos);
    if (sp < 0) break;
    const len = parseInt(data.toString('ascii', pos, sp), 10);
    if (!(len > 0)) break;
    const rec = data.toString('utf8', sp + 1, pos + len - 1); // drop the trailing '\n'
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    pos += len;
  }
  return out;
}

/** Entries of a tar archive held in memory (gzip-compressed or not). */
export function readTar(archive: Buffer, where = 'tar'): TarEntry[] {
  let buf = archive;
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = zlib.gunzipSync(buf);
    } catch (e) {
      throw xtError('XT_IO', `${where}: not valid gzip: ${(e as Error).message}`);
    }
  }
  const entries: TarEntry[] = [];
  let pos = 0;
  let longName: string | undefined;
  let pax: Record<string, string> = {};
  let globalPax: Record<string, string> = {};
  while (pos + 512 <= buf.length) {
    const header = buf.subarray(pos, pos + 512);
    if (header.every((b) => b === 0)) break; // end-of-archive marker
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i];
    const stored = octal(header, 148, 8, where);
    if (sum !== stored) throw xtError('XT_INVALID', `${where}: corrupt tar header at byte ${pos} (checksum ${stored}, computed ${sum})`);
    const size = octal(header, 124, 12, where);
    const type = String.fromCharCode(header[156] || 0x30);
    const dataStart = pos + 512;
    if (dataStart + size > buf.length) throw xtError('XT_INVALID', `${where}: truncated tar entry at byte ${pos}`);
    const data = buf.subarray(dataStart, dataStart + size);
    pos = dataStart + Math.ceil(size / 512) * 512;

    if (type === 'L') {
      longName = field(data, 0, data.length);
      continue;
    }
    if (type === 'x') {
      pax = parsePax(data);
      continue;
    }
    if (type === 'g') {
      globalPax = { ...globalPax, ...parsePax(data) };
      continue;
    }
    let name = field(header, 0, 100);
    if (header.toString('ascii', 257, 262) === 'ustar') {
      const prefix = field(header, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    name = pax.path ?? longName ?? globalPax.path ?? name;
    longName = undefined;
    pax = {};
    if (type === '0' || type === '7') entries.push({ name, data: Buffer.from(data) });
  }
  if (pos < buf.length && pos + 512 > buf.length && buf.subarray(pos).some((b) => b !== 0)) {
    throw xtError('XT_INVALID', `${where}: truncated tar header at byte ${pos}`);
  }
  return entries;
}

/** Entries of a tar / tar.gz file on disk. */
export function readTarFile(file: string): TarEntry[] {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw xtError('XT_IO', `cannot read ${file}: ${(e as Error).message}`);
  }
  return readTar(buf, file);
}
