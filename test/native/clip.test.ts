/**
 * CLIP encoders: parity with the shared reference fixture (../shared/fixtures/clip-tiny, an
 * independent PyTorch implementation of OpenAI's CLIP; float64 expected outputs), in both the
 * OpenAI and the Hugging Face layouts; our checkpoint round trip; presets and CLIP's init;
 * input validation; the autograd path; concurrency and dispose.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { native } from '../../lib/native';
import { ClipModel, loadModel } from '../../lib/model/clip';
import { requireShared } from '../helpers/shared';
import { hooks } from '../helpers/native-testing';
import { greyToCHW, normalizeLut } from '../../lib/data/images';
import { asBigInt64, asFloat32, asFloat64, assertClose, entry, readSt, rejectsWith, rmDir, tmpDir } from '../helpers/clip';
import type { StFile } from '../helpers/clip';

const TOL = 1e-4; // the parity bound (relative), fp32 compute

interface Io {
  images: Float32Array;
  tokens: BigInt64Array;
  tokens32: Int32Array;
  imageEmbeds: Float64Array;
  textEmbeds: Float64Array;
  logits: Float64Array;
  config: Record<string, number>;
}

function readIo(file: string): Io {
  const f: StFile = readSt(file);
  const tokens = asBigInt64(entry(f, 'tokens'));
  return {
    images: asFloat32(entry(f, 'images')),
    tokens,
    tokens32: Int32Array.from(tokens, (x) => Number(x)),
    imageEmbeds: asFloat64(entry(f, 'image_embeds')),
    textEmbeds: asFloat64(entry(f, 'text_embeds')),
    logits: asFloat64(entry(f, 'logits_per_image')),
    config: JSON.parse(f.metadata!.config) as Record<string, number>,
  };
}

describe('CLIP model (native)', function () {
  this.timeout(300000);
  let io: Io;
  let openaiDir: string;
  let hfDir: string;

  before(function () {
    const ioFile = requireShared(this, 'fixtures', 'clip-tiny', 'io.safetensors');
    openaiDir = requireShared(this, 'fixtures', 'clip-tiny', 'openai');
    hfDir = requireShared(this, 'fixtures', 'clip-tiny', 'hf');
    io = readIo(ioFile);
  });

  async function checkParity(model: ClipModel, what: string): Promise<void> {
    const img = await model.encodeImages(io.images, [4, 3, 64, 64]);
    assert.deepStrictEqual(img.shape, [4, 64]);
    const r1 = assertClose(img.data, io.imageEmbeds, TOL, `${what} image embeds`);
    const txt = await model.encodeTokens(io.tokens32, [4, 77]);
    assert.deepStrictEqual(txt.shape, [4, 64]);
    const r2 = assertClose(txt.data, io.textEmbeds, TOL, `${what} text embeds`);
    const txt64 = await model.encodeTokens(io.tokens, [4, 77]); // BigInt64Array ids too
    assert.deepStrictEqual(Array.from(txt64.data), Array.from(txt.data));
    const logits = await model.logits(io.images, [4, 3, 64, 64], io.tokens32, [4, 77]);
    assert.deepStrictEqual(logits.shape, [4, 4]);
    const r3 = assertClose(logits.data, io.logits, TOL, `${what} logits`);
    // eslint-disable-next-line no-console
    console.log(`      ${what}: max rel diff image ${r1.toExponential(2)}, text ${r2.toExponential(2)}, logits ${r3.toExponential(2)}`);
  }

  it('loads the OpenAI layout (fp16 safetensors) and matches the reference within 1e-4', async () => {
    const model = await loadModel(openaiDir);
    try {
      assert.strictEqual(model.format, 'openai');
      assert.strictEqual(model.storageDtype, 'float16');
      assert.strictEqual(model.dtype, 'float32');
      assert.strictEqual(model.device, 'cpu');
      const c = model.config;
      assert.deepStrictEqual(
        [c.embedDim, c.visionWidth, c.visionHeads, c.visionLayers, c.visionPatchSize, c.imageResolution, c.contextLength, c.vocabSize, c.textWidth, c.textHeads, c.textLayers],
        [io.config.embed_dim, io.config.vision_width, io.config.vision_heads, io.config.vision_layers, io.config.patch_size, io.config.image_resolution,
          io.config.context_length, io.config.vocab_size, io.config.text_width, io.config.text_heads, io.config.text_layers]);
      // no tokenizer beside these weights: the 49,408-token vocabulary is the bundled one (vocab/)
      assert.strictEqual(model.tokenizerSource, 'bundled');
      assert.strictEqual(model.tokenizer!.vocabSize, 49408);
      await checkParity(model, 'openai');
    } finally {
      model.dispose();
    }
  });

  it('loads the Hugging Face layout (config.json + model.safetensors) with its tokenizer and matches within 1e-4', async () => {
    const model = await loadModel(hfDir);
    try {
      assert.strictEqual(model.format, 'hf');
      assert.strictEqual(model.config.visionHeads, 2);
      assert.ok(model.tokenizer, 'tokenizer attached from vocab.json + merges.txt');
      assert.strictEqual(model.tokenizer!.endId, 49407);
      await checkParity(model, 'hf');
      // Both layouts hold the same weights: every parameter agrees exactly.
      const other = await loadModel(openaiDir);
      try {
        for (const name of ['visual.transformer.resblocks.1.attn.in_proj_weight', 'text_projection', 'visual.proj', 'logit_scale']) {
          const a = await model.getParameter(name);
          const b = await other.getParameter(name);
          assert.deepStrictEqual(a.shape, b.shape, name);
          assert.deepStrictEqual(Array.from(a.data), Array.from(b.data), name);
        }
        assert.deepStrictEqual(model.parameterNames(), other.parameterNames());
      } finally {
        other.dispose();
      }
    } finally {
      model.dispose();
    }
  });

  it('names parameters as OpenAI does, and exposes exp(logit_scale)', async () => {
    const model = await loadModel(openaiDir);
    try {
      const names = model.parameterNames();
      const st = readSt(path.join(openaiDir, 'model.safetensors'));
      assert.deepStrictEqual([...names].sort(), st.entries.map((e) => e.name).sort());
      const ls = asFloat64(entry(st, 'logit_scale'))[0];
      assert.ok(Math.abs(model.logitScale - Math.min(100, Math.exp(ls))) < 1e-5);
    } finally {
      model.dispose();
    }
  });

  it('saves our checkpoint (fp32) and reloads it bit-exactly, carrying the tokenizer files', async () => {
    const dir = tmpDir('save');
    try {
      const model = await loadModel(hfDir);
      const out = path.join(dir, 'ckpt');
      const file = await model.save(out);
      assert.strictEqual(file, path.join(out, 'model.safetensors'));
      for (const f of ['vocab.json', 'merges.txt']) assert.ok(fs.existsSync(path.join(out, f)), `${f} copied`);
      const st = readSt(file);
      assert.strictEqual(st.metadata?.xray_torch, 'clip-v1');
      assert.strictEqual(JSON.parse(st.metadata!.config).vision_heads, 2);
      assert.ok(st.entries.every((e) => e.dtype === 'F32'));
      const a = await model.encodeImages(io.images, [4, 3, 64, 64]);
      model.dispose();

      const back = await loadModel(out);
      try {
        assert.strictEqual(back.format, 'xray-torch');
        assert.strictEqual(back.storageDtype, 'float32');
        assert.ok(back.tokenizer);
        const b = await back.encodeImages(io.images, [4, 3, 64, 64]);
        assert.deepStrictEqual(Array.from(b.data), Array.from(a.data));
        // a single-file save too
        const single = path.join(dir, 'one.safetensors');
        assert.strictEqual(await back.save(single, { dtype: 'bfloat16' }), single);
        const s2 = readSt(single);
        assert.strictEqual(entry(s2, 'visual.proj').dtype, 'BF16');
        assert.strictEqual(entry(s2, 'logit_scale').dtype, 'F32');
      } finally {
        back.dispose();
      }
    } finally {
      rmDir(dir);
    }
  });

  it('encodes token rows shorter than the context, and each row of a mixed batch as it would alone', async () => {
    // The text tower drops the positions after the batch's last end-of-text token and runs its last
    // block only at each row's end-of-text token, masking the keys after it: every row must come
    // out as when it is encoded alone, padded to 77 or cut to its own length.
    const model = await loadModel(openaiDir);
    try {
      const full = await model.encodeTokens(io.tokens32, [4, 77]);
      const lens: number[] = [];
      for (let r = 0; r < 4; r++) {
        const row = io.tokens32.subarray(r * 77, (r + 1) * 77);
        lens.push(row.indexOf(Math.max(...row)) + 1);
      }
      const L = Math.max(...lens);
      assert.ok(L < 77);
      assert.ok(new Set(lens).size > 1, `the fixture rows should differ in length: ${lens}`);
      const short = new Int32Array(4 * L);
      for (let r = 0; r < 4; r++) short.set(io.tokens32.subarray(r * 77, r * 77 + L), r * L);
      const part = await model.encodeTokens(short, [4, L]);
      assertClose(part.data, full.data, 1e-5, 'short rows');
      const d = full.shape[1];
      for (let r = 0; r < 4; r++) {
        const alone = await model.encodeTokens(io.tokens32.slice(r * 77, r * 77 + lens[r]), [1, lens[r]]);
        assertClose(alone.data, full.data.subarray(r * d, (r + 1) * d), 1e-5, `row ${r} alone (${lens[r]} tokens)`);
      }
      assertClose(full.data, io.textEmbeds, 1e-4, 'against the reference embeddings');
    } finally {
      model.dispose();
    }
  });

  it('takes 8-bit grey pixels and normalises them natively: bit for bit the float path (CLIP\'s or the model\'s own mean/std)', async () => {
    const n = 3;
    const grey = new Uint8Array(n * 64 * 64);
    for (let i = 0; i < grey.length; i++) grey[i] = (i * 2654435761) >>> 24; // every level, scattered
    const chw = (lut?: Float32Array[]) => {
      const f = new Float32Array(n * 3 * 64 * 64);
      for (let k = 0; k < n; k++) greyToCHW({ width: 64, height: 64, data: grey.subarray(k * 4096, (k + 1) * 4096) }, f, k * 3 * 4096, lut);
      return f;
    };
    const model = await loadModel(openaiDir);
    const mean = [0.5, 0.4, 0.3];
    const std = [0.2, 0.25, 0.3];
    const own = await loadModel(openaiDir, { mean, std });
    try {
      const a = await model.encodeImages(grey, [n, 64, 64]);
      const b = await model.encodeImages(chw(), [n, 3, 64, 64]);
      assert.deepStrictEqual(a.shape, [n, 64]);
      assert.deepStrictEqual(Array.from(a.data), Array.from(b.data));
      const la = await model.logits(grey, [n, 64, 64], io.tokens32, [4, 77]);
      const lb = await model.logits(chw(), [n, 3, 64, 64], io.tokens32, [4, 77]);
      assert.deepStrictEqual(Array.from(la.data), Array.from(lb.data));
      // a model loaded with other constants normalises with those
      const c = await own.encodeImages(grey, [n, 64, 64]);
      assert.deepStrictEqual(Array.from(c.data), Array.from((await own.encodeImages(chw(normalizeLut({ mean, std })), [n, 3, 64, 64])).data));
      assert.notDeepStrictEqual(Array.from(c.data), Array.from(a.data));
    } finally {
      model.dispose();
      own.dispose();
    }
  });

  it('rejects bad inputs with coded errors', async () => {
    const model = await loadModel(openaiDir);
    try {
      await rejectsWith(model.encodeImages(new Float32Array(3 * 32 * 32), [1, 3, 32, 32]), 'XT_SHAPE', /\[n, 3, 64, 64\]/);
      await rejectsWith(model.encodeImages(new Float32Array(10), [1, 3, 64, 64]), 'XT_SHAPE');
      await rejectsWith(model.encodeImages(new Float64Array(3 * 64 * 64) as unknown as Float32Array, [1, 3, 64, 64]), 'XT_INVALID');
      await rejectsWith(model.encodeImages(new Float32Array(3 * 64 * 64), [1, 3, 64]), 'XT_SHAPE');
      await rejectsWith(model.encodeTokens(new Int32Array(78), [1, 78]), 'XT_SHAPE', /L <= 77/);
      await rejectsWith(model.encodeTokens(Int32Array.of(49406, 49408, 0), [1, 3]), 'XT_INVALID', /\[0, 49408\)/);
      await rejectsWith(model.encodeTokens(Int32Array.of(-1, 5), [1, 2]), 'XT_INVALID');
      await rejectsWith(model.encodeTokens(new Float32Array(4) as unknown as Int32Array, [1, 4]), 'XT_INVALID');
      await rejectsWith(model.save(''), 'XT_INVALID');
      await rejectsWith(model.save('/tmp/x', { layout: 'nope' as never }), 'XT_INVALID');
      await rejectsWith(model.getParameter('no.such'), 'XT_INVALID', /no parameter named/);
      const empty = await model.encodeImages(new Float32Array(0), [0, 3, 64, 64]);
      assert.deepStrictEqual(empty.shape, [0, 64]);
      // 8-bit grey input: [n, R, R]
      await rejectsWith(model.encodeImages(new Uint8Array(3 * 64 * 64), [1, 3, 64, 64]), 'XT_SHAPE');
      await rejectsWith(model.encodeImages(new Uint8Array(32 * 32), [1, 32, 32]), 'XT_SHAPE', /Uint8Array\) need shape \[n, 64, 64\]/);
      await rejectsWith(model.encodeImages(new Uint8Array(10), [1, 64, 64]), 'XT_SHAPE', /10 pixels do not fit/);
      await rejectsWith(model.encodeImages(new Int32Array(64 * 64) as unknown as Uint8Array, [1, 3, 64, 64]), 'XT_INVALID', /Uint8Array \[n, H, W\] of 8-bit grey/);
      await rejectsWith(model.logits(new Uint8Array(64 * 64), [1, 64, 64], io.tokens32, [4, 76]), 'XT_SHAPE');
      assert.deepStrictEqual((await model.encodeImages(new Uint8Array(0), [0, 64, 64])).shape, [0, 64]);
      await rejectsWith(loadModel(openaiDir, { mean: [0.5, 0.5] }), 'XT_INVALID', /mean must be an array of 3 finite numbers/);
      await rejectsWith(loadModel(openaiDir, { std: [0.5, 0, 0.5] }), 'XT_INVALID', /std must be an array of 3 finite numbers .* > 0/);
    } finally {
      model.dispose();
    }
  });

  describe('presets and random init', () => {
    it('lists the presets and their configurations', () => {
      assert.deepStrictEqual(ClipModel.presets(), ['ViT-B-32', 'ViT-B-16', 'ViT-L-14', 'tiny', 'small']);
      const b32 = native().clipPresetConfig('ViT-B-32');
      assert.deepStrictEqual([b32.embedDim, b32.visionWidth, b32.visionLayers, b32.visionHeads, b32.visionPatchSize, b32.imageResolution],
        [512, 768, 12, 12, 32, 224]);
      assert.deepStrictEqual([b32.textWidth, b32.textHeads, b32.textLayers, b32.contextLength, b32.vocabSize], [512, 8, 12, 77, 49408]);
      const l14 = native().clipPresetConfig('ViT-L/14');
      assert.deepStrictEqual([l14.embedDim, l14.visionWidth, l14.visionLayers, l14.visionHeads, l14.visionPatchSize, l14.textWidth, l14.textHeads],
        [768, 1024, 24, 16, 14, 768, 12]);
      assert.strictEqual(native().clipPresetConfig('ViT-B-16').visionPatchSize, 16);
      assert.throws(() => native().clipPresetConfig('ViT-H-14'), (e: Error & { code: string }) => e.code === 'XT_INVALID' && /known: ViT-B-32/.test(e.message));
    });

    it('creates deterministic models with CLIP\'s init scheme', async () => {
      const a = await ClipModel.create('tiny', { seed: 7 });
      const b = await ClipModel.create('tiny', { seed: 7 });
      const c = await ClipModel.create('tiny', { seed: 8, imageSize: 96 });
      try {
        assert.strictEqual(a.format, 'random');
        assert.strictEqual(c.config.imageResolution, 96);
        const pa = await a.getParameter('transformer.resblocks.0.attn.in_proj_weight');
        const pb = await b.getParameter('transformer.resblocks.0.attn.in_proj_weight');
        const pc = await c.getParameter('transformer.resblocks.0.attn.in_proj_weight');
        assert.deepStrictEqual(Array.from(pa.data), Array.from(pb.data));
        assert.notDeepStrictEqual(Array.from(pa.data.subarray(0, 10)), Array.from(pc.data.subarray(0, 10)));
        assert.deepStrictEqual((await c.getParameter('visual.positional_embedding')).shape, [37, 128]);
        const std = (x: Float32Array): number => {
          let s = 0;
          let s2 = 0;
          for (const v of x) {
            s += v;
            s2 += v * v;
          }
          const m = s / x.length;
          return Math.sqrt(s2 / x.length - m * m);
        };
        const W = 128;
        const L = 2;
        const expectStd = async (name: string, want: number): Promise<void> => {
          const got = std((await a.getParameter(name)).data);
          assert.ok(Math.abs(got - want) / want < 0.05, `${name}: std ${got} vs ${want}`);
        };
        await expectStd('token_embedding.weight', 0.02);
        await expectStd('positional_embedding', 0.01);
        await expectStd('transformer.resblocks.0.attn.in_proj_weight', W ** -0.5);
        await expectStd('transformer.resblocks.1.attn.out_proj.weight', W ** -0.5 * (2 * L) ** -0.5);
        await expectStd('transformer.resblocks.0.mlp.c_fc.weight', (2 * W) ** -0.5);
        await expectStd('transformer.resblocks.0.mlp.c_proj.weight', W ** -0.5 * (2 * L) ** -0.5);
        await expectStd('text_projection', W ** -0.5);
        await expectStd('visual.proj', W ** -0.5);
        await expectStd('visual.class_embedding', W ** -0.5 * 1); // scale * randn, 128 samples: loose
        // vision blocks keep nn.MultiheadAttention's xavier_uniform: std = sqrt(2 / (W + 3W))
        await expectStd('visual.transformer.resblocks.0.attn.in_proj_weight', Math.sqrt(2 / (4 * W)));
        assert.deepStrictEqual(Array.from((await a.getParameter('ln_final.weight')).data), new Array(W).fill(1));
        assert.ok(Math.abs(a.logitScale - 1 / 0.07) < 1e-4, `logit scale ${a.logitScale}`);
        const img = await a.encodeImages(new Float32Array(2 * 3 * 64 * 64).fill(0.5), [2, 3, 64, 64]);
        assert.ok(img.data.every(Number.isFinite));
      } finally {
        a.dispose();
        b.dispose();
        c.dispose();
      }
      const small = await ClipModel.create('tiny', { seed: 3, vocabSize: 1000, contextLength: 32 });
      try {
        assert.deepStrictEqual([small.config.vocabSize, small.config.contextLength], [1000, 32]);
        assert.deepStrictEqual((await small.getParameter('token_embedding.weight')).shape, [1000, 128]);
        const t = await small.encodeTokens(Int32Array.from({ length: 64 }, (_, i) => (i * 37) % 999), [2, 32]);
        assert.deepStrictEqual(t.shape, [2, 64]);
        await rejectsWith(small.encodeTokens(Int32Array.of(1, 1000), [1, 2]), 'XT_INVALID', /\[0, 1000\)/);
      } finally {
        small.dispose();
      }
      await rejectsWith(ClipModel.create('tiny', { imageSize: 70 }), 'XT_INVALID', /multiple of vision_patch_size/);
      await rejectsWith(ClipModel.create('nope'), 'XT_INVALID', /unknown CLIP preset/);
      await rejectsWith(ClipModel.create('tiny', { seed: -1 }), 'XT_INVALID');
      await rejectsWith(ClipModel.create('tiny', { device: 'tpu' }), 'XT_INVALID');
    });
  });

  it('is autograd-capable: gradients reach every parameter and agree with finite differences', async () => {
    const model = await loadModel(openaiDir);
    try {
      const r = await hooks().clipGradients(model.native, io.images, [4, 3, 64, 64], io.tokens32, [4, 77]);
      assert.deepStrictEqual(r.withoutGradient, []);
      assert.ok(Number.isFinite(r.loss) && r.loss > 0);
      // the autograd path (out of place) and the fused inference path compute the same logits
      assert.ok(r.maxLogitDiff < 1e-4, `autograd vs inference logits differ by ${r.maxLogitDiff}`);
      for (const p of r.probes) {
        const scale = Math.max(Math.abs(p.autograd), Math.abs(p.numeric), 1e-3);
        assert.ok(Math.abs(p.autograd - p.numeric) / scale < 0.05, `${p.name}[${p.index}]: autograd ${p.autograd} vs numeric ${p.numeric}`);
      }
      // gradients were cleared and the model still gives the same embeddings
      await checkParity(model, 'after backward');
    } finally {
      model.dispose();
    }
  });

  describe('concurrency and dispose', () => {
    it('serves concurrent calls on one model correctly', async () => {
      const model = await loadModel(openaiDir);
      try {
        const one = (i: number): Float32Array => io.images.slice(i * 3 * 64 * 64, (i + 1) * 3 * 64 * 64);
        const seqImg = await Promise.all([0, 1, 2, 3].map(async (i) => (await model.encodeImages(one(i), [1, 3, 64, 64])).data));
        const dir = tmpDir('conc');
        try {
          const jobs: Promise<unknown>[] = [];
          for (let k = 0; k < 3; k++) {
            for (let i = 0; i < 4; i++) jobs.push(model.encodeImages(one(i), [1, 3, 64, 64]).then((r) => assert.deepStrictEqual(Array.from(r.data), Array.from(seqImg[i]))));
            jobs.push(model.encodeTokens(io.tokens32, [4, 77]).then((r) => assertClose(r.data, io.textEmbeds, TOL, 'concurrent text')));
            jobs.push(model.save(path.join(dir, `c${k}.safetensors`)));
          }
          await Promise.all(jobs);
          assert.strictEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.safetensors')).length, 3);
        } finally {
          rmDir(dir);
        }
      } finally {
        model.dispose();
      }
    });

    it('throws XT_DISPOSED after dispose, and dispose during a call is safe', async () => {
      const model = await loadModel(openaiDir);
      const inflight = model.encodeImages(io.images, [4, 3, 64, 64]);
      const queued = model.encodeTokens(io.tokens32, [4, 77]);
      model.dispose();
      model.dispose(); // idempotent
      assert.strictEqual(model.disposed, true);
      // a call already running finishes correctly; one still waiting is refused
      const settled = await Promise.allSettled([inflight, queued]);
      for (const s of settled) {
        if (s.status === 'fulfilled') assert.strictEqual(s.value.data.length, 4 * 64);
        else assert.strictEqual((s.reason as { code: string }).code, 'XT_DISPOSED');
      }
      await rejectsWith(model.encodeImages(io.images, [4, 3, 64, 64]), 'XT_DISPOSED', /dispose/);
      await rejectsWith(model.encodeTokens(io.tokens32, [4, 77]), 'XT_DISPOSED');
      await rejectsWith(model.save(tmpDir('x')), 'XT_DISPOSED');
      await rejectsWith(model.getParameter('logit_scale'), 'XT_DISPOSED');
      assert.throws(() => model.parameterNames(), (e: Error & { code: string }) => e.code === 'XT_DISPOSED');
      assert.strictEqual(model.config.embedDim, 64); // facts stay readable
    });
  });
});
