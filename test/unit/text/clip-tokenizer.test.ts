import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { isXtError } from '../../../lib/native';
import {
  ClipTokenizer,
  findTokenizer,
  pretokenize,
  pretokenizeRegex,
  bytesToUnicode,
} from '../../../lib/text/clip-tokenizer';
import { repoRoot, requireShared } from '../../helpers/shared';

interface Case {
  text: string;
  ids: number[];
  tokens77: number[];
}

const unicodeCases = JSON.parse(
  fs.readFileSync(path.join(repoRoot, 'test', 'fixtures', 'text', 'clip_unicode_cases.json'), 'utf8'),
) as { ids: Array<{ text: string; ids: number[] }> };

function readCases(file: string): Case[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Case);
}

function checkCases(tok: ClipTokenizer, cases: Case[]): void {
  let bad = 0;
  const first: string[] = [];
  for (const c of cases) {
    const ids = tok.encode(c.text);
    const t77 = Array.from(tok.tokenize([c.text]));
    if (JSON.stringify(ids) !== JSON.stringify(c.ids) || JSON.stringify(t77) !== JSON.stringify(c.tokens77)) {
      bad++;
      if (first.length < 3) first.push(JSON.stringify(c.text).slice(0, 80));
    }
  }
  assert.equal(bad, 0, `${bad} of ${cases.length} cases differ, e.g. ${first.join(' | ')}`);
}

function expectXt(f: () => unknown, code: string, re?: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(isXtError(e), `expected an XtError, got ${String(e)}`);
    assert.equal((e as { code: string }).code, code);
    if (re) assert.match((e as Error).message, re);
    return true;
  });
}

describe('text: ClipTokenizer', function () {
  let cases: Case[];
  let openai: ClipTokenizer;
  let hfDir: string;

  before(function () {
    cases = readCases(requireShared(this as unknown as Mocha.Context, 'fixtures', 'tokenizer', 'clip_bpe_cases.jsonl'));
    openai = ClipTokenizer.fromFile(requireShared(this as unknown as Mocha.Context, 'clip', 'bpe_simple_vocab_16e6.txt.gz'));
    hfDir = requireShared(this as unknown as Mocha.Context, 'fixtures', 'clip-tiny', 'hf');
  });

  it('reproduces all 409 shared cases from OpenAI bpe_simple_vocab_16e6.txt.gz', () => {
    assert.equal(cases.length, 409);
    assert.equal(openai.vocabSize, 49408);
    assert.equal(openai.mergeCount, 48894);
    assert.equal(openai.startId, 49406);
    assert.equal(openai.endId, 49407);
    checkCases(openai, cases);
  });

  it('reproduces them from the Hugging Face checkpoint directory, vocab.json and merges.txt paths', () => {
    for (const p of [hfDir, path.join(hfDir, 'vocab.json'), path.join(hfDir, 'merges.txt')]) {
      const tok = ClipTokenizer.fromFile(p);
      assert.equal(tok.startId, 49406);
      assert.equal(tok.endId, 49407);
      checkCases(tok, cases);
    }
  });

  it('reproduces them from a tokenizer.json (merges as "a b" strings and as pairs)', () => {
    const vocab = JSON.parse(fs.readFileSync(path.join(hfDir, 'vocab.json'), 'utf8')) as Record<string, number>;
    const merges = fs.readFileSync(path.join(hfDir, 'merges.txt'), 'utf8').split('\n').slice(1).filter((l) => l);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xt-tokjson-'));
    try {
      const specials = { '<|startoftext|>': vocab['<|startoftext|>'], '<|endoftext|>': vocab['<|endoftext|>'] };
      const v2 = { ...vocab };
      delete v2['<|startoftext|>'];
      delete v2['<|endoftext|>'];
      const base = { version: '1.0', added_tokens: Object.entries(specials).map(([content, id]) => ({ id, content, special: true })) };
      fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify({ ...base, model: { type: 'BPE', vocab: v2, merges, end_of_word_suffix: '</w>' } }));
      checkCases(ClipTokenizer.fromFile(dir), cases.slice(0, 60));
      const pairs = merges.map((m) => m.split(' '));
      fs.writeFileSync(path.join(dir, 'other.json'), JSON.stringify({ ...base, model: { type: 'BPE', vocab: v2, merges: pairs } }));
      checkCases(ClipTokenizer.fromFile(path.join(dir, 'other.json')), cases.slice(0, 60));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('matches OpenAI + ftfy on non-ASCII, HTML and edge-case text (29 texts)', () => {
    assert.equal(unicodeCases.ids.length, 29);
    for (const c of unicodeCases.ids) assert.deepEqual(openai.encode(c.text), c.ids, JSON.stringify(c.text));
    // Folded ligatures, curly quotes and full-width forms tokenize as their plain spellings.
    assert.deepEqual(openai.encode('\ufb01brosis \u201cno\u201d \uff23\uff34'), openai.encode('fibrosis "no" ct'));
  });

  it('tokenize: [n, L] rows with start, ids, end, zero padding; truncation keeps the end token', () => {
    const texts = ['No acute cardiopulmonary process.', '', 'a '.repeat(200)];
    const t = openai.tokenize(texts, 77);
    assert.equal(t.length, 3 * 77);
    const ids0 = openai.encode(texts[0]);
    assert.deepEqual(Array.from(t.subarray(0, ids0.length + 3)), [49406, ...ids0, 49407, 0]);
    assert.deepEqual(Array.from(t.subarray(77, 80)), [49406, 49407, 0]);
    const row2 = Array.from(t.subarray(154, 231));
    assert.equal(row2[0], 49406);
    assert.equal(row2[76], 49407);
    assert.ok(row2.slice(1, 76).every((v) => v === openai.encode('a')[0]));
    const short = openai.tokenize(texts[0], 4);
    assert.deepEqual(Array.from(short), [49406, ids0[0], ids0[1], 49407]);
    expectXt(() => openai.tokenize(['x'], 1), 'XT_INVALID', /contextLength/);
  });

  it('uses a vocabulary\'s own start/end ids (not 49406/49407) when they differ', () => {
    const table = bytesToUnicode();
    const vocab = new Map<string, number>();
    const syms = [...table];
    syms.forEach((s) => vocab.set(s, vocab.size));
    syms.forEach((s) => vocab.set(s + '</w>', vocab.size));
    vocab.set('n', vocab.get('n')!);
    vocab.set('no</w>', vocab.size);
    vocab.set('<|startoftext|>', vocab.size);
    vocab.set('<|endoftext|>', vocab.size);
    const tok = ClipTokenizer.fromVocab({ vocab, merges: [['n', 'o</w>']] });
    assert.equal(tok.startId, 513);
    assert.equal(tok.endId, 514);
    assert.deepEqual(tok.encode('No no'), [512, 512]);
    assert.deepEqual(Array.from(tok.tokenize(['no'], 5)), [513, 512, 514, 0, 0]);
  });

  it('decode inverts encode up to normalisation (</w> becomes a space)', () => {
    assert.equal(openai.decode(openai.encode('No acute cardiopulmonary process.')), 'no acute cardiopulmonary process . ');
    assert.equal(openai.decode(openai.encode('Größe 3,5 cm')), 'größe 3 , 5 cm ');
    assert.equal(openai.decode([49406, 49407]), '<|startoftext|><|endoftext|>');
  });

  it('case, spacing and special tokens: folded ASCII path equals the normalised path', () => {
    assert.deepEqual(openai.encode('PA AND LATERAL'), openai.encode('pa and lateral'));
    assert.deepEqual(openai.encode("IT'S"), openai.encode("it's"));
    assert.deepEqual(openai.encode('<|startoftext|>x<|ENDOFTEXT|>'), [49406, 343, 49407]);
    assert.deepEqual(openai.encode('  a\t\nb  '), openai.encode('a b'));
    assert.equal(openai.countTokens('No acute disease.'), openai.encode('No acute disease.').length);
  });

  it('pretokenize: the ASCII scanner agrees with the regular expression on random text', () => {
    const alphabet = "ab XY'srtevmld<|>startofendx.,;:-_/0123456789\t!?()\"&#";
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    for (let k = 0; k < 3000; k++) {
      let s = '';
      const len = rnd(40);
      for (let i = 0; i < len; i++) s += rnd(10) === 0 ? (rnd(2) ? '<|startoftext|>' : "'re") : alphabet[rnd(alphabet.length)];
      const t = s.toLowerCase();
      assert.deepEqual(pretokenize(t), pretokenizeRegex(t), JSON.stringify(t));
    }
    assert.deepEqual(pretokenize("he's 3.5cm, x-ray's <|endoftext|>!!"), ['he', "'s", '3', '.', '5', 'cm', ',', 'x', '-', 'ray', "'s", '<|endoftext|>', '!!']);
    assert.deepEqual(pretokenize(".'s"), [".'", 's']);
  });

  it('findTokenizer: a checkpoint directory has one, an empty directory none', () => {
    assert.ok(findTokenizer(hfDir) instanceof ClipTokenizer);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xt-notok-'));
    try {
      assert.equal(findTokenizer(dir), undefined);
      expectXt(() => ClipTokenizer.fromFile(dir), 'XT_IO', /holds no tokenizer/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('coded errors for missing and malformed files', () => {
    expectXt(() => ClipTokenizer.fromFile('/nonexistent/vocab.json'), 'XT_IO', /nonexistent/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xt-badtok-'));
    try {
      fs.writeFileSync(path.join(dir, 'tokenizer.json'), '{ not json');
      expectXt(() => ClipTokenizer.fromFile(path.join(dir, 'tokenizer.json')), 'XT_INVALID', /not valid JSON/);
      fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify({ model: { type: 'WordPiece', vocab: {} } }));
      expectXt(() => ClipTokenizer.fromFile(path.join(dir, 'tokenizer.json')), 'XT_INVALID', /BPE/);
      fs.writeFileSync(path.join(dir, 'vocab.json'), JSON.stringify({ a: 0, '<|startoftext|>': 1, '<|endoftext|>': 2 }));
      fs.writeFileSync(path.join(dir, 'merges.txt'), '#version: 0.2\n');
      expectXt(() => ClipTokenizer.fromFile(path.join(dir, 'vocab.json')), 'XT_INVALID', /byte symbol/);
      fs.writeFileSync(path.join(dir, 'm.txt'), 'header\na b c\n');
      expectXt(() => ClipTokenizer.fromFile(path.join(dir, 'm.txt')), 'XT_INVALID', /expected "a b"/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
