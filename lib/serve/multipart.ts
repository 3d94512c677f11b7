/**
 * A small multipart/form-data parser over an already size-limited body (RFC 7578): parts with their
 * Content-Disposition name / filename and Content-Type. Malformed bodies raise XT_INVALID.
 */
import { xtError } from '../errors';

export interface Part {
  name?: string;
  filename?: string;
  contentType?: string;
  data: Buffer;
}

/** The boundary parameter of a multipart Content-Type, or undefined. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (!contentType || !/^multipart\/form-data\b/i.test(contentType.trim())) return undefined;
  const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const b = m?.[1] ?? m?.[2];
  return b && b.length <= 200 ? b : undefined;
}

function headerParam(value: string, name: string): string | undefined {
  const re = new RegExp(`;\\s*${name}\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]+))`, 'i');
  const m = re.exec(value);
  if (!m) return undefined;
  return m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2];
}

export function parseMultipart(body: Buffer, contentType: string, maxParts = 32): Part[] {
  const boundary = multipartBoundary(contentType);
  if (!boundary) throw xtError('XT_INVALID', 'multipart body without a valid boundary in Content-Type');
  const delim = Buffer.from(`--${boundary}`);
  const parts: Part[] = [];
  let pos = body.indexOf(delim);
  if (pos < 0) throw xtError('XT_INVALID', 'multipart body: boundary not found');
  for (;;) {
    pos += delim.length;
    // "--" after a delimiter ends the body
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) break;
    // skip transport padding and the CRLF after the delimiter
    while (body[pos] === 0x20 || body[pos] === 0x09) pos++;
    if (body[pos] === 0x0d && body[pos + 1] === 0x0a) pos += 2;
    else throw xtError('XT_INVALID', 'multipart body: malformed delimiter line');
    const headEnd = body.indexOf('\r\n\r\n', pos);
    if (headEnd < 0) throw xtError('XT_INVALID', 'multipart body: part headers not terminated');
    const head = body.subarray(pos, headEnd).toString('latin1');
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delim]), headEnd + 4);
    if (next < 0) throw xtError('XT_INVALID', 'multipart body: missing closing boundary');
    const part: Part = { data: body.subarray(headEnd + 4, next) };
    for (const line of head.split('\r\n')) {
      const i = line.indexOf(':');
      if (i < 0) continue;
      const key = line.slice(0, i).trim().toLowerCase();
      const value = line.slice(i + 1).trim();
      if (key === 'content-disposition') {
        part.name = headerParam(value, 'name');
        const fn = headerParam(value, 'filename');
        if (fn !== undefined) part.filename = Buffer.from(fn, 'latin1').toString('utf8');
      } else if (key === 'content-type') part.contentType = value;
    }
    parts.push(part);
    if (parts.length > maxParts) throw xtError('XT_INVALID', `multipart body: more than ${maxParts} parts`);
    pos = next + 2;
  }
  return parts;
}
