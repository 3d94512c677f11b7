/**
 * An HTTP inference server on node's http module, around one loaded model.
 *
 *   GET  /healthz       → {"status": "ok", "labels": [...], "imageSize", "inFlight", "queued"}
 *   POST /v1/classify   body: an image (image/*, application/octet-stream), or multipart/form-data with a file part
 *                       (`image`) and an optional `labels` field, or JSON {"image": base64, "labels": "A,B" | [...]};
 *                       `?labels=A,B` also works → {"labels": {name: probability}}
 *   POST /v1/embed      an image as above → {"embedding": [...], "dim"}; JSON {"texts": [...]} (or multipart
 *                       `text` fields) → {"embeddings": [[...]], "dim"}
 *
 * Model calls (decode + encode) run at most `maxConcurrent` at a time; up to `maxQueue` more wait, beyond that
 * requests get 503. Bodies over `maxBodyBytes` get 413. Every error is a JSON body
 * `{"error": {"code", "message"}}` with a 4xx status for bad input (404 unknown route, 405 wrong method,
 * 400 bad JSON / bad image / bad labels, 413, 415) and 500 otherwise; no request can take the server down.
 */
import * as http from 'http';
import type { AddressInfo } from 'net';
import { isXtError } from '../errors';
import { resolveLabels, type LabelSpec } from '../eval/labelsets';
import { multipartBoundary, parseMultipart } from './multipart';
import { embedTexts, zeroShotClassifier, type InferenceModel, type ZeroShotSettings } from '../eval/inference';
import { l2NormalizeRows } from '../eval/l2';
import { decodeImage } from '../image/batch';
import type { ZeroShotClassifier } from '../eval/zeroshot';

export interface ServeOptions extends ZeroShotSettings {
  model: InferenceModel;
  /** Labels when a request names none (default: CheXpert's 5 competition tasks). */
  labels?: LabelSpec[];
  /** Largest accepted body (default 16 MiB). */
  maxBodyBytes?: number;
  /** Model calls at once (default 1). */
  maxConcurrent?: number;
  /** Requests waiting for the model beyond which 503 is returned (default 64). */
  maxQueue?: number;
  /** Labels per request (default 64), texts per embed request (default 64), characters per text (default 2000). */
  maxLabels?: number;
  maxTexts?: number;
  maxTextLength?: number;
  /** Whole-request timeout (default 60 s). */
  requestTimeoutMs?: number;
  /** One line per request (default: none). */
  log?: (line: string) => void;
}

export class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

/** A counting semaphore with a bounded wait queue. */
export class Limiter {
  active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(readonly max: number, readonly maxQueue: number) {}

  get queued(): number {
    return this.waiting.length;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) {
      if (this.waiting.length >= this.maxQueue) {
        throw new HttpError(503, 'busy', `server busy: ${this.active} running, ${this.waiting.length} queued; retry later`, { 'Retry-After': '1' });
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else this.active++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next(); // hand the slot over (active stays)
      else this.active--;
    }
  }
}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      reject(new HttpError(413, 'too_large', `body of ${declared} bytes is over the ${limit}-byte limit`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > limit) {
        done = true;
        chunks.length = 0;
        reject(new HttpError(413, 'too_large', `body is over the ${limit}-byte limit`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!done) {
        done = true;
        resolve(Buffer.concat(chunks));
      }
    });
    req.on('error', (e) => {
      if (!done) {
        done = true;
        reject(new HttpError(400, 'bad_request', `request body: ${e.message}`));
      }
    });
  });
}

interface ParsedInput {
  image?: Buffer;
  labels?: unknown;
  texts?: unknown;
}

function baseType(ct: string | undefined): string {
  return (ct ?? '').split(';')[0].trim().toLowerCase();
}

function parseInput(req: http.IncomingMessage, body: Buffer, query: URLSearchParams): ParsedInput {
  const ct = req.headers['content-type'];
  const type = baseType(ct);
  const out: ParsedInput = {};
  if (query.has('labels')) out.labels = query.get('labels');
  if (type === 'application/json') {
    let v: unknown;
    try {
      v = JSON.parse(body.toString('utf8'));
    } catch (e) {
      throw new HttpError(400, 'bad_json', `body is not valid JSON: ${(e as Error).message}`);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HttpError(400, 'bad_json', 'JSON body must be an object');
    const o = v as Record<string, unknown>;
    if (o.image !== undefined) {
      if (typeof o.image !== 'string' || !o.image) throw new HttpError(400, 'bad_request', '"image" must be a base64 string');
      const b64 = o.image.replace(/^data:[^,]*;base64,/, '');
      if (!/^[A-Za-z0-9+/=\s_-]+$/.test(b64)) throw new HttpError(400, 'bad_request', '"image" is not base64');
      out.image = Buffer.from(b64, 'base64');
    }
    if (o.labels !== undefined) out.labels = o.labels;
    if (o.texts !== undefined) out.texts = o.texts;
    return out;
  }
  if (type === 'multipart/form-data') {
    if (!multipartBoundary(ct)) throw new HttpError(400, 'bad_multipart', 'multipart body without a boundary');
    let parts;
    try {
      parts = parseMultipart(body, ct!);
    } catch (e) {
      throw new HttpError(400, 'bad_multipart', (e as Error).message);
    }
    const img = parts.find((p) => p.name === 'image') ?? parts.find((p) => p.name === 'file') ?? parts.find((p) => p.filename !== undefined);
    if (img) out.image = img.data;
    const lab = parts.find((p) => p.name === 'labels');
    if (lab) out.labels = lab.data.toString('utf8');
    const texts = parts.filter((p) => p.name === 'text' || p.name === 'texts');
    if (texts.length) out.texts = texts.map((p) => p.data.toString('utf8'));
    return out;
  }
  if (type === '' || type === 'application/octet-stream' || type.startsWith('image/') || type === 'application/dicom') {
    out.image = body;
    return out;
  }
  throw new HttpError(415, 'unsupported_media_type',
    `Content-Type "${type}": send an image (image/*, application/octet-stream), multipart/form-data or application/json`);
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.writableEnded) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export interface XrayServer {
  server: http.Server;
  /** Resolves once listening; the bound address (port 0 picks a free one). */
  listen(port: number, host?: string): Promise<AddressInfo>;
  close(): Promise<void>;
  limiter: Limiter;
}

export function createServer(o: ServeOptions): XrayServer {
  const model = o.model;
  const maxBody = o.maxBodyBytes ?? 16 * 1024 * 1024;
  const limiter = new Limiter(o.maxConcurrent ?? 1, o.maxQueue ?? 64);
  const maxLabels = o.maxLabels ?? 64;
  const maxTexts = o.maxTexts ?? 64;
  const maxTextLength = o.maxTextLength ?? 2000;
  const defaultLabels = o.labels ?? resolveLabels('chexpert5');
  const classifiers = new Map<string, Promise<ZeroShotClassifier>>();

  const labelsOf = (v: unknown): LabelSpec[] => {
    if (v === undefined || v === null || v === '') return defaultLabels;
    if (typeof v === 'string') {
      const s = v.trim();
      if (s.startsWith('[')) {
        try {
          v = JSON.parse(s);
        } catch {
          throw new HttpError(400, 'bad_labels', 'labels: not a valid JSON array');
        }
      }
    }
    if (!(typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string')))) {
      throw new HttpError(400, 'bad_labels', 'labels: expected "A,B", a label set id or an array of strings');
    }
    let specs: LabelSpec[];
    try {
      specs = resolveLabels(v as string | string[], { files: false, where: 'labels' });
    } catch (e) {
      throw new HttpError(400, 'bad_labels', (e as Error).message);
    }
    if (specs.length > maxLabels) throw new HttpError(400, 'bad_labels', `labels: ${specs.length} given, at most ${maxLabels}`);
    for (const l of specs) if (l.name.length > 200) throw new HttpError(400, 'bad_labels', 'labels: a label is over 200 characters');
    return specs;
  };

  const classifierFor = (specs: LabelSpec[]): Promise<ZeroShotClassifier> => {
    const key = JSON.stringify(specs.map((s) => s.name));
    let c = classifiers.get(key);
    if (!c) {
      c = zeroShotClassifier(model, specs, { scoring: o.scoring, templates: o.templates, prompts: o.prompts, temperature: o.temperature });
      c.catch(() => classifiers.delete(key));
      classifiers.set(key, c);
      while (classifiers.size > 64) classifiers.delete(classifiers.keys().next().value as string);
    }
    return c;
  };

  const decode = async (image: Buffer | undefined): Promise<Uint8Array> => {
    if (!image || image.length === 0) throw new HttpError(400, 'no_image', 'no image in the request');
    try {
      return (await decodeImage(image, model.imageSize, { mode: o.resize }, 'image')).data;
    } catch (e) {
      throw new HttpError(400, 'bad_image', isXtError(e) ? e.message : `cannot decode image: ${(e as Error).message}`);
    }
  };

  const S = model.imageSize;
  const routes: Record<string, { method: string; handler: (req: http.IncomingMessage, body: Buffer, q: URLSearchParams) => Promise<unknown> }> = {
    '/v1/classify': {
      method: 'POST',
      handler: async (req, body, q) => {
        const input = parseInput(req, body, q);
        const specs = labelsOf(input.labels);
        return limiter.run(async () => {
          const px = await decode(input.image);
          const clf = await classifierFor(specs);
          const s = await clf.classifyPixels(px, [1, S, S]);
          return { labels: clf.toObjects(s)[0] };
        });
      },
    },
    '/v1/embed': {
      method: 'POST',
      handler: async (req, body, q) => {
        const input = parseInput(req, body, q);
        if (input.texts !== undefined) {
          const t = input.texts;
          if (!Array.isArray(t) || t.length === 0 || !t.every((x) => typeof x === 'string')) {
            throw new HttpError(400, 'bad_texts', '"texts" must be a non-empty array of strings');
          }
          if (t.length > maxTexts) throw new HttpError(400, 'bad_texts', `texts: ${t.length} given, at most ${maxTexts}`);
          if (t.some((x: string) => x.length > maxTextLength)) throw new HttpError(400, 'bad_texts', `texts: a text is over ${maxTextLength} characters`);
          return limiter.run(async () => {
            const e = await embedTexts(model, t as string[]);
            const d = e.shape[1];
            const rows: number[][] = [];
            for (let i = 0; i < e.shape[0]; i++) rows.push(Array.from(e.data.subarray(i * d, (i + 1) * d)));
            return { embeddings: rows, dim: d };
          });
        }
        return limiter.run(async () => {
          const px = await decode(input.image);
          const e = await model.encodeImages(px, [1, S, S]);
          return { embedding: Array.from(l2NormalizeRows(e.data.subarray(0, e.shape[1]))), dim: e.shape[1] };
        });
      },
    },
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const t0 = Date.now();
    let status = 200;
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname === '/healthz') {
        if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'method_not_allowed', `${req.method} ${url.pathname}: use GET`, { Allow: 'GET, HEAD' });
        sendJson(res, 200, { status: 'ok', labels: defaultLabels.map((l) => l.name), imageSize: S, inFlight: limiter.active, queued: limiter.queued });
        return;
      }
      const route = routes[url.pathname];
      if (!route) throw new HttpError(404, 'not_found', `no route ${req.method} ${url.pathname} (routes: GET /healthz, POST /v1/classify, POST /v1/embed)`);
      if (req.method !== route.method) {
        throw new HttpError(405, 'method_not_allowed', `${req.method} ${url.pathname}: use ${route.method}`, { Allow: route.method });
      }
      const body = await readBody(req, maxBody);
      sendJson(res, 200, await route.handler(req, body, url.searchParams));
    } catch (e) {
      const err = e instanceof HttpError ? e
        : isXtError(e) && (e.code === 'XT_INVALID' || e.code === 'XT_SHAPE') ? new HttpError(400, 'bad_request', e.message)
          : new HttpError(500, 'internal', (e as Error)?.message ?? String(e));
      status = err.status;
      if (status === 413) {
        // stop reading the rest of an oversized upload
        sendJson(res, status, { error: { code: err.code, message: err.message } }, { Connection: 'close', ...err.headers });
        res.on('finish', () => req.destroy());
      } else {
        sendJson(res, status, { error: { code: err.code, message: err.message } }, err.headers);
      }
    } finally {
      o.log?.(`${req.method} ${req.url} ${status} ${Date.now() - t0}ms`);
    }
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
      // handle() catches everything; this is the last guard
      sendJson(res, 500, { error: { code: 'internal', message: String((e as Error)?.message ?? e) } });
    });
  });
  server.requestTimeout = o.requestTimeoutMs ?? 60000;
  server.headersTimeout = Math.min(server.requestTimeout, 30000);
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (socket.writable && err.code !== 'ECONNRESET') {
      const body = JSON.stringify({ error: { code: 'bad_request', message: `malformed HTTP request: ${err.message}` } });
      socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    } else socket.destroy();
  });

  return {
    server,
    limiter,
    listen: (port, host = '127.0.0.1') => new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve(server.address() as AddressInfo);
      });
    }),
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections?.();
    }),
  };
}
