import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { isXtError } from '../../../lib/errors';
import { parseOpenIXml } from '../../../lib/text/reports';
import { TextTokenizer } from '../../../lib/text/text-tokenizer';
import { bertNormalize, bertPreTokenize, WordPieceTokenizer } from '../../../lib/text/wordpiece';
import { readTarFile } from '../../../lib/util/tar';
import { repoRoot, requireShared } from '../../helpers/shared';

const FIX = path.join(repoRoot, 'test', 'fixtures', 'wordpiece');

// ---------------------------------------------------------------- the reference (optional)

/** The parts of Hugging Face's `tokenizers` (npm, devDependency) these tests use. */
interface HfEncoding {
  getIds(): number[];
}
interface HfTokenizer {
  setNormalizer(n: unknown): void;
  setPreTokenizer(p: unknown): void;
  setPostProcessor(p: unknown): void;
  setDecoder(d: unknown): void;
  addSpecialTokens(t: string[]): void;
  addAddedTokens(t: unknown[]): number;
  tokenToId(t: string): number | null;
  encode(s: string, pair?: string | null, o?: { addSpecialTokens?: boolean }): Promise<HfEncoding>;
  encodeBatch(s: string[], o?: { addSpecialTokens?: boolean }): Promise<HfEncoding[]>;
  decode(ids: number[], skip: boolean): Promise<string>;
  setTruncation(n: number): void;
  disableTruncation(): void;
  setPadding(o: { maxLength: number; padId: number; padToken: string }): void;
  disablePadding(): void;
  train(files: string[]): void;
  getVocab(): Record<string, number>;
}
interface Hf {
  Tokenizer: { new (model: unknown): HfTokenizer };
  WordPiece: { init(vocab: Record<string, number>, o: { unkToken: string }): unknown };
  AddedToken: { new (c: string, special: boolean, o: Record<string, boolean>): unknown };
  bertNormalizer(o: { lowercase?: boolean; stripAccents?: boolean; cleanText?: boolean; handleChineseChars?: boolean }): { normalizeString(s: string): string };
  bertPreTokenizer(): { preTokenizeString(s: string): Array<[string, [number, number]]> };
  bertProcessing(sep: [string, number], cls: [string, number]): unknown;
  wordPieceDecoder(prefix: string, cleanup: boolean): unknown;
}

let hfCache: Hf | null | undefined;
let hfWhy = '';
function loadHf(): Hf | null {
  if (hfCache === undefined) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      hfCache = require('tokenizers') as Hf;
      if (typeof hfCache.Tokenizer !== 'function') throw new Error('no Tokenizer export');
    } catch (e) {
      hfCache = null;
      hfWhy = (e as Error).message.split('\n')[0];
    }
  }
  return hfCache;
}

/** Skip (with the reason) when Hugging Face's tokenizers cannot be loaded here. */
function requireHf(ctx: Mocha.Context): Hf {
  const hf = loadHf();
  if (!hf) {
    // eslint-disable-next-line no-console
    console.warn(`    skipped: Hugging Face's tokenizers (npm devDependency) does not load here: ${hfWhy}; the fixture comparison still runs`);
    ctx.skip();
  }
  return hf as Hf;
}

function readVocab(dir: string): string[] {
  const lines = fs.readFileSync(path.join(dir, 'vocab.txt'), 'utf8').split('\n');
  lines.pop();
  return lines;
}

/** HF's tokenizer for a vocab.txt, set up as transformers' BertTokenizerFast builds it. */
function hfBert(hf: Hf, list: string[], lowercase: boolean): { tk: HfTokenizer; vocab: Record<string, number> } {
  const vocab = Object.fromEntries(list.map((t, i) => [t, i]));
  const tk = new hf.Tokenizer(hf.WordPiece.init(vocab, { unkToken: '[UNK]' }));
  tk.setNormalizer(hf.bertNormalizer({ lowercase, stripAccents: lowercase, cleanText: true, handleChineseChars: true }));
  tk.setPreTokenizer(hf.bertPreTokenizer());
  tk.setPostProcessor(hf.bertProcessing(['[SEP]', vocab['[SEP]']], ['[CLS]', vocab['[CLS]']]));
  tk.setDecoder(hf.wordPieceDecoder('##', true));
  tk.addSpecialTokens(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].filter((t) => t in vocab));
  return { tk, vocab };
}

async function hfRows(tk: HfTokenizer, texts: string[], L: number, padId: number): Promise<number[][]> {
  tk.setTruncation(L);
  tk.setPadding({ maxLength: L, padId, padToken: '[PAD]' });
  try {
    return (await tk.encodeBatch(texts)).map((e) => e.getIds());
  } finally {
    tk.disableTruncation();
    tk.disablePadding();
  }
}

function rowsOf(flat: Int32Array, L: number): number[][] {
  const out: number[][] = [];
  for (let o = 0; o < flat.length; o += L) out.push(Array.from(flat.subarray(o, o + L)));
  return out;
}

const EDGE = [
  '',
  '   ',
  '\t\n\r ',
  'Café naïve résumé ÉCOLE Größe Ångström',
  'ΟΔΟΣ Σ σ İstanbul ǅ ß ẞ ﬁbrosis Ⅷ ① ㎏',
  '肺炎 and 心脏 normal 𠀀𪜀𫝀𫠠𫤠 (U+2B820 is not CJK for HF, U+2B920 is)',
  'a\u0000b\u0001c\u007fd\u0085e\u00a0f\u200bg\ufeffh\ufffdi\u000bj\u000ck\u2028l',
  'pain 😀 emoji 🫠 ❤️ 👍🏽 🇺🇸',
  '...!!!???---((())) ¡¿ «» „“ 、。「」 ‐‑‒–—',
  'effusion'.repeat(18) + 'xyzxyz',
  'e'.repeat(100),
  'e'.repeat(101),
  'é'.repeat(100) + ' ' + 'é'.repeat(101),
  'a\ud800b lone \udc00 low',
  '[CLS] no [SEP] effusion [MASK] [mask] [PAD][UNK] no[SEP]effusion',
  'a\u061db\u2e43c\u0897d\u1734e\u166df \u{105c9}\u0301x',
  'T2-weighted 3.5cm C3-C4, 12/04/2009; (see #1) & 50% <= 2 ~ `x` {y} |z| \\w ^',
  '\u3000全角\u3000スペース 한국어 텍스트',
  'e\u0301 vs \u00e9, x\u0300\u0300\u0301',
  "He said \"no\" — and ‘yes’… don't do not I'm we're it's",
  'The heart is normal in size. The lungs are clear. '.repeat(40),
];

// ---------------------------------------------------------------- known answers (no reference needed)

describe('WordPieceTokenizer: known answers', () => {
  const toks = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'un', '##aff', '##able', 'a', '##a', 'the', '.', ',', 'heart', '中', 'e', 'x', '##x', 'cafe', 'café'];
  const vocab = new Map(toks.map((t, i) => [t, i]));
  const uncased = WordPieceTokenizer.fromVocab({ vocab, origin: 'test vocab' });
  const cased = WordPieceTokenizer.fromVocab({ vocab, lowercase: false, origin: 'test vocab' });
  const ids = (t: WordPieceTokenizer, s: string): string[] => t.encode(s).map((i) => t.idToken(i) as string);

  it('greedy longest match with ## continuation, lower-casing and accent stripping', () => {
    assert.deepEqual(ids(uncased, 'unaffable'), ['un', '##aff', '##able']);
    assert.deepEqual(ids(uncased, 'UnAffable.'), ['un', '##aff', '##able', '.']);
    assert.deepEqual(ids(uncased, 'Ùnaffablé'), ['un', '##aff', '##able']);
    assert.deepEqual(ids(uncased, 'CAFÉ'), ['cafe']); // accents stripped with lower case
    assert.deepEqual(ids(cased, 'café'), ['café']);
    assert.deepEqual(ids(cased, 'Unaffable'), ['[UNK]']); // no 'U' piece: the whole word is [UNK]
    assert.deepEqual(
      ids(WordPieceTokenizer.fromVocab({ vocab, lowercase: true, stripAccents: false }), 'CAFÉ'),
      ['café'],
    );
  });

  it('punctuation, white space, control characters and CJK', () => {
    assert.deepEqual(ids(uncased, 'the,heart.\t\nthe'), ['the', ',', 'heart', '.', 'the']);
    assert.deepEqual(ids(uncased, 'he\u0000a\u200brt'), ['heart']);
    assert.deepEqual(ids(uncased, 'the中heart'), ['the', '中', 'heart']);
    assert.deepEqual(bertPreTokenize('a-b  c!?'), ['a', '-', 'b', 'c', '!', '?']);
    assert.equal(bertNormalize('ΟΔΟΣ', { cleanText: true, handleChineseChars: true, stripAccents: false, lowercase: true }), 'οδοσ');
    assert.equal(bertNormalize('a\u3400b', { cleanText: true, handleChineseChars: true, stripAccents: false, lowercase: false }), 'a \u3400 b');
  });

  it('[UNK] for a word past max_input_chars_per_word (100), counted in code points', () => {
    assert.equal(uncased.encode('a'.repeat(100)).length, 100);
    assert.deepEqual(ids(uncased, 'a'.repeat(101)), ['[UNK]']);
    assert.deepEqual(ids(uncased, 'x' + 'x'.repeat(99)).length, 100);
    const short = WordPieceTokenizer.fromVocab({ vocab, maxInputCharsPerWord: 3 });
    assert.deepEqual(ids(short, 'aaa aaaa'), ['a', '##a', '##a', '[UNK]']);
  });

  it('special tokens in the raw text keep their ids; [mask] is not [MASK]', () => {
    assert.deepEqual(ids(uncased, 'the[MASK]heart [SEP]'), ['the', '[MASK]', 'heart', '[SEP]']);
    assert.deepEqual(ids(uncased, '[mask]'), ['[UNK]', '[UNK]', '[UNK]']); // '[' 'mask' ']': none is in this vocab
  });

  it('tokenize: [CLS] ids [SEP] [PAD]…, truncated keeping [SEP] last; pad id from the vocabulary', () => {
    assert.deepEqual(Array.from(uncased.tokenize(['the heart', ''], 5)), [2, 10, 13, 3, 0, 2, 3, 0, 0, 0]);
    assert.deepEqual(Array.from(uncased.tokenize('unaffable the', 4)), [2, 5, 6, 3]);
    assert.deepEqual(Array.from(uncased.tokenize('the', 2)), [2, 3]);
    const v2 = new Map([['x', 0], ['[UNK]', 1], ['[CLS]', 2], ['[SEP]', 3], ['[PAD]', 7]]);
    const t2 = WordPieceTokenizer.fromVocab({ vocab: v2 });
    assert.deepEqual(Array.from(t2.tokenize('x', 5)), [2, 0, 3, 7, 7]);
    assert.equal(t2.vocabSize, 8);
    assert.throws(() => uncased.tokenize('x', 1), (e: unknown) => isXtError(e) && e.code === 'XT_INVALID' && /contextLength/.test(e.message));
  });

  it('decode glues ## pieces and cleans up punctuation; skipSpecialTokens drops [CLS]/[SEP]/[PAD]', () => {
    const row = uncased.tokenize('UNAFFABLE, the heart.', 10);
    assert.equal(uncased.decode(row), '[CLS] unaffable, the heart. [SEP] [PAD]');
    assert.equal(uncased.decode(row, true), 'unaffable, the heart.');
    assert.throws(() => uncased.decode([999]), (e: unknown) => isXtError(e) && e.code === 'XT_INVALID');
  });

  it('both tokenizers satisfy TextTokenizer', () => {
    const t: TextTokenizer = uncased;
    assert.equal(t.startId, 2);
    assert.equal(t.endId, 3);
    assert.equal(t.countTokens('unaffable'), 3);
  });
});

// ---------------------------------------------------------------- fixtures made by HF (always run)

interface Expected {
  ids: number[];
  row16: number[];
  row77: number[];
  decoded: string;
  decodedSkip: string;
}
type FixtureCase = { text: string } & Record<'uncased' | 'cased' | 'json', Expected>;

describe('WordPieceTokenizer: ids recorded from Hugging Face tokenizers (test/fixtures/wordpiece)', () => {
  const cases = fs
    .readFileSync(path.join(FIX, 'cases.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as FixtureCase);

  for (const variant of ['uncased', 'cased', 'json'] as const) {
    it(`${variant}: ids, rows at 16 and 77, decode`, () => {
      const tok = WordPieceTokenizer.fromFile(path.join(FIX, variant));
      assert.equal(tok.lowercase, variant !== 'cased');
      let bad = 0;
      const first: string[] = [];
      let pieces = 0;
      let unk = 0;
      for (const c of cases) {
        const e = c[variant];
        const ids = tok.encode(c.text);
        for (const id of ids) {
          if (tok.idToken(id)?.startsWith('##')) pieces++;
          if (id === tok.unkId) unk++;
        }
        const got = {
          ids,
          row16: Array.from(tok.tokenize([c.text], 16)),
          row77: Array.from(tok.tokenize(c.text, 77)),
          decoded: tok.decode([tok.clsId, ...ids, tok.sepId]),
          decodedSkip: tok.decode([tok.clsId, ...ids, tok.sepId], true),
        };
        if (JSON.stringify(got) !== JSON.stringify(e)) {
          bad++;
          if (first.length < 3) first.push(`${JSON.stringify(c.text.slice(0, 60))}: got ${JSON.stringify(got.ids.slice(0, 20))}, HF ${JSON.stringify(e.ids.slice(0, 20))}`);
        }
      }
      assert.equal(bad, 0, `${bad}/${cases.length} differ from HF:\n${first.join('\n')}`);
      assert.ok(cases.length >= 70 && pieces > 300 && unk > 30, `the fixture exercises ## pieces (${pieces}) and [UNK] (${unk})`);
    });
  }

  it('reads the settings: cased vocab.txt with [UNK]/[CLS]/[SEP] at 100–102, tokenizer.json with added tokens', () => {
    const cased = WordPieceTokenizer.fromFile(path.join(FIX, 'cased', 'vocab.txt'));
    assert.deepEqual([cased.padId, cased.unkId, cased.clsId, cased.sepId, cased.maskId], [0, 100, 101, 102, 103]);
    assert.equal(cased.modelMaxLength, 512);
    const json = WordPieceTokenizer.fromFile(path.join(FIX, 'json', 'tokenizer.json'));
    assert.equal(json.stripAccents, true); // null follows lowercase
    assert.deepEqual(json.addedTokens.map((a) => a.content).slice(0, 7), ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'pleural effusion', 'XXXX']);
    // overrides win over the files
    assert.equal(WordPieceTokenizer.fromFile(path.join(FIX, 'uncased'), { lowercase: false }).lowercase, false);
  });
});

// ---------------------------------------------------------------- live comparison with HF

describe('WordPieceTokenizer against Hugging Face tokenizers (live)', function () {
  this.timeout(300000);

  it('character classes: every code point of planes 0–3 and 14 (and a sample of 15–16) normalises and splits as HF', function () {
    const hf = requireHf(this);
    const norm = hf.bertNormalizer({ lowercase: true, stripAccents: true, cleanText: true, handleChineseChars: true });
    const pre = hf.bertPreTokenizer();
    const o = { cleanText: true, handleChineseChars: true, stripAccents: true, lowercase: true };
    const bad: string[] = [];
    let n = 0;
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      if (cp >= 0x40000 && cp < 0xe0000) continue;
      if (cp >= 0xf0000 && cp % 97 !== 0) continue;
      const s = 'a' + String.fromCodePoint(cp) + 'b';
      n++;
      if (norm.normalizeString(s) !== bertNormalize(s, o)) bad.push(`U+${cp.toString(16)} normalize`);
      const p = pre.preTokenizeString(s).map((x) => x[0]);
      if (JSON.stringify(p) !== JSON.stringify(bertPreTokenize(s))) bad.push(`U+${cp.toString(16)} pre-tokenize`);
    }
    assert.equal(bad.length, 0, `${bad.length} of ${n} code points differ: ${bad.slice(0, 10).join(', ')}`);
  });

  for (const variant of ['uncased', 'cased'] as const) {
    it(`${variant} fixture vocabulary: edge cases, added tokens, rows at 2/3/16/77/256, decode`, async function () {
      const hf = requireHf(this);
      const list = readVocab(path.join(FIX, variant));
      const lower = variant === 'uncased';
      for (const withAdded of [false, true]) {
        const { tk, vocab } = hfBert(hf, list, lower);
        const extra: Array<[string, Record<string, boolean>]> = [
          ['pleural effusion', { normalized: true }],
          ['XXXX', { normalized: false, singleWord: true }],
          ['<ls>', { normalized: false, lstrip: true }],
          ['<rs>', { normalized: false, rstrip: true }],
          ['Heart Size', { normalized: true, lstrip: true, rstrip: true }],
        ];
        if (withAdded) tk.addAddedTokens(extra.map(([c, o]) => new hf.AddedToken(c, false, o)));
        const ours = WordPieceTokenizer.fromFile(path.join(FIX, variant), {
          addedTokens: withAdded
            ? extra.map(([c, o]) => ({ content: c, id: tk.tokenToId(c) as number, normalized: o.normalized, singleWord: o.singleWord, lstrip: o.lstrip, rstrip: o.rstrip }))
            : undefined,
        });
        const texts = [...EDGE, 'x pleural effusion. Pleural Effusion! XXXX XXXXs aXXXX  <ls>  x  <rs>  y heart size normal'];
        const want = (await tk.encodeBatch(texts, { addSpecialTokens: false })).map((e) => e.getIds());
        texts.forEach((t, i) => assert.deepEqual(ours.encode(t), want[i], `${variant} added=${withAdded}: ${JSON.stringify(t.slice(0, 60))}`));
        for (const L of [2, 3, 16, 77, 256]) {
          assert.deepEqual(rowsOf(ours.tokenize(texts, L), L), await hfRows(tk, texts, L, vocab['[PAD]']), `rows at ${L}`);
        }
        for (const t of texts) {
          const full = (await tk.encode(t)).getIds();
          assert.equal(ours.decode(full), await tk.decode(full, false), `decode ${JSON.stringify(t.slice(0, 40))}`);
          assert.equal(ours.decode(full, true), await tk.decode(full, true), `decode (skip specials) ${JSON.stringify(t.slice(0, 40))}`);
        }
      }
    });
  }

  describe('on all Open-I report sections, with vocabularies HF trains on them', () => {
    let texts: string[] = [];
    let tmp = '';
    before(function () {
      requireHf(this);
      const tgz = requireShared(this, 'data', 'openi', 'NLMCXR_reports.tgz');
      const reports = readTarFile(tgz)
        .filter((e) => e.name.endsWith('.xml'))
        .map((e) => parseOpenIXml(e.data.toString('utf8')));
      assert.equal(reports.length, 3955);
      for (const r of reports) for (const s of ['findings', 'impression', 'indication', 'comparison']) if (r.sections[s] !== undefined) texts.push(r.sections[s]);
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xt-wordpiece-'));
      fs.writeFileSync(path.join(tmp, 'corpus.txt'), texts.map((t) => t.replace(/\s+/g, ' ')).join('\n') + '\n');
    });
    after(() => {
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
      texts = [];
    });

    for (const variant of ['uncased', 'cased'] as const) {
      it(`${variant}: identical ids and rows at 77 and 256 for every FINDINGS/IMPRESSION/INDICATION/COMPARISON`, async function () {
        const hf = requireHf(this);
        const lower = variant === 'uncased';
        // HF's WordPiece trainer (the model's default trainer) on the sections, cut to its first N
        // learnt tokens so that words split; a few rare characters left out so that some become [UNK].
        const trainer = new hf.Tokenizer(hf.WordPiece.init({}, { unkToken: '[UNK]' }));
        trainer.setNormalizer(hf.bertNormalizer({ lowercase: lower, stripAccents: lower, cleanText: true, handleChineseChars: true }));
        trainer.setPreTokenizer(hf.bertPreTokenizer());
        trainer.train([path.join(tmp, 'corpus.txt')]);
        const learnt = Object.entries(trainer.getVocab()).sort((a, b) => a[1] - b[1]).map((e) => e[0]);
        const drop = new Set(lower ? ['#', '\\', '&', '<', '>', '##j', '##9'] : ['Z', '#', 'J', 'Q', '##K']);
        const N = lower ? 2000 : 2500;
        const list = lower ? ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] : ['[PAD]'];
        for (const t of learnt) {
          if (list.length >= N) break;
          if (drop.has(t)) continue;
          list.push(t);
          if (!lower && list.length === 100) list.push('[UNK]', '[CLS]', '[SEP]', '[MASK]');
        }
        const dir = path.join(tmp, variant);
        fs.mkdirSync(dir);
        fs.writeFileSync(path.join(dir, 'vocab.txt'), list.join('\n') + '\n');
        fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: lower }));
        const ours = WordPieceTokenizer.fromFile(dir);
        const { tk, vocab } = hfBert(hf, list, lower);

        const want = (await tk.encodeBatch(texts, { addSpecialTokens: false })).map((e) => e.getIds());
        let bad = 0;
        let total = 0;
        let pieces = 0;
        let unk = 0;
        let over77 = 0;
        const first: string[] = [];
        texts.forEach((t, i) => {
          const got = ours.encode(t);
          total += got.length;
          if (got.length > 75) over77++;
          for (const id of want[i]) {
            if (list[id].startsWith('##')) pieces++;
            if (id === vocab['[UNK]']) unk++;
          }
          if (JSON.stringify(got) !== JSON.stringify(want[i])) {
            bad++;
            if (first.length < 3) first.push(JSON.stringify(t.slice(0, 80)));
          }
        });
        assert.equal(bad, 0, `${bad}/${texts.length} texts differ from HF, e.g.\n${first.join('\n')}`);
        for (const L of [77, 256]) {
          const rows = rowsOf(ours.tokenize(texts, L), L);
          const ref = await hfRows(tk, texts, L, vocab['[PAD]']);
          const diff = rows.findIndex((r, i) => JSON.stringify(r) !== JSON.stringify(ref[i]));
          assert.equal(diff, -1, `row ${diff} at context ${L} differs from HF`);
        }
        // eslint-disable-next-line no-console
        console.log(`      ${variant}: ${texts.length} sections, ${total} ids (${pieces} ## pieces, ${unk} [UNK]), ${over77} truncated at 77, vocab ${list.length}: identical to HF`);
        assert.equal(texts.length, 14544);
        assert.ok(pieces > 3000 && unk > 10 && over77 > 0, 'the comparison exercises ## pieces, [UNK] and truncation');
      });
    }
  });
});

// ---------------------------------------------------------------- errors

describe('WordPieceTokenizer: errors name the file and what was expected', () => {
  let dir = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xt-wp-err-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (rel: string, text: string): string => {
    const p = path.join(dir, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text);
    return p;
  };
  const fails = (f: () => unknown, code: string, re: RegExp): void => {
    assert.throws(f, (e: unknown) => {
      assert.ok(isXtError(e), `coded error expected, got ${String(e)}`);
      assert.equal(e.code, code, e.message);
      assert.match(e.message, re);
      return true;
    });
  };

  it('missing file or directory without a tokenizer: XT_IO', () => {
    fails(() => WordPieceTokenizer.fromFile(path.join(dir, 'nope', 'vocab.txt')), 'XT_IO', /no such file.*nope/);
    fs.mkdirSync(path.join(dir, 'empty'));
    fails(() => WordPieceTokenizer.fromFile(path.join(dir, 'empty')), 'XT_IO', /empty holds no tokenizer \(expected vocab\.txt/);
  });

  it('a vocabulary without [UNK]/[CLS]/[SEP]/[PAD]: XT_INVALID naming the missing tokens', () => {
    const p = write('nounk/vocab.txt', '[PAD]\n[CLS]\n[SEP]\nthe\n');
    fails(() => WordPieceTokenizer.fromFile(p), 'XT_INVALID', /nounk\/vocab\.txt: the vocabulary has no \[UNK\]/);
    const q = write('bare/vocab.txt', 'the\nheart\n');
    fails(() => WordPieceTokenizer.fromFile(q), 'XT_INVALID', /has no \[UNK\], \[CLS\], \[SEP\], \[PAD\]/);
    fails(() => WordPieceTokenizer.fromFile(write('blank/vocab.txt', '')), 'XT_INVALID', /blank\/vocab\.txt: empty vocabulary/);
  });

  it('a tokenizer.json whose model is not WordPiece says what it is', () => {
    const p = write('bpe/tokenizer.json', JSON.stringify({ model: { type: 'BPE', vocab: {}, merges: [] } }));
    fails(() => WordPieceTokenizer.fromFile(p), 'XT_INVALID', /bpe\/tokenizer\.json: model\.type is "BPE"; a WordPiece tokenizer needs "WordPiece"/);
    fails(() => WordPieceTokenizer.fromFile(path.join(dir, 'bpe')), 'XT_INVALID', /model\.type "BPE"/);
    fails(() => WordPieceTokenizer.fromFile(write('notjson/tokenizer.json', '{oops')), 'XT_INVALID', /notjson\/tokenizer\.json: not valid JSON/);
    fails(() => WordPieceTokenizer.fromFile(write('nomodel/tokenizer.json', '{}')), 'XT_INVALID', /with a "model" object/);
  });

  it('unsupported normaliser/pre-tokeniser and bad settings: XT_INVALID', () => {
    const base = JSON.parse(fs.readFileSync(path.join(FIX, 'json', 'tokenizer.json'), 'utf8'));
    const nfd = { ...base, normalizer: { type: 'Sequence', normalizers: [] } };
    fails(() => WordPieceTokenizer.fromFile(write('seq/tokenizer.json', JSON.stringify(nfd))), 'XT_INVALID', /normalizer\.type is "Sequence"/);
    const ws = { ...base, pre_tokenizer: { type: 'Whitespace' } };
    fails(() => WordPieceTokenizer.fromFile(write('ws/tokenizer.json', JSON.stringify(ws))), 'XT_INVALID', /pre_tokenizer\.type is "Whitespace"/);
    write('cfg/vocab.txt', '[PAD]\n[UNK]\n[CLS]\n[SEP]\n');
    write('cfg/tokenizer_config.json', JSON.stringify({ do_lower_case: 'yes' }));
    fails(() => WordPieceTokenizer.fromFile(path.join(dir, 'cfg')), 'XT_INVALID', /tokenizer_config\.json: do_lower_case must be true or false/);
  });
});
