/**
 * Weights with no tokenizer beside them (issue 15, defect 4): OpenAI-layout weights with a 49,408-token
 * vocabulary get OpenAI's BPE vocabulary bundled in vocab/, as OpenAI's clip and open_clip packages ship it;
 * `embed --texts` works through the CLI and tokenises exactly as OpenAI's reference does. A model whose
 * vocabulary is some other size and that has no tokenizer still stops with a clear error.
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadModel } from '../../lib/model/clip';
import { bundledVocabDir, OPENAI_VOCAB_FILE } from '../../lib/text/bundled-vocab';
import { repoRoot, requireShared } from '../helpers/shared';

const BIN = path.join(repoRoot, 'bin', 'xray-torch.js');
const VOCAB_SHA256 = '924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a';

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 300000, env: { ...process.env, XRAY_TORCH_THREADS: '1' } });
}

interface Case {
  text: string;
  ids: number[];
  tokens77: number[];
}

describe('the bundled OpenAI CLIP vocabulary (weights without a tokenizer)', function () {
  this.timeout(300000);
  let work: string;
  let weights: string;
  let cases: Case[];

  before(function () {
    const src = requireShared(this as unknown as Mocha.Context, 'fixtures', 'clip-tiny', 'openai', 'model.safetensors');
    const jsonl = requireShared(this as unknown as Mocha.Context, 'fixtures', 'tokenizer', 'clip_bpe_cases.jsonl');
    cases = fs.readFileSync(jsonl, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Case);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'xt-bundled-vocab-'));
    // alone in a folder of its own: nothing beside it
    weights = path.join(work, 'openai', 'ViT-tiny.safetensors');
    fs.mkdirSync(path.dirname(weights));
    fs.copyFileSync(src, weights);
  });

  after(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('ships OpenAI\'s merges file (sha256 as published) with its MIT license, in the package folder vocab/', () => {
    const dir = bundledVocabDir();
    assert.equal(dir, path.join(repoRoot, 'vocab'));
    assert.equal(createHash('sha256').update(fs.readFileSync(path.join(dir, OPENAI_VOCAB_FILE))).digest('hex'), VOCAB_SHA256);
    assert.match(fs.readFileSync(path.join(dir, 'LICENSE'), 'utf8'), /MIT License[\s\S]*OpenAI/);
    const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
    assert.ok(pkg.files.includes('vocab/'), `package.json files: ${pkg.files.join(', ')}`);
  });

  it('loadModel attaches it to OpenAI-layout safetensors with no tokenizer, and it tokenises as OpenAI does', async () => {
    const model = await loadModel(weights);
    try {
      assert.equal(model.config.vocabSize, 49408);
      assert.equal(model.tokenizerSource, 'bundled');
      assert.ok(model.tokenizer);
      assert.equal(model.tokenizer!.vocabSize, 49408);
      const got = model.tokenizer!.tokenize(cases.map((c) => c.text), 77);
      cases.forEach((c, i) => assert.deepEqual(Array.from(got.subarray(i * 77, (i + 1) * 77)), c.tokens77, c.text));
      // saved as a folder, the model carries the vocabulary beside its weights from then on
      const out = path.join(work, 'saved');
      await model.save(out);
      assert.ok(fs.existsSync(path.join(out, OPENAI_VOCAB_FILE)));
      const again = await loadModel(out);
      try {
        assert.equal(again.tokenizerSource, 'files');
        assert.deepEqual(Array.from(again.tokenizer!.tokenize(cases[0].text, 77)), cases[0].tokens77);
      } finally {
        again.dispose();
      }
    } finally {
      model.dispose();
    }
    const bare = await loadModel(weights, { tokenizer: false });
    assert.equal(bare.tokenizer, undefined);
    assert.equal(bare.tokenizerSource, undefined);
    bare.dispose();
  });

  it('CLI `embed --model FILE --texts` works and its embeddings are those of the reference token ids', async () => {
    const picked = [cases[0], cases[1], cases.find((c) => c.ids.length > 75) ?? cases[2], cases[cases.length - 1]];
    const out = path.join(work, 'texts.json');
    const r = cli(['embed', '--model', weights, '--texts', ...picked.map((c) => c.text), '--no-normalize', '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /no tokenizer beside the weights; using the bundled OpenAI CLIP vocabulary/);
    const doc = JSON.parse(fs.readFileSync(out, 'utf8')) as { shape: number[]; embeddings: number[][] };
    // the reference ids (OpenAI's tokenizer) through the same weights
    const model = await loadModel(weights, { tokenizer: false });
    try {
      const ids = Int32Array.from(picked.flatMap((c) => c.tokens77));
      const want = await model.encodeTokens(ids, [picked.length, 77]);
      assert.deepEqual(doc.shape, want.shape);
      const d = want.shape[1];
      const scale = Math.max(...Array.from(want.data, Math.abs));
      // fp32 on another thread count (the CLI runs single-threaded): the same within 1e-4 of the largest value
      let worst = 0;
      for (let i = 0; i < picked.length; i++) {
        for (let k = 0; k < d; k++) worst = Math.max(worst, Math.abs(doc.embeddings[i][k] - want.data[i * d + k]));
      }
      assert.ok(worst <= 1e-4 * scale, `max |CLI - reference| ${worst} (largest value ${scale})`);
      // one token off (the last id before the end token replaced) moves the embedding far beyond that
      const off = Int32Array.from(picked[1].tokens77);
      const end = off.indexOf(49407);
      off[end - 1] = off[end - 1] === 269 ? 267 : 269;
      const moved = await model.encodeTokens(off, [1, 77]);
      let shift = 0;
      for (let k = 0; k < d; k++) shift = Math.max(shift, Math.abs(moved.data[k] - want.data[d + k]));
      assert.ok(shift > 100 * worst && shift > 1e-3 * scale, `one token off moved the embedding by only ${shift}`);
    } finally {
      model.dispose();
    }
  });

  it('a model whose vocabulary is not 49,408 tokens and has no tokenizer still stops with a clear error', async function () {
    const micro = path.join(repoRoot, 'test', 'fixtures', 'clip', 'micro-openai-jit.pt');
    const pt = path.join(work, 'micro', 'micro-openai-jit.pt');
    fs.mkdirSync(path.dirname(pt));
    fs.copyFileSync(micro, pt);
    const model = await loadModel(pt);
    try {
      assert.equal(model.config.vocabSize, 64);
      assert.equal(model.tokenizer, undefined);
      await assert.rejects(model.encodeTexts(['no effusion']), (e: Error & { code?: string }) =>
        e.code === 'XT_INVALID' && /no tokenizer/.test(e.message) && /64-token vocabulary is not OpenAI's 49408/.test(e.message));
    } finally {
      model.dispose();
    }
    const r = cli(['embed', '--model', pt, '--texts', 'no effusion', '--out', path.join(work, 'x.json')]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no tokenizer.*--tokenizer FILE\|DIR.*\[XT_INVALID\]/);
  });
});
