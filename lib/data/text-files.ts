/** Reading dataset text files as they are downloaded: plain or gzipped (`.gz`), found by base name. */
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import type { Readable } from 'stream';
import { xtError } from '../errors';

/** `dir/name` or `dir/name.gz`, whichever exists (plain first); undefined when neither does. */
export function findDataFile(dir: string, name: string): string | undefined {
  for (const cand of [name, `${name}.gz`]) {
    const p = path.join(dir, cand);
    if (fs.existsSync(p) && fs.statSync(p).isFile()) return p;
  }
  return undefined;
}

/** Whether a file starts with the gzip magic bytes. */
function isGzip(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(2);
    const n = fs.readSync(fd, b, 0, 2, 0);
    return n === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    fs.closeSync(fd);
  }
}

/** A UTF-8 text stream of a file, gunzipped when it is gzip (by magic bytes, whatever its name). */
export function openTextStream(file: string): Readable {
  let gz: boolean;
  try {
    gz = isGzip(file);
  } catch (e) {
    throw xtError('XT_IO', `cannot open ${file}: ${(e as Error).message}`);
  }
  const raw = fs.createReadStream(file, { highWaterMark: 1 << 20 });
  if (!gz) {
    raw.setEncoding('utf8');
    return raw;
  }
  const gunzip = zlib.createGunzip();
  raw.on('error', (e) => gunzip.destroy(e));
  raw.pipe(gunzip);
  gunzip.setEncoding('utf8');
  return gunzip;
}

/** Whole text of a (possibly gzipped) file. */
export async function readText(file: string): Promise<string> {
  let buf: Buffer;
  try {
    buf = await fs.promises.readFile(file);
  } catch (e) {
    throw xtError('XT_IO', `cannot read ${file}: ${(e as Error).message}`);
  }
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = zlib.gunzipSync(buf);
    } catch (e) {
      throw xtError('XT_IO', `${file}: corrupt gzip data: ${(e as Error).message}`);
    }
  }
  let s = buf.toString('utf8');
  if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
  return s;
}

/** Lines of a (possibly gzipped) text file, streamed. */
export async function* readLines(file: string): AsyncGenerator<string> {
  const stream = openTextStream(file);
  let rest = '';
  let first = true;
  try {
    for await (const chunk of stream) {
      let s = rest + (chunk as string);
      if (first) {
        if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
        first = false;
      }
      let start = 0;
      for (;;) {
        const nl = s.indexOf('\n', start);
        if (nl < 0) break;
        let line = s.slice(start, nl);
        if (line.endsWith('\r')) line = line.slice(0, -1);
        yield line;
        start = nl + 1;
      }
      rest = s.slice(start);
    }
  } catch (e) {
    throw xtError('XT_IO', `cannot read ${file}: ${(e as Error).message}`);
  }
  if (rest.endsWith('\r')) rest = rest.slice(0, -1);
  if (rest.length) yield rest;
}
