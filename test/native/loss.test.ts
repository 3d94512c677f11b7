/**
 * The fused relaxed contrastive loss: the shared fixtures (fp64 within 1e-9, fp32 within 1e-5
 * relative), finite-difference gradient checks, multi-positive targets against the composed ATen
 * reference, the portable and the AVX2 kernels, and coded errors for bad input.
 */
import { strict as assert } from 'assert';
import { contrastiveLoss, groupIdsFromTexts } from '../../lib/loss';
import { native, isXtError, XtErrorCode } from '../../lib/native';
import { readSafetensors, SafetensorsFile } from '../../lib/io/safetensors';
import { requireShared } from '../helpers/shared';
import { hooks } from '../helpers/native-testing';

type F = Float32Array | Float64Array;

/** Deterministic N(0,1)-ish values (mulberry32 + Box-Muller). */
function randn(n: number, seed: number): Float64Array {
  let s = seed >>> 0;
  const u = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  return out;
}

/** Image/text embeddings whose pairs are correlated (like a partly trained model). */
function pairs(B: number, D: number, seed: number, noise = 0.7): { image: Float64Array; text: Float64Array } {
  const base = randn(B * D, seed);
  const a = randn(B * D, seed + 1);
  const b = randn(B * D, seed + 2);
  return { image: base.map((v, i) => v + noise * a[i]), text: base.map((v, i) => v + noise * b[i]) };
}

/** max |x - y| / max |y| (norm-relative; elementwise relative is meaningless for tiny entries). */
function relErr(x: ArrayLike<number>, y: ArrayLike<number>): number {
  assert.equal(x.length, y.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < y.length; i++) {
    num = Math.max(num, Math.abs(x[i] - y[i]));
    den = Math.max(den, Math.abs(y[i]));
  }
  return num / (den || 1);
}

function maxAbs(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < y.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

async function rejectsWith(p: Promise<unknown>, code: XtErrorCode, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isXtError(e), `expected a coded error, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, pattern);
    return true;
  });
}

interface FixtureCase {
  clip: number;
  B: number;
  D: number;
  image: Float64Array;
  text: Float64Array;
  logitScale: number;
  loss: number;
  gradImage: Float64Array;
  gradText: Float64Array;
  gradLogitScale: number;
}

function fixtureCases(f: SafetensorsFile): FixtureCase[] {
  const meta = JSON.parse(f.metadata.cases) as { case: number; positive_clip: number }[];
  return meta.map((m) => {
    const g = (k: string) => f.getFloat64(`${m.case}.${k}`);
    const image = g('image');
    return {
      clip: m.positive_clip,
      B: image.shape[0],
      D: image.shape[1],
      image: image.data,
      text: g('text').data,
      logitScale: g('logit_scale').data[0],
      loss: g('loss').data[0],
      gradImage: g('grad_image').data,
      gradText: g('grad_text').data,
      gradLogitScale: g('grad_logit_scale').data[0],
    };
  });
}

describe('relaxed contrastive loss (native)', function () {
  this.timeout(120000);
  let cases: FixtureCase[] = [];

  before(async function () {
    const file = requireShared(this, 'fixtures', 'loss', 'relaxed_loss_cases.safetensors');
    cases = fixtureCases(await readSafetensors(file));
    assert.equal(cases.length, 4);
  });

  after(() => hooks().lossForceGenericCpu(false));

  const kernels: ('default' | 'generic')[] = ['default', 'generic'];
  for (const k of kernels) {
    describe(`shared fixtures, ${k} CPU kernels`, () => {
      before(() => hooks().lossForceGenericCpu(k === 'generic'));
      after(() => hooks().lossForceGenericCpu(false));

      it('reports which kernels run', () => {
        const info = native().lossInfo();
        if (k === 'generic') assert.equal(info.cpuIsa, 'generic');
        else assert.ok(info.cpuIsa === 'avx2' || info.cpuIsa === 'generic');
      });

      it('fp64 matches the loss and all gradients within 1e-9', async () => {
        for (const [n, c] of cases.entries()) {
          const r = await contrastiveLoss(c.image, c.text, [c.B, c.D], { logitScale: c.logitScale, positiveClip: c.clip });
          assert.ok(r.gradImage instanceof Float64Array);
          assert.ok(Math.abs(r.loss - c.loss) <= 1e-9 * Math.max(1, Math.abs(c.loss)), `case ${n} loss ${r.loss} vs ${c.loss}`);
          assert.ok(maxAbs(r.gradImage, c.gradImage) <= 1e-9, `case ${n} grad_image ${maxAbs(r.gradImage, c.gradImage)}`);
          assert.ok(maxAbs(r.gradText, c.gradText) <= 1e-9, `case ${n} grad_text ${maxAbs(r.gradText, c.gradText)}`);
          assert.ok(Math.abs(r.gradLogitScale - c.gradLogitScale) <= 1e-9, `case ${n} grad_logit_scale ${r.gradLogitScale} vs ${c.gradLogitScale}`);
        }
      });

      it('fp32 matches within 1e-5 relative', async () => {
        for (const [n, c] of cases.entries()) {
          const r = await contrastiveLoss(Float32Array.from(c.image), Float32Array.from(c.text), [c.B, c.D], {
            logitScale: c.logitScale,
            positiveClip: c.clip,
          });
          assert.ok(r.gradImage instanceof Float32Array);
          assert.ok(Math.abs(r.loss - c.loss) <= 1e-5 * Math.abs(c.loss), `case ${n} loss ${r.loss} vs ${c.loss}`);
          assert.ok(relErr(r.gradImage, c.gradImage) <= 1e-5, `case ${n} grad_image rel ${relErr(r.gradImage, c.gradImage)}`);
          assert.ok(relErr(r.gradText, c.gradText) <= 1e-5, `case ${n} grad_text rel ${relErr(r.gradText, c.gradText)}`);
          assert.ok(
            Math.abs(r.gradLogitScale - c.gradLogitScale) <= 1e-5 * Math.abs(c.gradLogitScale),
            `case ${n} grad_logit_scale ${r.gradLogitScale} vs ${c.gradLogitScale}`,
          );
        }
      });
    });
  }

  it('the composed reference matches the fixtures too (fp64, 1e-9)', async () => {
    for (const [n, c] of cases.entries()) {
      const r = await contrastiveLoss(c.image, c.text, [c.B, c.D], { logitScale: c.logitScale, positiveClip: c.clip, impl: 'reference' });
      assert.ok(Math.abs(r.loss - c.loss) <= 1e-9, `case ${n}`);
      assert.ok(maxAbs(r.gradImage, c.gradImage) <= 1e-9 && maxAbs(r.gradText, c.gradText) <= 1e-9, `case ${n}`);
      assert.ok(Math.abs(r.gradLogitScale - c.gradLogitScale) <= 1e-9, `case ${n}`);
    }
  });

  describe('gradient check (central finite differences, fp64)', () => {
    const configs = [
      { name: 'plain CLIP', B: 4, D: 5, clip: 1, groups: undefined as Int32Array | undefined, ls: 2.3 },
      { name: 'relaxed, clip 0.2', B: 5, D: 4, clip: 0.2, groups: undefined, ls: 3.1 },
      { name: 'multi-positive groups, clip 0.3', B: 6, D: 4, clip: 0.3, groups: Int32Array.from([7, 7, 1, 9, 7, 1]), ls: 1.7 },
    ];
    for (const cfg of configs) {
      it(cfg.name, async () => {
        const { image, text } = pairs(cfg.B, cfg.D, 11 + cfg.B, 0.5);
        const opts = { logitScale: cfg.ls, positiveClip: cfg.clip, groups: cfg.groups };
        const r = await contrastiveLoss(image, text, [cfg.B, cfg.D], opts);
        const h = 1e-6;
        const f = async (img: Float64Array, txt: Float64Array, ls = cfg.ls) =>
          (await contrastiveLoss(img, txt, [cfg.B, cfg.D], { ...opts, logitScale: ls })).loss;
        const check = async (which: 'image' | 'text') => {
          const grad = which === 'image' ? r.gradImage : r.gradText;
          for (let k = 0; k < cfg.B * cfg.D; k++) {
            const p = Float64Array.from(which === 'image' ? image : text);
            const m = Float64Array.from(p);
            p[k] += h;
            m[k] -= h;
            const fd = which === 'image' ? ((await f(p, text)) - (await f(m, text))) / (2 * h) : ((await f(image, p)) - (await f(image, m))) / (2 * h);
            assert.ok(Math.abs(fd - grad[k]) <= 1e-6 * Math.max(1, Math.abs(fd)), `${which}[${k}]: fd ${fd} vs ${grad[k]}`);
          }
        };
        await check('image');
        await check('text');
        const fdLs = ((await f(image, text, cfg.ls + h)) - (await f(image, text, cfg.ls - h))) / (2 * h);
        assert.ok(Math.abs(fdLs - r.gradLogitScale) <= 1e-6 * Math.max(1, Math.abs(fdLs)), `logit scale: fd ${fdLs} vs ${r.gradLogitScale}`);
        // the clip really binds somewhere in the relaxed configs (else this would test plain CLIP)
        if (cfg.clip < 1) {
          const plain = await contrastiveLoss(image, text, [cfg.B, cfg.D], { ...opts, positiveClip: 1 });
          assert.ok(Math.abs(plain.loss - r.loss) > 1e-3, 'relaxation changed nothing');
        }
      });
    }
  });

  it('a second backward on the same graph (retain_graph) gives the same gradients', async () => {
    // the first backward writes dS over the saved similarity; the second must recompute it
    const B = 300;
    const D = 20;
    const { image, text } = pairs(B, D, 41);
    const groups = Int32Array.from({ length: B }, (_, i) => i >> 1);
    for (const T of [Float64Array, Float32Array]) {
      const opts = { logitScale: 3.0, positiveClip: 0.3, groups };
      const once = await native().contrastiveLoss(T.from(image), T.from(text), B, D, opts);
      const twice = await hooks().contrastiveLossTwice(T.from(image), T.from(text), B, D, opts);
      assert.equal(twice.loss, once.loss);
      assert.deepEqual(Array.from(twice.gradImage), Array.from(once.gradImage));
      assert.deepEqual(Array.from(twice.gradText), Array.from(once.gradText));
      assert.equal(twice.gradLogitScale, once.gradLogitScale);
    }
  });

  it('caps the logit scale at 4.6052: same loss above it, no logit-scale gradient', async () => {
    const B = 6;
    const D = 8;
    const { image, text } = pairs(B, D, 5);
    const at = await contrastiveLoss(image, text, [B, D], { logitScale: 4.6052, positiveClip: 0.5 });
    const above = await contrastiveLoss(image, text, [B, D], { logitScale: 6, positiveClip: 0.5 });
    assert.ok(Math.abs(at.gradLogitScale) > 1e-6);
    assert.equal(above.gradLogitScale, 0);
    assert.ok(Math.abs(at.loss - above.loss) < 1e-14);
    assert.ok(maxAbs(at.gradImage, above.gradImage) < 1e-14);
    const ref = await contrastiveLoss(image, text, [B, D], { logitScale: 6, positiveClip: 0.5, impl: 'reference' });
    assert.equal(ref.gradLogitScale, 0);
    assert.ok(Math.abs(ref.loss - above.loss) < 1e-12);
  });

  describe('multi-positive targets vs the composed reference', () => {
    // group sizes 1, 2, 3 and 5 mixed, ids not sorted or contiguous
    const B = 29;
    const D = 24;
    const ids = [4, 4, 9, 1, 4, 7, 7, 2, 3, 3, 3, 8, 0, 11, 12, 13, 9, 9, 9, 9, 20, 21, 22, 23, 24, 25, 26, 2, 2];
    const groups = Int32Array.from(ids);
    for (const k of kernels) {
      it(`fp64 and fp32 (${k} kernels), clip 0.4`, async () => {
        hooks().lossForceGenericCpu(k === 'generic');
        try {
          const { image, text } = pairs(B, D, 3, 0.6);
          const opts = { logitScale: 3.3, positiveClip: 0.4, groups };
          const ref = await contrastiveLoss(image, text, [B, D], { ...opts, impl: 'reference' });
          const fused = await contrastiveLoss(image, text, [B, D], opts);
          assert.ok(Math.abs(fused.loss - ref.loss) <= 1e-12 * Math.abs(ref.loss), `${fused.loss} vs ${ref.loss}`);
          assert.ok(relErr(fused.gradImage, ref.gradImage) <= 1e-12);
          assert.ok(relErr(fused.gradText, ref.gradText) <= 1e-12);
          assert.ok(Math.abs(fused.gradLogitScale - ref.gradLogitScale) <= 1e-12 * Math.max(1, Math.abs(ref.gradLogitScale)));
          const f32 = await contrastiveLoss(Float32Array.from(image), Float32Array.from(text), [B, D], opts);
          assert.ok(Math.abs(f32.loss - ref.loss) <= 1e-5 * Math.abs(ref.loss));
          assert.ok(relErr(f32.gradImage, ref.gradImage) <= 1e-5 && relErr(f32.gradText, ref.gradText) <= 1e-5);
          assert.ok(Math.abs(f32.gradLogitScale - ref.gradLogitScale) <= 1e-5 * Math.max(1, Math.abs(ref.gradLogitScale)));
          // the groups matter: the plain (diagonal) loss differs
          const plain = await contrastiveLoss(image, text, [B, D], { logitScale: 3.3, positiveClip: 0.4 });
          assert.ok(Math.abs(plain.loss - fused.loss) > 1e-3);
        } finally {
          hooks().lossForceGenericCpu(false);
        }
      });
    }

    it('all-distinct ids equal the plain loss', async () => {
      const { image, text } = pairs(B, D, 8);
      const distinct = Int32Array.from({ length: B }, (_, i) => 1000 - 7 * i);
      const a = await contrastiveLoss(image, text, [B, D], { logitScale: 2.9, positiveClip: 0.35, groups: distinct });
      const b = await contrastiveLoss(image, text, [B, D], { logitScale: 2.9, positiveClip: 0.35 });
      assert.ok(Math.abs(a.loss - b.loss) < 1e-13);
      assert.ok(maxAbs(a.gradImage, b.gradImage) < 1e-13 && maxAbs(a.gradText, b.gradText) < 1e-13);
      assert.ok(Math.abs(a.gradLogitScale - b.gradLogitScale) < 1e-13);
    });

    it('group ids from sentences: equal normalised texts share an id', () => {
      const g = groupIdsFromTexts(['No pneumothorax.', 'Cardiomegaly.', ' no  pneumothorax. ', 'cardiomegaly.', 'Effusion.']);
      assert.deepEqual(Array.from(g), [0, 1, 0, 1, 2]);
    });
  });

  it('larger batches (several row chunks in parallel, B not a multiple of the vector width) match the reference', async () => {
    const B = 301; // > 256: the B x B passes split into chunks
    const D = 67;
    const { image, text } = pairs(B, D, 21, 1.0);
    const groups = Int32Array.from({ length: B }, (_, i) => (i % 17 === 0 ? 5000 : i)); // one group of 18 spread over all chunks
    for (const g of [undefined, groups]) {
      const opts = { logitScale: 4.6052, positiveClip: 0.25, groups: g };
      const ref = await contrastiveLoss(image, text, [B, D], { ...opts, impl: 'reference' });
      const fused = await contrastiveLoss(image, text, [B, D], opts);
      assert.ok(Math.abs(fused.loss - ref.loss) <= 1e-12 * Math.abs(ref.loss));
      assert.ok(relErr(fused.gradImage, ref.gradImage) <= 1e-11 && relErr(fused.gradText, ref.gradText) <= 1e-11);
      const f32 = await contrastiveLoss(Float32Array.from(image), Float32Array.from(text), [B, D], opts);
      assert.ok(Math.abs(f32.loss - ref.loss) <= 1e-5 * Math.abs(ref.loss), `${f32.loss} vs ${ref.loss}`);
      assert.ok(relErr(f32.gradImage, ref.gradImage) <= 2e-5 && relErr(f32.gradText, ref.gradText) <= 2e-5);
    }
  });

  it('stays finite at scale 100 with widely spread logits (fp32)', async () => {
    // half the texts anti-aligned with everything: columns whose max logit is ~200 below others
    const B = 40;
    const D = 16;
    const { image, text } = pairs(B, D, 31, 0.05);
    const t = Float64Array.from(text);
    for (let i = 0; i < B; i += 2) for (let k = 0; k < D; k++) t[i * D + k] = -image[((i + 1) % B) * D + k] - image[i * D + k];
    const opts = { logitScale: 4.6052, positiveClip: -0.5 };
    const ref = await contrastiveLoss(image, t, [B, D], { ...opts, impl: 'reference' });
    const f32 = await contrastiveLoss(Float32Array.from(image), Float32Array.from(t), [B, D], opts);
    assert.ok(Number.isFinite(f32.loss) && f32.gradImage.every(Number.isFinite) && f32.gradText.every(Number.isFinite));
    assert.ok(Math.abs(f32.loss - ref.loss) <= 1e-5 * Math.abs(ref.loss), `${f32.loss} vs ${ref.loss}`);
    assert.ok(relErr(f32.gradImage, ref.gradImage) <= 2e-5 && relErr(f32.gradText, ref.gradText) <= 2e-5);
  });

  it('B = 1 works: one pair, zero loss and zero gradients', async () => {
    const r = await contrastiveLoss(Float64Array.from([1, 2, 3]), Float64Array.from([-1, 0.5, 2]), [1, 3], {
      logitScale: 2.6592,
      positiveClip: 0.1,
    });
    assert.equal(r.loss, 0);
    assert.ok(r.gradImage.every((v) => v === 0) && r.gradText.every((v) => v === 0));
    assert.equal(r.gradLogitScale, 0);
    const ref = await contrastiveLoss(Float64Array.from([1, 2, 3]), Float64Array.from([-1, 0.5, 2]), [1, 3], {
      logitScale: 2.6592,
      impl: 'reference',
    });
    assert.ok(Math.abs(ref.loss) < 1e-15);
  });

  describe('bad input gives coded errors', () => {
    const img = Float64Array.from(randn(12, 1));
    const txt = Float64Array.from(randn(12, 2));
    const ok = { logitScale: 2.6 };

    it('shapes: mismatched lengths, B = 0, D mismatch, groups of the wrong length', async () => {
      await rejectsWith(contrastiveLoss(img, txt, [4, 4], ok), 'XT_SHAPE', /image has 12 values, \[4, 4\] needs 16/);
      await rejectsWith(contrastiveLoss(new Float64Array(0), new Float64Array(0), [0, 3], ok), 'XT_SHAPE', /B = 0/);
      await rejectsWith(contrastiveLoss(img, txt.subarray(0, 9), [4, 3], ok), 'XT_SHAPE', /text has 9 values/);
      await rejectsWith(contrastiveLoss(img, txt, [4, 3], { ...ok, groups: new Int32Array(3) }), 'XT_SHAPE', /groups has 3 ids/);
      await rejectsWith(contrastiveLoss(img, txt, [4, 3, 1] as unknown as [number, number], ok), 'XT_SHAPE', /shape must be \[B, D\]/);
    });

    it('values: non-finite entries, zero rows, options', async () => {
      const nan = Float64Array.from(img);
      nan[5] = NaN;
      await rejectsWith(contrastiveLoss(nan, txt, [4, 3], ok), 'XT_INVALID', /image has a non-finite value at \[1, 2\]/);
      const inf = Float32Array.from(txt);
      inf[11] = -Infinity;
      await rejectsWith(contrastiveLoss(Float32Array.from(img), inf, [4, 3], ok), 'XT_INVALID', /text has a non-finite value at \[3, 2\]/);
      await rejectsWith(contrastiveLoss(nan, txt, [4, 3], { ...ok, impl: 'reference' }), 'XT_INVALID', /image has a non-finite value/);
      const zero = Float64Array.from(txt);
      zero.fill(0, 3, 6);
      await rejectsWith(contrastiveLoss(img, zero, [4, 3], ok), 'XT_INVALID', /text row 1 is all zeros/);
      await rejectsWith(contrastiveLoss(img, Float32Array.from(txt) as unknown as Float64Array, [4, 3], ok), 'XT_INVALID', /Float64Array but text is a Float32Array/);
      await rejectsWith(contrastiveLoss(img, txt, [4, 3], { logitScale: NaN }), 'XT_INVALID', /logitScale/);
      await rejectsWith(contrastiveLoss(img, txt, [4, 3], { ...ok, positiveClip: 1.5 }), 'XT_INVALID', /positiveClip must be in \[-1, 1\]/);
    });

    it('the native layer checks on its own too', async () => {
      const n = native();
      // the argument copy on the calling thread throws synchronously
      assert.throws(
        () => n.contrastiveLoss(img, txt, 4, 4, ok),
        (e: unknown) => isXtError(e) && e.code === 'XT_SHAPE' && /elements do not fit shape/.test(e.message),
      );
      await rejectsWith(n.contrastiveLoss(new Float64Array(0), new Float64Array(0), 0, 3, ok), 'XT_SHAPE', /B = 0/);
      await rejectsWith(n.contrastiveLoss(img, txt, 4, 3, { ...ok, groups: new Int32Array(5) }), 'XT_SHAPE', /one id per sample/);
      await rejectsWith(n.contrastiveLoss(img, Float32Array.from(txt), 4, 3, ok), 'XT_INVALID', /dtypes differ/);
      await rejectsWith(n.contrastiveLoss(img, txt, 4, 3, { ...ok, positiveClip: -2 }), 'XT_INVALID', /positive_clip/);
      await rejectsWith(n.contrastiveLoss(img, txt, 4, 3, { logitScale: Infinity }), 'XT_INVALID', /logit_scale is not finite/);
      assert.throws(() => n.contrastiveLoss(img, txt, 4, 3, { ...ok, impl: 'fast' as 'fused' }), /impl/);
    });
  });
});
