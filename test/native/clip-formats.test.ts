/**
 * Every weight format the loader auto-detects, each checked against reference outputs:
 *  (a) OpenAI names in safetensors: fp16 (shared fixture), fp32 and bf16 copies made here;
 *  (b) an OpenAI-style TorchScript archive: test/fixtures/clip/micro-openai-jit.pt, built by
 *      test/fixtures/clip/make_fixtures.py (Debian python3-torch: torch.jit.trace_module of OpenAI's
 *      CLIP code, fp16, with the input_resolution/context_length/vocab_size buffers);
 *  (c) Hugging Face folders: the shared fixture, and a sharded copy (model.safetensors.index.json);
 *  (d) open_clip: test/fixtures/clip/micro-open_clip.pt (torch.save zip: epoch, name, an
 *      argparse.Namespace, state_dict under "state_dict" with "module." prefixes in bf16, AdamW
 *      state), and an open_clip-named safetensors copy of the shared fixture;
 *  (e) our checkpoints (also in clip.test.ts);
 * plus conversion (convert --to hf|openai), dtype options, and mismatch errors.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { native } from '../../lib/native';
import { ClipModel, loadModel } from '../../lib/model/clip';
import { convertWeights } from '../../lib/model/convert';
import { main as cliMain } from '../../lib/cli/main';
import { repoRoot, requireShared } from '../helpers/shared';
import {
  asBigInt64, asFloat32, asFloat64, assertClose, entry, f16BytesToBf16, f16BytesToF32, readSt, rejectsWith, rmDir, tmpDir,
  writeSt,
} from '../helpers/clip';
import type { StEntry } from '../helpers/clip';

const TOL = 1e-4;
const FIX = path.join(repoRoot, 'test', 'fixtures', 'clip');

describe('CLIP weight formats (native)', function () {
  this.timeout(300000);
  let work: string;
  let openaiFile: string;
  let hfDir: string;
  let images: Float32Array;
  let tokens: Int32Array;
  let imageEmbeds: Float64Array;
  let textEmbeds: Float64Array;

  before(function () {
    const ioFile = requireShared(this, 'fixtures', 'clip-tiny', 'io.safetensors');
    openaiFile = requireShared(this, 'fixtures', 'clip-tiny', 'openai', 'model.safetensors');
    hfDir = requireShared(this, 'fixtures', 'clip-tiny', 'hf');
    const io = readSt(ioFile);
    images = asFloat32(entry(io, 'images'));
    tokens = Int32Array.from(asBigInt64(entry(io, 'tokens')), (x) => Number(x));
    imageEmbeds = asFloat64(entry(io, 'image_embeds'));
    textEmbeds = asFloat64(entry(io, 'text_embeds'));
    work = tmpDir('formats');
  });
  after(() => rmDir(work));

  async function parity(source: string, format: string, storage: string, tol = TOL): Promise<void> {
    const m = await loadModel(source);
    try {
      assert.strictEqual(m.format, format);
      assert.strictEqual(m.storageDtype, storage);
      assertClose((await m.encodeImages(images, [4, 3, 64, 64])).data, imageEmbeds, tol, `${format} image`);
      assertClose((await m.encodeTokens(tokens, [4, 77])).data, textEmbeds, tol, `${format} text`);
    } finally {
      m.dispose();
    }
  }

  describe('micro fixtures made by make_fixtures.py', () => {
    let exp: ReturnType<typeof readSt>;
    let mImages: Float32Array;
    let mTokens: Int32Array;
    before(() => {
      exp = readSt(path.join(FIX, 'micro-expected.safetensors'));
      mImages = asFloat32(entry(exp, 'images'));
      mTokens = Int32Array.from(asBigInt64(entry(exp, 'tokens')), (x) => Number(x));
    });

    async function microParity(file: string, key: string, format: string, storage: string): Promise<void> {
      const m = await loadModel(file);
      try {
        assert.strictEqual(m.format, format);
        assert.strictEqual(m.storageDtype, storage);
        const c = m.config;
        assert.deepStrictEqual([c.embedDim, c.imageResolution, c.visionWidth, c.visionHeads, c.visionLayers, c.visionPatchSize, c.contextLength, c.vocabSize, c.textWidth, c.textHeads, c.textLayers],
          [32, 16, 64, 1, 1, 8, 8, 64, 64, 1, 1]);
        assertClose((await m.encodeImages(mImages, [2, 3, 16, 16])).data, asFloat64(entry(exp, `${key}.image_embeds`)), TOL, `${key} image`);
        assertClose((await m.encodeTokens(mTokens, [2, 8])).data, asFloat64(entry(exp, `${key}.text_embeds`)), TOL, `${key} text`);
        assertClose((await m.logits(mImages, [2, 3, 16, 16], mTokens, [2, 8])).data, asFloat64(entry(exp, `${key}.logits_per_image`)), TOL, `${key} logits`);
      } finally {
        m.dispose();
      }
    }

    it('(b) loads an OpenAI TorchScript archive (fp16) and matches the reference', async () => {
      await microParity(path.join(FIX, 'micro-openai-jit.pt'), 'torchscript', 'torchscript', 'float16');
      const info = await ClipModel.inspect(path.join(FIX, 'micro-openai-jit.pt'));
      assert.deepStrictEqual([...info.ignored].sort(), ['context_length', 'input_resolution', 'vocab_size']);
    });

    it('(d) loads an open_clip torch.save checkpoint (state_dict, module. prefix, bf16, extra objects)', async () => {
      await microParity(path.join(FIX, 'micro-open_clip.pt'), 'open_clip', 'open_clip', 'bfloat16');
    });

    it('rejects truncated and corrupt torch archives with XT_IO', async () => {
      const src = fs.readFileSync(path.join(FIX, 'micro-open_clip.pt'));
      for (const [name, bytes] of [
        ['trunc-half.pt', src.subarray(0, src.length >> 1)],
        ['trunc-tail.pt', src.subarray(0, src.length - 30)],
        ['legacy.pt', Buffer.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc])],
        ['garbage.pt', Buffer.from('not a checkpoint at all')],
      ] as const) {
        const f = path.join(work, name);
        fs.writeFileSync(f, bytes);
        await rejectsWith(loadModel(f), 'XT_IO', new RegExp(name.replace('.', '\\.')));
      }
      const jit = fs.readFileSync(path.join(FIX, 'micro-openai-jit.pt'));
      const f = path.join(work, 'jit-trunc.pt');
      fs.writeFileSync(f, jit.subarray(0, jit.length - 100));
      await rejectsWith(loadModel(f), 'XT_IO');
    });
  });

  it('(a) OpenAI names in fp32 and bf16 safetensors', async () => {
    const st = readSt(openaiFile);
    const f32 = path.join(work, 'openai-f32.safetensors');
    writeSt(f32, st.entries.map((e) => (e.dtype === 'F16' ? { ...e, dtype: 'F32', bytes: f16BytesToF32(e.bytes) } : e)));
    await parity(f32, 'openai', 'float32');

    const bf = path.join(work, 'openai-bf16.safetensors');
    const exact: Record<string, Float32Array> = {};
    writeSt(bf, st.entries.map((e) => {
      if (e.dtype !== 'F16') return e;
      const c = f16BytesToBf16(e.bytes);
      exact[e.name] = c.values;
      return { ...e, dtype: 'BF16', bytes: c.bytes };
    }));
    const m = await loadModel(bf);
    try {
      assert.strictEqual(m.storageDtype, 'bfloat16');
      for (const name of ['visual.conv1.weight', 'transformer.resblocks.1.mlp.c_proj.bias', 'token_embedding.weight']) {
        const p = await m.getParameter(name);
        assert.deepStrictEqual(Array.from(p.data), Array.from(exact[name]), `${name} converted exactly`);
      }
      // bf16-rounded weights: close to the fp16 reference, not within 1e-4
      assertClose((await m.encodeImages(images, [4, 3, 64, 64])).data, imageEmbeds, 0.1, 'bf16 image');
    } finally {
      m.dispose();
    }
  });

  it('(c) loads a sharded Hugging Face folder (model.safetensors.index.json)', async () => {
    const dir = path.join(work, 'hf-sharded');
    fs.mkdirSync(dir);
    const st = readSt(path.join(hfDir, 'model.safetensors'));
    const a = st.entries.filter((e) => e.name.startsWith('text_model.'));
    const b = st.entries.filter((e) => !e.name.startsWith('text_model.'));
    writeSt(path.join(dir, 'model-00001-of-00002.safetensors'), a, { format: 'pt' });
    writeSt(path.join(dir, 'model-00002-of-00002.safetensors'), b, { format: 'pt' });
    const weightMap: Record<string, string> = {};
    for (const e of a) weightMap[e.name] = 'model-00001-of-00002.safetensors';
    for (const e of b) weightMap[e.name] = 'model-00002-of-00002.safetensors';
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
    fs.copyFileSync(path.join(hfDir, 'config.json'), path.join(dir, 'config.json'));
    await parity(dir, 'hf', 'float16');

    // an index naming a tensor its shard lacks
    const bad = path.join(work, 'hf-sharded-bad');
    fs.mkdirSync(bad);
    for (const f of fs.readdirSync(dir)) fs.copyFileSync(path.join(dir, f), path.join(bad, f));
    weightMap['text_model.final_layer_norm.bias'] = 'model-00002-of-00002.safetensors';
    fs.writeFileSync(path.join(bad, 'model.safetensors.index.json'), JSON.stringify({ weight_map: weightMap }));
    await rejectsWith(loadModel(bad), 'XT_IO', /final_layer_norm\.bias.*not in this shard/);
  });

  it('(c) checks config.json against the weights', async () => {
    const dir = path.join(work, 'hf-badcfg');
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(hfDir, 'model.safetensors'), path.join(dir, 'model.safetensors'));
    const cfg = JSON.parse(fs.readFileSync(path.join(hfDir, 'config.json'), 'utf8'));
    cfg.vision_config.patch_size = 32;
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
    await rejectsWith(loadModel(dir), 'XT_IO', /patch_size 32 vs 16/);
  });

  it('(d) open_clip-style safetensors (module. prefix) and a nested torch.save are detected', async () => {
    const st = readSt(openaiFile);
    const dir = path.join(work, 'oc');
    fs.mkdirSync(dir);
    writeSt(path.join(dir, 'open_clip_model.safetensors'), st.entries.map((e) => ({ ...e, name: `module.${e.name}` })));
    await parity(dir, 'open_clip', 'float16');
  });

  it('converts between layouts (convert --to hf|openai) without changing a bit', async () => {
    const hfOut = path.join(work, 'conv-hf');
    const r = await convertWeights(path.dirname(openaiFile), hfOut, 'hf');
    assert.strictEqual(r.dtype, 'float16'); // the source precision is kept
    assert.strictEqual(r.from, 'openai');
    const cfg = JSON.parse(fs.readFileSync(path.join(hfOut, 'config.json'), 'utf8'));
    assert.strictEqual(cfg.vision_config.num_attention_heads, 2);
    assert.strictEqual(cfg.text_config.hidden_act, 'quick_gelu');
    assert.deepStrictEqual([cfg.text_config.bos_token_id, cfg.text_config.eos_token_id], [49406, 49407]);
    const hfSt = readSt(path.join(hfOut, 'model.safetensors'));
    const refHf = readSt(path.join(hfDir, 'model.safetensors'));
    assert.strictEqual(hfSt.metadata?.format, 'pt');
    // same tensor names, shapes and bytes as the reference HF export
    const byName = new Map(hfSt.entries.map((e) => [e.name, e] as [string, StEntry]));
    for (const e of refHf.entries) {
      const g = byName.get(e.name);
      assert.ok(g, `missing ${e.name}`);
      assert.deepStrictEqual(g!.shape, e.shape, e.name);
      assert.strictEqual(g!.dtype, e.dtype, e.name);
      assert.ok(g!.bytes.equals(e.bytes), `${e.name} bytes differ`);
    }
    assert.strictEqual(hfSt.entries.length, refHf.entries.length);

    // back to OpenAI names through the CLI, from the HF folder
    const oaOut = path.join(work, 'conv-openai');
    const lines: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    (process.stdout as unknown as { write: (s: string) => boolean }).write = (s: string) => (lines.push(s), true);
    try {
      await cliMain(['convert', hfOut, oaOut, '--to', 'openai']);
    } finally {
      (process.stdout as unknown as { write: typeof write }).write = write;
    }
    assert.match(lines.join(''), /converted .*conv-hf \(hf, float16\) -> .*conv-openai\/model\.safetensors \(openai, float16\)/);
    const oaSt = readSt(path.join(oaOut, 'model.safetensors'));
    const ref = readSt(openaiFile);
    for (const e of ref.entries) {
      const g = oaSt.entries.find((x) => x.name === e.name);
      assert.ok(g && g.bytes.equals(e.bytes) && g.dtype === e.dtype, `${e.name} round trip`);
    }
    await parity(oaOut, 'openai', 'float16');

    // explicit dtype
    const f32Out = path.join(work, 'conv-f32.safetensors');
    await convertWeights(hfDir, f32Out, 'openai', 'float32');
    assert.ok(readSt(f32Out).entries.every((e) => e.dtype === 'F32'));
    await rejectsWith(convertWeights(hfDir, path.join(work, 'x.safetensors'), 'hf'), 'XT_INVALID', /folder/);
  });

  it('loads with dtype float16 / bfloat16 and on devices it can use', async () => {
    const bf = await loadModel(hfDir, { dtype: 'bfloat16' });
    try {
      assert.strictEqual(bf.dtype, 'bfloat16');
      assertClose((await bf.encodeImages(images, [4, 3, 64, 64])).data, imageEmbeds, 0.1, 'bf16 compute');
    } finally {
      bf.dispose();
    }
    const h = await loadModel(hfDir, { dtype: 'float16' });
    try {
      assert.strictEqual(h.dtype, 'float16');
      if (native().runtimeInfo().torchVersion.startsWith('1.') && h.device === 'cpu') {
        // LibTorch 1.13 has no float16 CPU kernels for these ops: a clear refusal, not an internal error
        await rejectsWith(h.encodeImages(images, [4, 3, 64, 64]), 'XT_INVALID', /float16 inference on the CPU/);
      } else {
        assertClose((await h.encodeImages(images, [4, 3, 64, 64])).data, imageEmbeds, 0.05, 'fp16 compute');
      }
      const p = await h.getParameter('visual.proj');
      const ref = readSt(openaiFile);
      assert.deepStrictEqual(Array.from(p.data), Array.from(asFloat32(entry(ref, 'visual.proj'))));
    } finally {
      h.dispose();
    }
    await rejectsWith(loadModel(hfDir, { dtype: 'int8' as never }), 'XT_INVALID', /dtype/);
    await rejectsWith(loadModel(hfDir, { device: 'cuda:7' }), ['XT_CUDA']);
  });

  it('reports missing, unexpected and mis-shaped tensors in one error', async () => {
    const st = readSt(openaiFile);
    const f1 = path.join(work, 'missing.safetensors');
    writeSt(f1, [...st.entries.filter((e) => e.name !== 'visual.ln_post.bias' && e.name !== 'ln_final.bias'),
      { name: 'visual.extra_head.weight', dtype: 'F16', shape: [2], bytes: Buffer.alloc(4) }]);
    const e1 = await rejectsWith(loadModel(f1), 'XT_IO');
    assert.match(e1.message, /missing tensors \(2\): .*ln_final\.bias/);
    assert.match(e1.message, /visual\.ln_post\.bias/);
    assert.match(e1.message, /unexpected tensors \(1\): visual\.extra_head\.weight/);
    assert.ok(e1.message.includes(f1));

    const f2 = path.join(work, 'shape.safetensors');
    writeSt(f2, st.entries.map((e) => (e.name === 'visual.ln_post.bias' ? { ...e, shape: [64], bytes: e.bytes.subarray(0, 128) } : e)));
    await rejectsWith(loadModel(f2), 'XT_SHAPE', /wrong shapes \(1\): visual\.ln_post\.bias \(checkpoint \[64\], model \[128\]\)/);

    const f3 = path.join(work, 'notclip.safetensors');
    writeSt(f3, [{ name: 'weight', dtype: 'F32', shape: [1], bytes: Buffer.alloc(4) }]);
    await rejectsWith(loadModel(f3), 'XT_IO', /not a CLIP ViT state dict/);

    await rejectsWith(loadModel(path.join(work, 'does-not-exist')), 'XT_IO', /no such file/);
    const empty = path.join(work, 'empty-dir');
    fs.mkdirSync(empty);
    await rejectsWith(loadModel(empty), 'XT_IO', /no CLIP weights found/);
  });
});
