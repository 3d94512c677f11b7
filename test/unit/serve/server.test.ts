import { strict as assert } from 'assert';
import * as http from 'http';
import sharp from 'sharp';
import { createServer, Limiter, type XrayServer } from '../../../lib/serve/server';
import { classify, type InferenceModel } from '../../../lib/eval/inference';
import { parseMultipart } from '../../../lib/serve/multipart';
import type { Pixels } from '../../../lib/eval/zeroshot';
import { normalizeLut } from '../../../lib/data/images';
import { setImageBackend } from '../../../lib/image/decode';

const LUT0 = normalizeLut()[0]; // grey level → CLIP-normalised channel 0, as the addon computes it

/**
 * A fake model (D = 4) on real decoded images: the image embedding is built from the mean of each channel half,
 * text embeddings from character codes. It records how many encodeImages calls overlap.
 */
class FakeModel implements InferenceModel {
  imageSize = 32;
  logitScale = 20;
  active = 0;
  maxActive = 0;
  calls = 0;
  constructor(private readonly delayMs = 0) {}
  async encodeImages(px: Pixels, shape: number[]) {
    assert.ok(px instanceof Uint8Array && shape.length === 3, 'the server hands the model 8-bit grey [n, S, S]');
    this.active++;
    this.calls++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
      const [n] = shape;
      const per = px.length / n;
      const data = new Float32Array(n * 4);
      for (let i = 0; i < n; i++) {
        let a = 0;
        let b = 0;
        for (let k = 0; k < per / 2; k++) a += LUT0[px[i * per + k]];
        for (let k = per / 2; k < per; k++) b += LUT0[px[i * per + k]];
        data.set([a / per, b / per, 1, 0.5], i * 4);
      }
      return { data, shape: [n, 4] };
    } finally {
      this.active--;
    }
  }
  async encodeTexts(texts: string[]) {
    const data = new Float32Array(texts.length * 4);
    texts.forEach((t, i) => {
      for (let k = 0; k < t.length; k++) data[i * 4 + (k % 4)] += (t.charCodeAt(k) % 17) - 8;
      data[i * 4 + 3] += 1;
    });
    return { data, shape: [texts.length, 4] };
  }
}

interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

function request(port: number, method: string, path: string, body?: Buffer | string,
  headers: Record<string, string> = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = text;
        }
        resolve({ status: res.statusCode!, headers: res.headers, json });
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function multipart(fields: { name: string; filename?: string; type?: string; data: Buffer | string }[]): { body: Buffer; type: string } {
  const boundary = '----xt' + Math.random().toString(16).slice(2);
  const parts: Buffer[] = [];
  for (const f of fields) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${f.name}"` +
      (f.filename ? `; filename="${f.filename}"` : '') + '\r\n' + (f.type ? `Content-Type: ${f.type}\r\n` : '') + '\r\n'));
    parts.push(Buffer.isBuffer(f.data) ? f.data : Buffer.from(f.data));
    parts.push(Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(parts), type: `multipart/form-data; boundary=${boundary}` };
}

async function png(level: number, w = 48, h = 40): Promise<Buffer> {
  const raw = Buffer.alloc(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw[y * w + x] = Math.min(255, level + (y < h / 2 ? 0 : 60));
  return sharp(raw, { raw: { width: w, height: h, channels: 1 } }).png().toBuffer();
}

describe('eval/serve', function () {
  this.timeout(30000);
  let srv: XrayServer;
  let port: number;
  let model: FakeModel;
  let img: Buffer;

  before(async () => {
    setImageBackend('sharp'); // unit tests load no addon
    model = new FakeModel();
    srv = createServer({ model, maxBodyBytes: 64 * 1024, maxConcurrent: 2, maxQueue: 64 });
    port = (await srv.listen(0)).port; // a random free port on loopback
    img = await png(60);
  });
  after(async () => {
    setImageBackend('auto');
    await srv.close();
  });

  it('GET /healthz', async () => {
    const r = await request(port, 'GET', '/healthz');
    assert.equal(r.status, 200);
    assert.equal(r.json.status, 'ok');
    assert.deepEqual(r.json.labels, ['Atelectasis', 'Cardiomegaly', 'Consolidation', 'Edema', 'Pleural Effusion']);
    assert.equal(r.json.imageSize, 32);
  });

  it('POST /v1/classify with a raw image: probabilities for the default labels, equal to the library', async () => {
    const r = await request(port, 'POST', '/v1/classify', img, { 'Content-Type': 'image/png' });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(Object.keys(r.json), ['labels']);
    const want = (await classify(model, img, 'chexpert5'))[0];
    for (const [k, v] of Object.entries(want)) assert.ok(Math.abs(r.json.labels[k] - v) < 1e-6, k);
    for (const v of Object.values(r.json.labels) as number[]) assert.ok(v > 0 && v < 1);
  });

  it('labels from the query, from multipart fields and from JSON (base64 image)', async () => {
    const q = await request(port, 'POST', '/v1/classify?labels=Edema,Fracture', img, { 'Content-Type': 'application/octet-stream' });
    assert.deepEqual(Object.keys(q.json.labels), ['Edema', 'Fracture']);
    const m = multipart([{ name: 'image', filename: 'x.png', type: 'image/png', data: img }, { name: 'labels', data: '["Mass","Nodule","Edema"]' }]);
    const r = await request(port, 'POST', '/v1/classify', m.body, { 'Content-Type': m.type });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(Object.keys(r.json.labels), ['Mass', 'Nodule', 'Edema']);
    assert.ok(Math.abs(r.json.labels.Edema - q.json.labels.Edema) < 1e-6);
    const j = await request(port, 'POST', '/v1/classify', JSON.stringify({ image: img.toString('base64'), labels: ['Edema'] }),
      { 'Content-Type': 'application/json' });
    assert.equal(j.status, 200);
    assert.ok(Math.abs(j.json.labels.Edema - q.json.labels.Edema) < 1e-6);
  });

  it('POST /v1/embed: a unit-norm image embedding, and text embeddings', async () => {
    const r = await request(port, 'POST', '/v1/embed', img, { 'Content-Type': 'image/png' });
    assert.equal(r.status, 200);
    assert.equal(r.json.dim, 4);
    assert.ok(Math.abs(Math.hypot(...r.json.embedding) - 1) < 1e-6);
    const t = await request(port, 'POST', '/v1/embed', JSON.stringify({ texts: ['edema', 'no edema'] }), { 'Content-Type': 'application/json' });
    assert.equal(t.status, 200);
    assert.equal(t.json.embeddings.length, 2);
    assert.ok(Math.abs(Math.hypot(...t.json.embeddings[1]) - 1) < 1e-6);
  });

  it('bad requests get 4xx JSON errors and the server keeps serving', async () => {
    const cases: [string, Promise<Res>, number, string][] = [
      ['unknown route', request(port, 'GET', '/v2/nothing'), 404, 'not_found'],
      ['wrong method', request(port, 'GET', '/v1/classify'), 405, 'method_not_allowed'],
      ['non-image bytes', request(port, 'POST', '/v1/classify', Buffer.from('definitely not an image'), { 'Content-Type': 'image/png' }), 400, 'bad_image'],
      ['truncated PNG', request(port, 'POST', '/v1/classify', img.subarray(0, 60), { 'Content-Type': 'image/png' }), 400, 'bad_image'],
      ['empty body', request(port, 'POST', '/v1/classify', Buffer.alloc(0), { 'Content-Type': 'image/png' }), 400, 'no_image'],
      ['bad JSON', request(port, 'POST', '/v1/classify', '{"image": "abc', { 'Content-Type': 'application/json' }), 400, 'bad_json'],
      ['JSON array', request(port, 'POST', '/v1/classify', '[1,2]', { 'Content-Type': 'application/json' }), 400, 'bad_json'],
      ['labels not strings', request(port, 'POST', '/v1/classify', JSON.stringify({ image: img.toString('base64'), labels: [1] }), { 'Content-Type': 'application/json' }), 400, 'bad_labels'],
      ['too many labels', request(port, 'POST', `/v1/classify?labels=${Array.from({ length: 70 }, (_, i) => `L${i}`).join(',')}`, img, { 'Content-Type': 'image/png' }), 400, 'bad_labels'],
      ['label file path is not read', request(port, 'POST', '/v1/classify?labels=/etc/hostname', img, { 'Content-Type': 'image/png' }), 200, ''],
      ['text/plain', request(port, 'POST', '/v1/classify', 'hello', { 'Content-Type': 'text/plain' }), 415, 'unsupported_media_type'],
      ['multipart without boundary', request(port, 'POST', '/v1/classify', 'x', { 'Content-Type': 'multipart/form-data' }), 400, 'bad_multipart'],
      ['texts not strings', request(port, 'POST', '/v1/embed', JSON.stringify({ texts: [3] }), { 'Content-Type': 'application/json' }), 400, 'bad_texts'],
      ['oversized (declared)', request(port, 'POST', '/v1/classify', Buffer.alloc(200 * 1024, 1), { 'Content-Type': 'image/png' }), 413, 'too_large'],
    ];
    for (const [what, p, status, code] of cases) {
      const r = await p;
      assert.equal(r.status, status, `${what}: ${JSON.stringify(r.json)}`);
      assert.match(String(r.headers['content-type']), /application\/json/, what);
      if (code) assert.equal(r.json.error.code, code, what);
      if (code) assert.equal(typeof r.json.error.message, 'string', what);
    }
    const h = await request(port, 'GET', '/healthz');
    assert.equal(h.status, 200);
    const ok = await request(port, 'POST', '/v1/classify', img, { 'Content-Type': 'image/png' });
    assert.equal(ok.status, 200);
  });

  it('an oversized chunked upload (no Content-Length) gets 413', async () => {
    const r = await new Promise<Res>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/classify', agent: false,
        headers: { 'Content-Type': 'image/png', 'Transfer-Encoding': 'chunked' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, json: JSON.parse(Buffer.concat(chunks).toString()) }));
      });
      req.on('error', () => { /* the server may close while we still write */ });
      let sent = 0;
      const push = () => {
        while (sent < 256 * 1024) {
          sent += 16 * 1024;
          if (!req.write(Buffer.alloc(16 * 1024, 7))) return void req.once('drain', push);
        }
        req.end();
      };
      push();
      setTimeout(() => reject(new Error('no response')), 10000).unref();
    });
    assert.equal(r.status, 413);
    assert.equal(r.json.error.code, 'too_large');
  });

  it('concurrent requests: all answered, model calls bounded by maxConcurrent', async () => {
    const slow = new FakeModel(15);
    const s = createServer({ model: slow, maxConcurrent: 2, maxQueue: 64 });
    const p = (await s.listen(0)).port;
    try {
      const imgs = await Promise.all([40, 90, 140].map((l) => png(l)));
      const rs = await Promise.all(Array.from({ length: 24 }, (_, i) =>
        request(p, 'POST', '/v1/classify?labels=Edema', imgs[i % 3], { 'Content-Type': 'image/png' })));
      assert.ok(rs.every((r) => r.status === 200));
      assert.equal(slow.calls, 24);
      assert.equal(slow.maxActive, 2);
      // same image → same answer, different images → different answers
      assert.equal(rs[0].json.labels.Edema, rs[3].json.labels.Edema);
      assert.notEqual(rs[0].json.labels.Edema, rs[1].json.labels.Edema);
    } finally {
      await s.close();
    }
  });

  it('a full queue answers 503 with Retry-After; the rest complete', async () => {
    const slow = new FakeModel(60);
    const s = createServer({ model: slow, maxConcurrent: 1, maxQueue: 2 });
    const p = (await s.listen(0)).port;
    try {
      const rs = await Promise.all(Array.from({ length: 8 }, () =>
        request(p, 'POST', '/v1/classify', img, { 'Content-Type': 'image/png' })));
      const ok = rs.filter((r) => r.status === 200).length;
      const busy = rs.filter((r) => r.status === 503);
      assert.equal(ok + busy.length, 8);
      assert.ok(ok >= 3 && busy.length >= 1, `ok ${ok}, busy ${busy.length}`);
      assert.equal(busy[0].json.error.code, 'busy');
      assert.equal(busy[0].headers['retry-after'], '1');
      assert.equal(slow.maxActive, 1);
      assert.equal((await request(p, 'GET', '/healthz')).json.inFlight, 0);
    } finally {
      await s.close();
    }
  });
});

describe('eval/serve helpers', () => {
  it('Limiter hands slots over in order and never exceeds max', async () => {
    const l = new Limiter(2, 10);
    let active = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(Array.from({ length: 6 }, (_, i) => l.run(async () => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 5));
      order.push(i);
      active--;
    })));
    assert.equal(peak, 2);
    assert.equal(l.active, 0);
    assert.deepEqual(order.slice().sort(), [0, 1, 2, 3, 4, 5]);
  });

  it('parseMultipart reads names, filenames, types and binary data', () => {
    const data = Buffer.from([0, 13, 10, 45, 45, 255]);
    const m = multipart([{ name: 'image', filename: 'a b.png', type: 'image/png', data }, { name: 'labels', data: 'Edema' }]);
    const parts = parseMultipart(m.body, m.type);
    assert.equal(parts.length, 2);
    assert.deepEqual([parts[0].name, parts[0].filename, parts[0].contentType], ['image', 'a b.png', 'image/png']);
    assert.ok(parts[0].data.equals(data));
    assert.equal(parts[1].data.toString(), 'Edema');
    assert.throws(() => parseMultipart(Buffer.from('garbage'), m.type), /boundary not found/);
    assert.throws(() => parseMultipart(m.body.subarray(0, 40), m.type), (e: Error & { code?: string }) => e.code === 'XT_INVALID');
  });
});
