/**
 * Pixels cross into the addon once, as 8-bit grey (issue 15): the training step and the evaluation loss take
 * `Uint8Array` [B, R, R] and normalise it natively (binding/image/pixels.cc), bit for bit what the float path
 * [B, 3, R, R] normalised in TypeScript (greyToCHW) gives, so the two train the same weights.
 */
import { strict as assert } from 'assert';
import { native } from '../../lib/native';
import { ClipModel } from '../../lib/model/clip';
import { greyToCHW } from '../../lib/data/images';
import { defaultSessionOptions } from '../../lib/train/options';
import { tokenRows } from '../helpers/clip';

describe('grey pixels into the training step and the evaluation loss', function () {
  this.timeout(300000);
  const B = 6;
  const R = 64;
  const grey = (k: number) => Uint8Array.from({ length: B * R * R }, (_, i) => ((i + k * 977) * 2654435761) >>> 24);
  const float = (g: Uint8Array) => {
    const f = new Float32Array(B * 3 * R * R);
    for (let b = 0; b < B; b++) greyToCHW({ width: R, height: R, data: g.subarray(b * R * R, (b + 1) * R * R) }, f, b * 3 * R * R);
    return f;
  };
  const ids = (k: number) => tokenRows(B, 24, k);

  it('step and evalLoss on grey bytes equal the same on the normalised float expansion', async () => {
    const run = async (asGrey: boolean) => {
      const m = await ClipModel.create('tiny', { seed: 3, contextLength: 24 });
      const sess = new (native().TrainSessionNative)(m.native, defaultSessionOptions({ lr: 1e-3, positiveClip: 0.8, gradClip: 1 }));
      const losses: number[] = [];
      for (let k = 0; k < 3; k++) {
        const g = grey(k);
        const r = asGrey ? await sess.step(g, [B, R, R], ids(k), [B, 24], null, 1e-3) : await sess.step(float(g), [B, 3, R, R], ids(k), [B, 24], null, 1e-3);
        losses.push(r.loss);
      }
      const g = grey(7);
      const ev = asGrey ? await sess.evalLoss(g, [B, R, R], ids(7), [B, 24]) : await sess.evalLoss(float(g), [B, 3, R, R], ids(7), [B, 24]);
      const emb = await m.encodeImages(g, [B, R, R]);
      m.dispose();
      return { losses, ev: ev.loss, emb: Array.from(emb.data) };
    };
    const a = await run(true);
    const b = await run(false);
    assert.ok(a.losses.every(Number.isFinite));
    assert.deepEqual(a.losses, b.losses);
    assert.equal(a.ev, b.ev);
    assert.deepEqual(a.emb, b.emb, 'the same updated weights');
  });

  it('rejects grey batches of the wrong shape or size with coded errors (thrown at the call, as every argument error)', async () => {
    const m = await ClipModel.create('tiny', { seed: 3, contextLength: 24 });
    try {
      const sess = new (native().TrainSessionNative)(m.native, defaultSessionOptions({ lr: 1e-3 }));
      const code = (c: string, re: RegExp) => (e: Error & { code?: string }) => e.code === c && re.test(e.message);
      assert.throws(() => sess.step(new Uint8Array(B * 32 * 32), [B, 32, 32], ids(0), [B, 24], null, 1e-3), code('XT_SHAPE', /step: 8-bit grey pixels \(Uint8Array\) need shape \[n, 64, 64\]/));
      assert.throws(() => sess.step(new Uint8Array(B * R * R), [B, 1, R, R], ids(0), [B, 24], null, 1e-3), code('XT_SHAPE', /step:/));
      assert.throws(() => sess.evalLoss(new Uint8Array(5), [B, R, R], ids(0), [B, 24]), code('XT_SHAPE', /evalLoss: 5 pixels do not fit shape \[6, 64, 64\]/));
      assert.throws(() => sess.step(new Uint8Array((B - 1) * R * R), [B - 1, R, R], ids(0), [B, 24], null, 1e-3), code('XT_SHAPE', /does not match pixels batch 5/));
      assert.throws(() => sess.step(new Float64Array(B * 3 * R * R) as unknown as Float32Array, [B, 3, R, R], ids(0), [B, 24], null, 1e-3), code('XT_INVALID', /step: pixels must be a Uint8Array/));
    } finally {
      m.dispose();
    }
  });
});
