import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { isXtError } from '../../../lib/native';
import { BPE_BASE_VOCAB, countWords, saveBpeTokenizer, trainBpeTokenizer } from '../../../lib/text/bpe-train';
import { ClipTokenizer, findTokenizer } from '../../../lib/text/clip-tokenizer';
import { readCorpus } from '../../../lib/text/corpus';
import { repoRoot, requireShared } from '../../helpers/shared';

const SENNRICH = ['low '.repeat(5), 'lower '.repeat(2), 'newest '.repeat(6), 'widest '.repeat(3)];

function tmp(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

describe('text: BPE training (tokenizer train)', function () {
  it('learns the textbook merges in order (ties to older symbols) and encodes with them', () => {
    const t = trainBpeTokenizer(SENNRICH, { vocabSize: BPE_BASE_VOCAB + 7 });
    assert.deepEqual(t.merges, [
      ['e', 's'],
      ['es', 't</w>'],
      ['l', 'o'],
      ['e', 'w'],
      ['n', 'ew'],
      ['new', 'est</w>'],
      ['lo', 'w</w>'],
    ]);
    assert.equal(t.vocab.size, BPE_BASE_VOCAB + 7);
    assert.equal(t.vocab.get('e'), 68); // CLIP layout: byte symbols first, '!' = 0
    assert.equal(t.vocab.get('es'), 512);
    assert.equal(t.vocab.get('<|startoftext|>'), 519);
    assert.equal(t.vocab.get('<|endoftext|>'), 520);
    assert.equal(t.words, 4);
    assert.equal(t.wordCount, 16);
    assert.equal(t.stop, 'vocab-size');
    const tok = t.tokenizer;
    const idsOf = (...toks: string[]): number[] => toks.map((s) => t.vocab.get(s) as number);
    assert.deepEqual(tok.encode('Newest LOW lowest'), idsOf('newest</w>', 'low</w>', 'lo', 'w', 'est</w>'));
    assert.deepEqual(Array.from(tok.tokenize(['low'], 4)), [519, t.vocab.get('low</w>'), 520, 0]);
  });

  it('stops at min-frequency when no pair is frequent enough', () => {
    const t = trainBpeTokenizer(SENNRICH, { vocabSize: 5000, minFrequency: 5 });
    assert.equal(t.stop, 'min-frequency');
    assert.deepEqual(t.merges.map((m) => m.join(' ')), ['e s', 'es t</w>', 'l o', 'e w', 'n ew', 'new est</w>', 'lo w</w>']);
    const all = trainBpeTokenizer(SENNRICH, { vocabSize: 5000, minFrequency: 1 });
    assert.equal(all.stop, 'min-frequency');
    // With every pair merged, each distinct word is one token.
    for (const w of ['low', 'lower', 'newest', 'widest']) assert.equal(all.tokenizer.encode(w).length, 1, w);
  });

  it('rejects a vocabulary smaller than the byte symbols + specials', () => {
    assert.throws(
      () => trainBpeTokenizer(SENNRICH, { vocabSize: 513 }),
      (e: unknown) => isXtError(e) && (e as { code: string }).code === 'XT_INVALID' && /vocabSize/.test((e as Error).message),
    );
  });

  it('counts words as CLIP pre-tokenises them (normalised, lower case, specials dropped)', () => {
    const c = countWords(['Heart&amp;lungs: OK.', "heart's <|endoftext|>"]);
    assert.deepEqual([...c.entries()].sort(), [['&', 1], ["'s", 1], ['.', 1], [':', 1], ['heart', 2], ['lungs', 1], ['ok', 1]]);
  });

  it('on all Open-I report text: 4096 tokens in seconds, deterministic, saved and read back identically', function () {
    const tgz = requireShared(this as unknown as Mocha.Context, 'data', 'openi', 'NLMCXR_reports.tgz');
    const { texts, stats } = readCorpus(tgz);
    assert.equal(stats.files, 3955);
    assert.ok(texts.length > 14000 && texts.length < 15820, `${texts.length} texts`);
    const t0 = Date.now();
    const t = trainBpeTokenizer(texts, { vocabSize: 4096 });
    const ms = Date.now() - t0;
    assert.ok(ms < 30000, `training took ${ms} ms`);
    assert.equal(t.vocab.size, 4096);
    assert.equal(t.stop, 'vocab-size');
    // Report words become single tokens.
    for (const w of ['pneumothorax', 'cardiomediastinal', 'effusion', 'atelectasis']) {
      assert.equal(t.tokenizer.encode(w).length, 1, w);
    }
    const sample = texts.filter((_, i) => i % 7 === 0);
    const nTok = sample.reduce((a, s) => a + t.tokenizer.encode(s).length, 0);
    const nBytes = sample.reduce((a, s) => a + Buffer.byteLength(s), 0);
    assert.ok(nTok < nBytes / 4, `${nTok} tokens for ${nBytes} bytes`);

    const again = trainBpeTokenizer(texts, { vocabSize: 4096 });
    assert.deepEqual(again.merges, t.merges);

    const dir = tmp('xt-bpe-');
    try {
      const files = saveBpeTokenizer(t, dir);
      assert.deepEqual(files.map((f) => path.basename(f)), ['vocab.json', 'merges.txt', 'tokenizer_config.json']);
      const fromDir = findTokenizer(dir);
      assert.ok(fromDir);
      assert.equal(fromDir.vocabSize, 4096);
      assert.equal(fromDir.startId, 4094);
      assert.equal(fromDir.endId, 4095);
      const a = fromDir.tokenize(sample, 77);
      const b = t.tokenizer.tokenize(sample, 77);
      assert.deepEqual(Array.from(a), Array.from(b));
      const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
      assert.equal(cfg.bos_token, '<|startoftext|>');
      assert.equal(cfg.xray_torch.vocab_size, 4096);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('CLI: tokenizer train reads a mixed corpus directory and writes a loadable tokenizer', () => {
    const corpus = tmp('xt-corpus-');
    const out = path.join(tmp('xt-out-'), 'model');
    try {
      fs.mkdirSync(path.join(corpus, 'sub'));
      fs.writeFileSync(path.join(corpus, 'a.jsonl'), ['"No pleural effusion."', JSON.stringify({ text: 'Heart size normal.' })].join('\n') + '\n');
      fs.writeFileSync(path.join(corpus, 'sub', 'r1.txt'), 'FINAL REPORT\nFINDINGS: Lungs are clear.\nIMPRESSION: No acute process.\n');
      fs.writeFileSync(
        path.join(corpus, 'sub', 'r2.xml'),
        '<eCitation><Abstract><AbstractText Label="FINDINGS">No pneumothorax.</AbstractText><AbstractText Label="IMPRESSION">Normal chest.</AbstractText></Abstract></eCitation>',
      );
      fs.writeFileSync(path.join(corpus, 'ignored.bin'), Buffer.from([1, 2, 3]));
      const bin = path.join(repoRoot, 'bin', 'xray-torch.js');
      const r = spawnSync(process.execPath, [bin, 'tokenizer', 'train', '--corpus', corpus, '--vocab-size', '600', '--out', out, '--json'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const j = JSON.parse(r.stdout);
      assert.equal(j.corpusFiles, 3);
      assert.equal(j.skippedFiles, 1);
      assert.equal(j.texts, 5);
      assert.equal(j.vocabSize, j.merges + 514);
      assert.equal(j.stop, 'min-frequency');
      const tok = ClipTokenizer.fromFile(out);
      assert.equal(tok.vocabSize, j.vocabSize);
      assert.ok(tok.encode('no').length === 1);
      const enc = spawnSync(process.execPath, [bin, 'tokenizer', 'encode', '--tokenizer', out, 'No effusion.'], { encoding: 'utf8' });
      assert.equal(enc.status, 0, enc.stderr);
      assert.deepEqual(JSON.parse(enc.stdout), tok.encode('No effusion.'));
      const bad = spawnSync(process.execPath, [bin, 'tokenizer', 'train', '--corpus', path.join(corpus, 'nope'), '--vocab-size', '600', '--out', out], { encoding: 'utf8' });
      assert.equal(bad.status, 1);
      assert.match(bad.stderr, /no such file or directory.*\[XT_IO\]/);
    } finally {
      fs.rmSync(corpus, { recursive: true, force: true });
      fs.rmSync(path.dirname(out), { recursive: true, force: true });
    }
  });
});
