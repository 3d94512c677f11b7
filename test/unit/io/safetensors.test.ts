/** lib/io/safetensors.ts: round trips, the shared fixture, and every kind of corrupt header. */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  parseSafetensors,
  readSafetensors,
  serializeSafetensors,
  writeSafetensors,
  halfToNumber,
  bf16ToNumber,
  numberToHalf,
  numberToBf16,
} from '../../../lib/io/safetensors';
import { isXtError } from '../../../lib/native';
import { requireShared } from '../../helpers/shared';

/** A file from a raw header object and data buffer (no validation on the way in). */
function rawFile(header: unknown, data: Uint8Array = new Uint8Array(0), headerText?: string): Buffer {
  const json = Buffer.from(headerText ?? JSON.stringify(header), 'utf8');
  const out = Buffer.alloc(8 + json.length + data.length);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  out.set(data, 8 + json.length);
  return out;
}

function expectIo(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isXtError(e), String(e));
    assert.equal(e.code, 'XT_IO');
    assert.match(e.message, /^bad\.safetensors: /);
    assert.match(e.message, pattern);
    return true;
  });
}

describe('safetensors', () => {
  it('round-trips every numeric dtype with metadata, 8-byte aligned', () => {
    const half = Uint16Array.from([1, -2, 0.5, 65504].map(numberToHalf));
    const bf = Uint16Array.from([1, -2, 3.140625].map(numberToBf16));
    const bytes = serializeSafetensors(
      {
        a: { shape: [2, 3], data: Float64Array.from([1, 2, 3, 4, 5, -6.5]) },
        b: { shape: [3], data: Float32Array.from([0.25, -1, 1e-3]) },
        c: { shape: [2], data: BigInt64Array.from([-5n, 9007199254740993n]) },
        d: { shape: [4], data: Int32Array.from([1, -2, 3, -4]) },
        e: { shape: [1, 4], dtype: 'F16', data: half },
        f: { shape: [3], dtype: 'BF16', data: bf },
        g: { shape: [0, 5], data: new Float32Array(0) },
        h: { shape: [3], dtype: 'BOOL', data: Uint8Array.from([1, 0, 1]) },
      },
      { format: 'pt', note: 'x' },
    );
    const headerLen = Number(bytes.readBigUInt64LE(0));
    assert.equal(headerLen % 8, 0);
    const f = parseSafetensors(bytes, 'mem');
    assert.deepEqual(f.metadata, { format: 'pt', note: 'x' });
    assert.deepEqual(f.names, ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']);
    assert.deepEqual(Array.from(f.get('a').data as Float64Array), [1, 2, 3, 4, 5, -6.5]);
    assert.deepEqual(f.get('a').shape, [2, 3]);
    assert.deepEqual(Array.from(f.get('b').data as Float32Array), Array.from(Float32Array.from([0.25, -1, 1e-3])));
    assert.deepEqual(Array.from(f.get('c').data as BigInt64Array), [-5n, 9007199254740993n]);
    assert.deepEqual(Array.from(f.getFloat64('e').data), [1, -2, 0.5, 65504]);
    assert.deepEqual(Array.from(f.getFloat64('f').data), [1, -2, 3.140625]);
    assert.deepEqual(Array.from(f.getFloat32('d').data), [1, -2, 3, -4]);
    assert.equal(f.get('g').data.length, 0);
    assert.deepEqual(Array.from(f.get('h').data as Uint8Array), [1, 0, 1]);
    assert.throws(() => f.getFloat64('c'), /not exactly representable/);
  });

  it('converts half and bfloat16 exactly at known points', () => {
    assert.equal(halfToNumber(0x3c00), 1);
    assert.equal(halfToNumber(0xc000), -2);
    assert.equal(halfToNumber(0x7bff), 65504);
    assert.equal(halfToNumber(0x0001), 2 ** -24);
    assert.equal(halfToNumber(0x7c00), Infinity);
    assert.ok(Number.isNaN(halfToNumber(0x7e00)));
    assert.equal(numberToHalf(1 + 2 ** -11), 0x3c00); // tie rounds to even
    assert.equal(numberToHalf(1 + 3 * 2 ** -11), 0x3c02);
    assert.equal(numberToHalf(70000), 0x7c00);
    assert.equal(numberToHalf(2 ** -24), 0x0001);
    assert.equal(bf16ToNumber(0x3f80), 1);
    assert.equal(bf16ToNumber(0xc049), -3.140625);
    assert.equal(numberToBf16(1 + 2 ** -8), 0x3f80); // tie to even
    assert.equal(numberToBf16(1 + 3 * 2 ** -8), 0x3f82);
  });

  it('writes and reads a file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xt-st-'));
    try {
      const file = path.join(dir, 'w.safetensors');
      await writeSafetensors(file, [['x', { shape: [2], data: Float64Array.from([3, 4]) }]], { k: 'v' });
      const f = await readSafetensors(file);
      assert.equal(f.source, file);
      assert.deepEqual(Array.from(f.getFloat64('x').data), [3, 4]);
      await assert.rejects(readSafetensors(path.join(dir, 'missing.safetensors')), (e: unknown) => {
        assert.ok(isXtError(e) && e.code === 'XT_IO' && /missing\.safetensors: cannot read \(ENOENT\)/.test(e.message));
        return true;
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads the shared loss fixture (float64 cases with JSON metadata)', async function () {
    const file = requireShared(this, 'fixtures', 'loss', 'relaxed_loss_cases.safetensors');
    const f = await readSafetensors(file);
    const cases = JSON.parse(f.metadata.cases) as { case: number; positive_clip: number }[];
    assert.deepEqual(cases.map((c) => c.case), [0, 1, 2, 3]);
    assert.deepEqual(f.get('0.image').shape, [8, 16]);
    assert.equal(f.get('0.image').dtype, 'F64');
    assert.deepEqual(f.get('3.text').shape, [5, 7]);
    assert.equal(f.names.length, 28);
  });

  it('rejects corrupt files with XT_IO naming the file and the tensor', () => {
    const t = (over: Record<string, unknown> = {}) => ({ dtype: 'F32', shape: [2], data_offsets: [0, 8], ...over });
    const d8 = new Uint8Array(8);
    expectIo(() => parseSafetensors(new Uint8Array(5), 'bad.safetensors'), /no 8-byte header length/);
    const long = rawFile({ a: t() }, d8);
    long.writeBigUInt64LE(BigInt(long.length), 0);
    expectIo(() => parseSafetensors(long, 'bad.safetensors'), /header length \d+ runs past the end/);
    expectIo(() => parseSafetensors(rawFile(null, d8, '{"a": '), 'bad.safetensors'), /not valid JSON/);
    expectIo(() => parseSafetensors(rawFile([1, 2]), 'bad.safetensors'), /not a JSON object/);
    expectIo(() => parseSafetensors(rawFile({ a: t({ dtype: 'F17' }) }, d8), 'bad.safetensors'), /tensor "a": unknown dtype "F17"/);
    expectIo(() => parseSafetensors(rawFile({ a: t({ shape: [2, -1] }) }, d8), 'bad.safetensors'), /tensor "a": shape must be/);
    expectIo(() => parseSafetensors(rawFile({ a: t({ shape: [1.5] }) }, d8), 'bad.safetensors'), /tensor "a": shape must be/);
    expectIo(() => parseSafetensors(rawFile({ a: t({ data_offsets: [8, 0] }) }, d8), 'bad.safetensors'), /tensor "a": data_offsets must be/);
    expectIo(() => parseSafetensors(rawFile({ a: t({ data_offsets: [0, 16] }) }, d8), 'bad.safetensors'), /tensor "a": data_offsets \[0, 16\] run past/);
    expectIo(() => parseSafetensors(rawFile({ a: t({ shape: [3] }) }, d8), 'bad.safetensors'), /tensor "a": shape \[3\] of F32 needs 12 bytes but data_offsets give 8/);
    expectIo(
      () => parseSafetensors(rawFile({ a: t(), b: t({ shape: [1], data_offsets: [4, 8] }) }, d8), 'bad.safetensors'),
      /tensor "b": bytes \[4, 8\) overlap tensor "a"/,
    );
    expectIo(
      () => parseSafetensors(rawFile({ a: t({ shape: [1], data_offsets: [4, 8] }) }, d8), 'bad.safetensors'),
      /tensor "a": unindexed bytes \[0, 4\) before it/,
    );
    expectIo(() => parseSafetensors(rawFile({ a: t({ shape: [1], data_offsets: [0, 4] }) }, d8), 'bad.safetensors'), /unindexed bytes \[4, 8\) at the end/);
    expectIo(() => parseSafetensors(rawFile({ __metadata__: { n: 3 } }), 'bad.safetensors'), /__metadata__\.n must be a string/);
    expectIo(() => parseSafetensors(rawFile({ a: 5 }), 'bad.safetensors'), /tensor "a": entry is not an object/);
    const ok = parseSafetensors(rawFile({ a: t() }, d8), 'bad.safetensors');
    expectIo(() => ok.get('nope'), /no tensor "nope"/);
  });

  it('refuses to write inconsistent tensors', () => {
    assert.throws(() => serializeSafetensors({ a: { shape: [3], data: new Float32Array(2) } }), (e: unknown) => {
      assert.ok(isXtError(e) && e.code === 'XT_SHAPE' && /tensor "a"/.test(e.message));
      return true;
    });
    assert.throws(() => serializeSafetensors({ a: { shape: [2], data: new Uint16Array(2) } }), /give a dtype/);
    assert.throws(() => serializeSafetensors({ __metadata__: { shape: [0], data: new Float32Array(0) } }), /reserved/);
  });
});
