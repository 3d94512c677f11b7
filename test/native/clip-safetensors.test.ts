/**
 * The validating safetensors reader: exact values against an independent TypeScript reader, and
 * corrupt, truncated and fuzzed copies (written to a temp folder) that must all give XT_IO naming
 * the file (and the tensor) — through readSafetensors and through loadModel — never a crash.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { native } from '../../lib/native';
import { loadModel } from '../../lib/model/clip';
import { requireShared } from '../helpers/shared';
import { asBigInt64, asFloat64, entry, joinSt, readSt, rejectsWith, rmDir, splitSt, tmpDir, writeSt } from '../helpers/clip';

describe('safetensors reader (native)', function () {
  this.timeout(300000);
  let work: string;
  let ioFile: string;
  let modelFile: string;

  before(function () {
    ioFile = requireShared(this, 'fixtures', 'clip-tiny', 'io.safetensors');
    modelFile = requireShared(this, 'fixtures', 'clip-tiny', 'openai', 'model.safetensors');
    work = tmpDir('st');
  });
  after(() => rmDir(work));

  it('reads every tensor and the metadata exactly', async () => {
    const r = await native().readSafetensors(ioFile);
    const ts = readSt(ioFile);
    assert.deepStrictEqual(r.metadata, ts.metadata);
    assert.deepStrictEqual(Object.keys(r.tensors).sort(), ts.entries.map((e) => e.name).sort());
    for (const e of ts.entries) {
      const t = r.tensors[e.name];
      assert.strictEqual(t.dtype, e.dtype);
      assert.deepStrictEqual(t.shape, e.shape);
      if (e.dtype === 'I64') assert.deepStrictEqual(Array.from(t.data as BigInt64Array), Array.from(asBigInt64(e)));
      else assert.deepStrictEqual(Array.from(t.data as Float64Array), Array.from(asFloat64(e)), e.name);
    }
    assert.ok(r.tensors.images.data instanceof Float32Array);
    assert.ok(r.tensors.image_embeds.data instanceof Float64Array);
    // F16 widened exactly
    const m = await native().readSafetensors(modelFile);
    const ref = readSt(modelFile);
    assert.deepStrictEqual(Array.from(m.tensors['visual.proj'].data as Float32Array), Array.from(asFloat64(entry(ref, 'visual.proj'))));
  });

  it('reads a misaligned tensor (odd offsets) by copying', async () => {
    const f = path.join(work, 'odd.safetensors');
    const a = Buffer.from([7]);
    const b = Buffer.alloc(8);
    b.writeFloatLE(1.5, 0);
    b.writeFloatLE(-2.25, 4);
    writeSt(f, [{ name: 'a', dtype: 'U8', shape: [1], bytes: a }, { name: 'b', dtype: 'F32', shape: [2], bytes: b }]);
    const r = await native().readSafetensors(f);
    assert.deepStrictEqual(Array.from(r.tensors.a.data as Uint8Array), [7]);
    assert.deepStrictEqual(Array.from(r.tensors.b.data as Float32Array), [1.5, -2.25]);
  });

  describe('corrupt files give XT_IO naming the file and tensor', () => {
    const cases: { name: string; make: (h: string, d: Buffer) => Buffer; match: RegExp }[] = [
      { name: 'empty', make: () => Buffer.alloc(0), match: /too small for a safetensors header/ },
      { name: 'short', make: () => Buffer.from([1, 2, 3]), match: /too small/ },
      { name: 'header-too-long', make: (h, d) => joinSt(h, d, 1e9), match: /header length 1000000000 exceeds the file size/ },
      { name: 'header-zero', make: (h, d) => joinSt(h, d, 0), match: /too small for a JSON header/ },
      { name: 'bad-json', make: (h, d) => joinSt(h.replace('{', '['), d), match: /not a JSON object|not valid JSON/ },
      { name: 'truncated-json', make: (h, d) => joinSt(h.slice(0, h.length - 20), d), match: /not valid JSON/ },
      { name: 'bad-dtype', make: (h, d) => joinSt(h.replace('"F32"', '"F8_E4M3"'), d), match: /tensor 'images': unsupported dtype 'F8_E4M3'/ },
      { name: 'shape-mismatch', make: (h, d) => joinSt(h.replace('[4,3,64,64]', '[4,3,64,65]'), d), match: /tensor 'images': shape \[4, 3, 64, 65\] x F32 .* does not match its byte length 196608/ },
      { name: 'negative-shape', make: (h, d) => joinSt(h.replace('[4,77]', '[-4,77]'), d), match: /tensor 'tokens': shape entries must be non-negative integers/ },
      { name: 'out-of-range', make: (h, d) => joinSt(h, d.subarray(0, d.length - 8)), match: /tensor 'tokens': data_offsets .* run past the end of the data/ },
      {
        name: 'overlap',
        make: (h, d) => {
          const j = JSON.parse(h);
          j.logits_per_image.data_offsets = [j.image_embeds.data_offsets[1] - 64, j.image_embeds.data_offsets[1] - 64 + 128];
          return joinSt(JSON.stringify(j), d);
        },
        match: /data_offsets overlap/,
      },
      {
        name: 'end-before-begin',
        make: (h, d) => {
          const j = JSON.parse(h);
          j.tokens.data_offsets = [j.tokens.data_offsets[1], j.tokens.data_offsets[0]];
          return joinSt(JSON.stringify(j), d);
        },
        match: /tensor 'tokens': data_offsets .* end before begin/,
      },
      { name: 'duplicate', make: (h, d) => joinSt(h.replace('"tokens"', '"images"'), d), match: /tensor 'images': appears twice/ },
      { name: 'metadata-not-string', make: (h, d) => joinSt(h.replace(/"tolerance":"[^"]*"/, '"tolerance":1'), d), match: /__metadata__ value 'tolerance' is not a string/ },
      { name: 'deep-json', make: (h, d) => joinSt('{"x":' + '['.repeat(5000) + ']'.repeat(5000) + '}', d), match: /not valid JSON: nesting deeper/ },
      { name: 'offsets-not-int', make: (h, d) => joinSt(h.replace(/"data_offsets":\[0,/, '"data_offsets":[0.5,'), d), match: /data_offsets must be non-negative integers/ },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const { header, data } = splitSt(ioFile);
        const f = path.join(work, `${c.name}.safetensors`);
        fs.writeFileSync(f, c.make(header, data));
        const e = await rejectsWith(native().readSafetensors(f), 'XT_IO', c.match);
        assert.ok(e.message.startsWith(f), `names the file: ${e.message}`);
      });
    }
  });

  it('truncated model files are refused by loadModel with XT_IO', async () => {
    const buf = fs.readFileSync(modelFile);
    const n = Number(buf.readBigUInt64LE(0));
    for (const len of [0, 4, 8, 9, 100, 8 + n - 1, 8 + n, 8 + n + 1000, buf.length - 1]) {
      const f = path.join(work, `trunc-${len}.safetensors`);
      fs.writeFileSync(f, buf.subarray(0, len));
      await rejectsWith(loadModel(f), 'XT_IO', new RegExp(`trunc-${len}`));
    }
  });

  it('fuzzed headers never crash: each load succeeds or fails with a coded error', async () => {
    const { header, data } = splitSt(modelFile);
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const chars = '{}[]":,0123456789-eE. abcFI';
    const outcomes: Record<string, number> = {};
    for (let k = 0; k < 60; k++) {
      const h = header.split('');
      const flips = 1 + rnd(3);
      for (let i = 0; i < flips; i++) h[rnd(h.length)] = chars[rnd(chars.length)];
      const f = path.join(work, `fuzz-${k}.safetensors`);
      fs.writeFileSync(f, joinSt(h.join(''), data));
      try {
        const m = await loadModel(f);
        m.dispose();
        outcomes.ok = (outcomes.ok ?? 0) + 1;
      } catch (e) {
        const code = (e as { code?: string }).code ?? 'none';
        assert.ok(['XT_IO', 'XT_SHAPE'].includes(code), `fuzz ${k}: ${code}: ${(e as Error).message}`);
        outcomes[code] = (outcomes[code] ?? 0) + 1;
      }
      fs.unlinkSync(f);
    }
    assert.ok((outcomes.XT_IO ?? 0) > 30, JSON.stringify(outcomes));
  });
});
