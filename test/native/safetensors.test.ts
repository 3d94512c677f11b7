/**
 * lib/io/safetensors.ts, the typed wrapper over the package's one safetensors reader and writer (native,
 * binding/io/safetensors.h): round trips of every dtype checked against the bytes on disk (read by the
 * independent test helper readSt), the shared fixture, narrowing on write, and coded errors. The native
 * reader's answers to corrupt files are in clip-safetensors.test.ts.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { readSafetensors, writeSafetensors } from '../../lib/io/safetensors';
import type { SafeTensorInput } from '../../lib/io/safetensors';
import { isXtError } from '../../lib/native';
import { requireShared } from '../helpers/shared';
import { readSt, rejectsWith, rmDir, tmpDir } from '../helpers/clip';

describe('safetensors (lib/io/safetensors over the native reader and writer)', function () {
  this.timeout(60000);
  let dir: string;
  before(() => {
    dir = tmpDir('st');
  });
  after(() => rmDir(dir));

  it('round-trips every dtype with metadata, bytes as the format says, 8-byte aligned', async () => {
    const file = path.join(dir, 'all.safetensors');
    const tensors: [string, SafeTensorInput][] = [
      ['a', { shape: [2, 3], data: Float64Array.from([1, 2, 3, 4, 5, -6.5]) }],
      ['b', { shape: [3], data: Float32Array.from([0.25, -1, 1e-3]) }],
      ['c', { shape: [2], data: BigInt64Array.from([-5n, 9007199254740993n]) }],
      ['d', { shape: [4], data: Int32Array.from([1, -2, 3, -4]) }],
      ['e', { shape: [1, 4], dtype: 'F16', data: Float32Array.from([1, -2, 0.5, 65504]) }],
      ['f', { shape: [3], dtype: 'BF16', data: Float32Array.from([1, -2, 3.140625]) }],
      ['g', { shape: [0, 5], data: new Float32Array(0) }],
      ['h', { shape: [3], dtype: 'BOOL', data: Uint8Array.from([1, 0, 1]) }],
      ['i', { shape: [2], dtype: 'I16', data: Int32Array.from([-32768, 32767]) }],
      ['j', { shape: [2], dtype: 'I8', data: Int32Array.from([-128, 127]) }],
      ['k', { shape: [2], data: Uint8Array.from([0, 255]) }],
    ];
    await writeSafetensors(file, tensors, { format: 'pt', note: 'x' });

    // the bytes, read without the code under test
    const raw = fs.readFileSync(file);
    assert.equal(Number(raw.readBigUInt64LE(0)) % 8, 0, 'the data starts 8-byte aligned');
    const st = readSt(file);
    assert.deepEqual(st.metadata, { format: 'pt', note: 'x' });
    assert.deepEqual(st.entries.map((e) => [e.name, e.dtype, e.shape]), [
      ['a', 'F64', [2, 3]], ['b', 'F32', [3]], ['c', 'I64', [2]], ['d', 'I32', [4]], ['e', 'F16', [1, 4]],
      ['f', 'BF16', [3]], ['g', 'F32', [0, 5]], ['h', 'BOOL', [3]], ['i', 'I16', [2]], ['j', 'I8', [2]], ['k', 'U8', [2]],
    ]);
    const e = st.entries.find((x) => x.name === 'e')!;
    assert.deepEqual([0, 2, 4, 6].map((o) => e.bytes.readUInt16LE(o)), [0x3c00, 0xc000, 0x3800, 0x7bff]);
    const f = st.entries.find((x) => x.name === 'f')!;
    assert.deepEqual([0, 2, 4].map((o) => f.bytes.readUInt16LE(o)), [0x3f80, 0xc000, 0x4049]);
    assert.equal(st.entries.find((x) => x.name === 'c')!.bytes.readBigInt64LE(8), 9007199254740993n);

    // and back through the reader
    const r = await readSafetensors(file);
    assert.equal(r.source, file);
    assert.deepEqual(r.metadata, { format: 'pt', note: 'x' });
    assert.deepEqual(r.names.slice().sort(), tensors.map(([n]) => n).sort());
    assert.deepEqual(Array.from(r.get('a').data as Float64Array), [1, 2, 3, 4, 5, -6.5]);
    assert.deepEqual(Array.from(r.get('b').data as Float32Array), Array.from(Float32Array.from([0.25, -1, 1e-3])));
    assert.deepEqual(Array.from(r.get('c').data as BigInt64Array), [-5n, 9007199254740993n]);
    assert.deepEqual(Array.from(r.get('d').data as Int32Array), [1, -2, 3, -4]);
    assert.equal(r.get('e').dtype, 'F16');
    assert.deepEqual(r.get('e').shape, [1, 4]);
    assert.deepEqual(Array.from(r.get('e').data as Float32Array), [1, -2, 0.5, 65504]);
    assert.deepEqual(Array.from(r.get('f').data as Float32Array), [1, -2, 3.140625]);
    assert.deepEqual(r.get('g').shape, [0, 5]);
    assert.equal(r.get('g').data.length, 0);
    assert.deepEqual(Array.from(r.get('h').data as Uint8Array), [1, 0, 1]);
    assert.deepEqual(Array.from(r.get('i').data as Int32Array), [-32768, 32767]);
    assert.deepEqual(Array.from(r.get('j').data as Int32Array), [-128, 127]);
    assert.deepEqual(Array.from(r.get('k').data as Uint8Array), [0, 255]);
    assert.deepEqual(Array.from(r.getFloat64('d').data), [1, -2, 3, -4]);
    assert.ok(r.getFloat32('a').data instanceof Float32Array);
    // what the reader gives back writes again with its dtype, unchanged
    const again = path.join(dir, 'again.safetensors');
    await writeSafetensors(again, r.names.map((n) => [n, r.get(n)] as [string, SafeTensorInput]), { ...r.metadata });
    const st2 = readSt(again);
    for (const x of st.entries) {
      const y = st2.entries.find((z) => z.name === x.name)!;
      assert.equal(y.dtype, x.dtype, x.name);
      assert.ok(y.bytes.equals(x.bytes), `${x.name}: the same bytes after a read and a write`);
    }
  });

  it('rounds F16 and BF16 to nearest even', async () => {
    const file = path.join(dir, 'round.safetensors');
    await writeSafetensors(file, {
      h: { shape: [2], dtype: 'F16', data: Float64Array.from([1 / 3, 1 + 2 ** -11]) },
      b: { shape: [2], dtype: 'BF16', data: Float32Array.from([1 / 3, 1 + 2 ** -8]) },
    });
    const st = readSt(file);
    const words = (n: string) => { const b = st.entries.find((e) => e.name === n)!.bytes; return [b.readUInt16LE(0), b.readUInt16LE(2)]; };
    assert.deepEqual(words('h'), [0x3555, 0x3c00]); // 1 + 2^-11 is a tie: to the even 1.0
    assert.deepEqual(words('b'), [0x3eab, 0x3f80]);
    const r = await readSafetensors(file);
    assert.deepEqual(Array.from(r.get('h').data as Float32Array), [0.333251953125, 1]);
    assert.deepEqual(Array.from(r.get('b').data as Float32Array), [0.333984375, 1]);
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
    // the same values as the bytes say
    const raw = readSt(file).entries.find((e) => e.name === '0.image')!;
    const want = Array.from({ length: 8 * 16 }, (_, i) => raw.bytes.readDoubleLE(8 * i));
    assert.deepEqual(Array.from(f.getFloat64('0.image').data), want);
  });

  it('reading: a missing file or tensor is XT_IO naming the file', async () => {
    const missing = path.join(dir, 'missing.safetensors');
    const e = await rejectsWith(readSafetensors(missing), 'XT_IO', /cannot open/);
    assert.ok(e.message.startsWith(missing), e.message);
    const file = path.join(dir, 'one.safetensors');
    await writeSafetensors(file, { x: { shape: [1], data: BigInt64Array.from([2n ** 60n + 1n]) } });
    const f = await readSafetensors(file);
    assert.throws(() => f.get('nope'), (err: unknown) => isXtError(err) && err.code === 'XT_IO' &&
      err.message.startsWith(file) && /no tensor "nope" \(it has 1: x\)/.test(err.message));
    assert.throws(() => f.getFloat64('x'), (err: unknown) => isXtError(err) && err.code === 'XT_IO' &&
      /tensor "x": element 0 \(1152921504606846977\) is not exactly representable/.test(err.message));
  });

  it('writing: inconsistent tensors are coded errors naming the tensor, and nothing is written', async () => {
    const file = path.join(dir, 'bad.safetensors');
    const bad: [Record<string, SafeTensorInput>, string, RegExp][] = [
      [{ a: { shape: [3], data: new Float32Array(2) } }, 'XT_SHAPE', /tensor 'a': 2 elements do not fit shape/],
      [{ a: { shape: [2], data: new Uint16Array(2) as unknown as Float32Array } }, 'XT_INVALID', /tensor "a": a Uint16Array cannot be written/],
      [{ __metadata__: { shape: [0], data: new Float32Array(0) } }, 'XT_INVALID', /tensor '__metadata__': the name is empty or reserved/],
      [{ a: { shape: [2], dtype: 'I8', data: Int32Array.from([1, 128]) } }, 'XT_INVALID', /tensor 'a': values in \[1, 128\] do not fit I8/],
      [{ a: { shape: [2], dtype: 'BOOL', data: Uint8Array.from([0, 2]) } }, 'XT_INVALID', /tensor 'a': values in \[0, 2\] do not fit BOOL/],
      [{ a: { shape: [1], dtype: 'I32', data: Float32Array.from([1]) } }, 'XT_INVALID', /tensor 'a': a floating-point array cannot be stored as I32/],
      [{ a: { shape: [1], dtype: 'F32', data: Int32Array.from([1]) } }, 'XT_INVALID', /tensor 'a': an integer array cannot be stored as F32/],
      [{ a: { shape: [1], dtype: 'F8' as 'F32', data: Float32Array.from([1]) } }, 'XT_INVALID', /tensor 'a': unsupported dtype 'F8'/],
    ];
    for (const [tensors, code, match] of bad) await rejectsWith(writeSafetensors(file, tensors), code, match);
    await rejectsWith(writeSafetensors(file, { a: { shape: [1], data: Float32Array.from([1]) } }, { n: 3 as unknown as string }),
      'XT_INVALID', /metadata 'n' must be a string/);
    assert.ok(!fs.existsSync(file));
    const nowhere = path.join(dir, 'no-such-folder', 'x.safetensors');
    const e = await rejectsWith(writeSafetensors(nowhere, { a: { shape: [1], data: Float32Array.from([1]) } }), 'XT_IO');
    assert.ok(e.message.startsWith(nowhere), e.message);
  });
});
