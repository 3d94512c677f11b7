/**
 * BERT's WordPiece tokenizer, giving the ids of Hugging Face's `BertTokenizer`/`BertTokenizerFast`
 * (the `tokenizers` pipeline: added tokens → BertNormalizer → BertPreTokenizer → WordPiece →
 * `[CLS] $A [SEP]`, truncated, padded with `[PAD]`).
 *
 * Pipeline per text:
 *  1. added tokens: special tokens (`[CLS]`, `[SEP]`, `[PAD]`, `[UNK]`, `[MASK]`, and a tokenizer.json's
 *     `added_tokens`) written in the raw text are cut out and keep their ids (leftmost-longest match,
 *     as HF's AddedVocabulary; `normalized` tokens are matched in the normalised text instead);
 *  2. BertNormalizer: clean text (drop NUL, U+FFFD and control/format/unassigned characters except
 *     \t \n \r; white space → ' '), a space on each side of CJK ideographs, accent stripping (NFD,
 *     drop Mn; by default only when lower-casing), then lower-casing character by character;
 *  3. BertPreTokenizer: split on white space, and isolate each punctuation character (ASCII
 *     33–47, 58–64, 91–96, 123–126, and Unicode P*);
 *  4. WordPiece: greedy longest-match-first, continuation pieces prefixed `##`; a word longer than
 *     `maxInputCharsPerWord` (100) characters, or one that cannot be covered, is one `[UNK]`.
 *
 * The Unicode character classes are the ones of the Rust crates HF's tokenizers uses (see
 * wordpiece-unicode.ts), so the ids do not depend on the Unicode version of the running Node.
 */
import * as fs from 'fs';
import * as path from 'path';
import { xtError } from '../errors';
import { TextTokenizer } from './text-tokenizer';
import { hfNfd, isBertControl, isBertPunctuation, isBertWhitespace, isChineseChar, isMarkNonspacing } from './wordpiece-unicode';

/** An added token (HF `AddedToken`): matched in the text before WordPiece runs. */
export interface AddedTokenSpec {
  content: string;
  id: number;
  special?: boolean;
  /** Matched in the normalised text (true) or in the raw text (false, the default for special tokens). */
  normalized?: boolean;
  /** Only when not inside a word. */
  singleWord?: boolean;
  /** Takes the white space on its left / right with it. */
  lstrip?: boolean;
  rstrip?: boolean;
}

export interface WordPieceOptions {
  /** Lower-case (HF `do_lower_case` / BertNormalizer `lowercase`). Default true, as BertTokenizer. */
  lowercase?: boolean;
  /** Strip accents; undefined/null follows `lowercase` (HF's default). */
  stripAccents?: boolean | null;
  /** Drop control characters and map white space to ' '. Default true. */
  cleanText?: boolean;
  /** Put spaces around CJK ideographs. Default true. */
  handleChineseChars?: boolean;
  unkToken?: string;
  clsToken?: string;
  sepToken?: string;
  padToken?: string;
  maskToken?: string;
  /** Default '##'. */
  continuingSubwordPrefix?: string;
  /** Default 100. */
  maxInputCharsPerWord?: number;
  /** Added tokens besides the special tokens above (e.g. a tokenizer.json's `added_tokens`). */
  addedTokens?: AddedTokenSpec[];
  /** `model_max_length` when known (informational; `tokenize` takes the context length it is given). */
  modelMaxLength?: number;
  /** Decoder cleanup (" ." → "." …), as HF's WordPiece decoder. Default true. */
  decodeCleanup?: boolean;
  /** Where it was read from (for messages). */
  origin?: string;
}

export interface WordPieceSource extends WordPieceOptions {
  /** Token string → id. */
  vocab: Map<string, number>;
}

const MAX_ID = 1 << 24;
const CACHE_LIMIT = 1 << 18;

// ASCII classes for the fast path: 0 dropped (control), 1 white space, 2 punctuation, 3 other.
const ASCII_CLASS = new Uint8Array(128).fill(3);
for (let c = 0; c < 32; c++) ASCII_CLASS[c] = 0;
ASCII_CLASS[127] = 0;
for (const c of [9, 10, 13, 32]) ASCII_CLASS[c] = 1;
for (let c = 33; c < 127; c++) if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) ASCII_CLASS[c] = 2;
const NON_ASCII_RE = /[^\x00-\x7f]/;

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** `\w` of Rust's regex (Unicode): letters, marks, digits, connector punctuation, join controls. */
const WORD_CHAR_RE = /[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\u200c\u200d]/u;

interface Matcher {
  re: RegExp;
  byContent: Map<string, AddedTokenSpec>;
}

function makeMatcher(tokens: AddedTokenSpec[], contentOf: (t: AddedTokenSpec) => string): Matcher | undefined {
  const byContent = new Map<string, AddedTokenSpec>();
  for (const t of tokens) {
    const c = contentOf(t);
    if (c.length > 0 && !byContent.has(c)) byContent.set(c, t);
  }
  if (byContent.size === 0) return undefined;
  // Longest first: JS alternation is leftmost-first, so this gives leftmost-longest.
  const alts = [...byContent.keys()].sort((a, b) => b.length - a.length).map(escapeRe);
  return { re: new RegExp(alts.join('|'), 'gu'), byContent };
}

/** A piece of text after the added-token split: either plain text or an added token's id. */
type Piece = string | number;

/** HF's AddedVocabulary::find_matches over one string. */
function splitAdded(text: string, m: Matcher | undefined, out: Piece[]): void {
  if (!m || text.length === 0) {
    if (text.length > 0) out.push(text);
    return;
  }
  let startOffset = 0;
  m.re.lastIndex = 0;
  for (let mt = m.re.exec(text); mt !== null; mt = m.re.exec(text)) {
    const tok = m.byContent.get(mt[0]) as AddedTokenSpec;
    let start = mt.index;
    let stop = start + mt[0].length;
    if (start < startOffset) continue; // overlapped by a previous token's rstrip
    if (tok.singleWord) {
      const startSpace = start === 0 || !WORD_CHAR_RE.test(lastCodePoint(text, start));
      const stopSpace = stop === text.length || !WORD_CHAR_RE.test(String.fromCodePoint(text.codePointAt(stop) as number));
      if (!startSpace || !stopSpace) continue;
    }
    if (tok.lstrip) {
      let s = start;
      while (s > 0) {
        const ch = lastCodePoint(text, s);
        if (!isBertWhitespace(ch.codePointAt(0) as number)) break;
        s -= ch.length;
      }
      start = Math.max(s, startOffset);
    }
    if (tok.rstrip) {
      while (stop < text.length) {
        const cp = text.codePointAt(stop) as number;
        if (!isBertWhitespace(cp)) break;
        stop += cp > 0xffff ? 2 : 1;
      }
      m.re.lastIndex = Math.max(m.re.lastIndex, stop);
    }
    if (startOffset < start) out.push(text.slice(startOffset, start));
    out.push(tok.id);
    startOffset = stop;
  }
  if (startOffset < text.length) out.push(text.slice(startOffset));
}

/** HF's default: special tokens match the raw text, other added tokens the normalised text. */
function isNormalized(t: AddedTokenSpec): boolean {
  return t.normalized ?? !t.special;
}

const LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function lastCodePoint(s: string, end: number): string {
  const c = s.charCodeAt(end - 1);
  if (c >= 0xdc00 && c <= 0xdfff && end >= 2) {
    const h = s.charCodeAt(end - 2);
    if (h >= 0xd800 && h <= 0xdbff) return s.slice(end - 2, end);
  }
  return s.slice(end - 1, end);
}

const lowerCache = new Map<number, string>();
/** Rust's `char::to_lowercase` (context-free: a final Σ is σ, unlike `String.toLowerCase`). */
function lowerChar(cp: number): string {
  let s = lowerCache.get(cp);
  if (s === undefined) {
    s = String.fromCodePoint(cp).toLowerCase();
    lowerCache.set(cp, s);
  }
  return s;
}

export interface BertNormalizerOptions {
  cleanText: boolean;
  handleChineseChars: boolean;
  stripAccents: boolean;
  lowercase: boolean;
}

/** HF's BertNormalizer over one string (any text). Exported for tests. */
export function bertNormalize(text: string, o: BertNormalizerOptions): string {
  if (!NON_ASCII_RE.test(text)) {
    // ASCII: only cleaning and lower-casing can change anything.
    let s = text;
    if (o.cleanText) {
      let dirty = false;
      for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c < 32 || c === 127) {
          dirty = true;
          break;
        }
      }
      if (dirty) {
        let t = '';
        for (let i = 0; i < s.length; i++) {
          const c = s.charCodeAt(i);
          const k = ASCII_CLASS[c];
          if (k === 0) continue;
          t += k === 1 ? ' ' : s[i];
        }
        s = t;
      }
    }
    return o.lowercase ? s.toLowerCase() : s;
  }
  let s = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0) as number;
    if (o.cleanText) {
      if (cp === 0 || cp === 0xfffd || isBertControl(cp)) continue;
      if (isBertWhitespace(cp)) {
        s += ' ';
        continue;
      }
    }
    if (o.handleChineseChars && isChineseChar(cp)) s += ' ' + ch + ' ';
    else s += ch;
  }
  if (o.stripAccents) {
    const d = hfNfd(s);
    s = '';
    for (const ch of d) if (!isMarkNonspacing(ch.codePointAt(0) as number)) s += ch;
  }
  if (o.lowercase) {
    let t = '';
    for (const ch of s) {
      const cp = ch.codePointAt(0) as number;
      t += cp < 128 ? ch.toLowerCase() : lowerChar(cp);
    }
    s = t;
  }
  return s;
}

/** HF's BertPreTokenizer: words split on white space, each punctuation character its own word. */
export function bertPreTokenize(text: string): string[] {
  const out: string[] = [];
  forEachWord(text, (a, b) => out.push(text.slice(a, b)));
  return out;
}

function forEachWord(text: string, f: (start: number, end: number) => void): void {
  const n = text.length;
  let start = -1;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    let cls: number;
    let w = 1;
    if (c < 128) {
      cls = ASCII_CLASS[c];
      if (cls === 0) cls = c === 11 || c === 12 ? 1 : 3; // VT, FF are white space; other controls are not
    } else {
      const cp = text.codePointAt(i) as number;
      if (cp > 0xffff) w = 2;
      cls = isBertWhitespace(cp) ? 1 : isBertPunctuation(cp) ? 2 : 3;
    }
    if (cls === 3) {
      if (start < 0) start = i;
    } else {
      if (start >= 0) {
        f(start, i);
        start = -1;
      }
      if (cls === 2) f(i, i + w);
    }
    i += w;
  }
  if (start >= 0) f(start, n);
}

/** BERT WordPiece tokenizer (see the file comment). Construct with `fromFile` or `fromVocab`. */
export class WordPieceTokenizer implements TextTokenizer {
  /** Id of `[CLS]`. */
  readonly startId: number;
  /** Id of `[SEP]`. */
  readonly endId: number;
  readonly clsId: number;
  readonly sepId: number;
  readonly padId: number;
  readonly unkId: number;
  readonly maskId: number | undefined;
  readonly vocabSize: number;
  readonly origin: string;
  readonly lowercase: boolean;
  readonly stripAccents: boolean;
  readonly cleanText: boolean;
  readonly handleChineseChars: boolean;
  readonly continuingSubwordPrefix: string;
  readonly maxInputCharsPerWord: number;
  readonly modelMaxLength: number | undefined;
  readonly addedTokens: readonly AddedTokenSpec[];

  private readonly vocab: Map<string, number>;
  private readonly decoder: string[];
  private readonly specialIds: Set<number>;
  private readonly rawMatcher: Matcher | undefined;
  private readonly normMatcher: Matcher | undefined;
  private readonly norm: BertNormalizerOptions;
  private readonly decodeCleanup: boolean;
  private readonly cache = new Map<string, number[]>();
  /** Longest token length in UTF-16 units (bounds the longest-match search). */
  private readonly maxTokenLength: number;
  private scratch: number[] = [];

  private constructor(src: WordPieceSource) {
    this.origin = src.origin ?? 'vocabulary';
    this.vocab = src.vocab;
    if (this.vocab.size === 0) throw xtError('XT_INVALID', `${this.origin}: the vocabulary is empty (expected one token per line)`);
    let maxId = -1;
    let maxLen = 0;
    for (const [tok, id] of this.vocab) {
      if (!Number.isInteger(id) || id < 0 || id >= MAX_ID) {
        throw xtError('XT_INVALID', `${this.origin}: token id ${id} of ${JSON.stringify(tok)} out of range (expected an integer in [0, ${MAX_ID}))`);
      }
      if (id > maxId) maxId = id;
      if (tok.length > maxLen) maxLen = tok.length;
    }
    const added = (src.addedTokens ?? []).slice();
    for (const t of added) {
      if (!Number.isInteger(t.id) || t.id < 0 || t.id >= MAX_ID) {
        throw xtError('XT_INVALID', `${this.origin}: added token ${JSON.stringify(t.content)} has id ${t.id} (expected an integer in [0, ${MAX_ID}))`);
      }
      if (t.id > maxId) maxId = t.id;
    }
    this.vocabSize = maxId + 1;
    this.decoder = new Array<string>(this.vocabSize);
    for (const [tok, id] of this.vocab) this.decoder[id] = tok;
    this.maxTokenLength = maxLen;

    this.lowercase = src.lowercase ?? true;
    this.stripAccents = src.stripAccents ?? this.lowercase;
    this.cleanText = src.cleanText ?? true;
    this.handleChineseChars = src.handleChineseChars ?? true;
    this.norm = { cleanText: this.cleanText, handleChineseChars: this.handleChineseChars, stripAccents: this.stripAccents, lowercase: this.lowercase };

    const names = {
      unk: src.unkToken ?? '[UNK]',
      cls: src.clsToken ?? '[CLS]',
      sep: src.sepToken ?? '[SEP]',
      pad: src.padToken ?? '[PAD]',
    };
    const idOf = (t: string): number | undefined => this.vocab.get(t) ?? added.find((a) => a.content === t)?.id;
    const missing = Object.values(names).filter((t) => idOf(t) === undefined);
    if (missing.length > 0) {
      throw xtError('XT_INVALID', `${this.origin}: the vocabulary has no ${missing.join(', ')} (a BERT WordPiece vocabulary needs ${Object.values(names).join(', ')})`);
    }
    this.unkId = idOf(names.unk) as number;
    this.clsId = this.startId = idOf(names.cls) as number;
    this.sepId = this.endId = idOf(names.sep) as number;
    this.padId = idOf(names.pad) as number;
    const maskName = src.maskToken ?? '[MASK]';
    this.maskId = idOf(maskName);

    // Special tokens are added tokens matched in the raw text (as HF's BertTokenizerFast adds them).
    const specials = [names.pad, names.unk, names.cls, names.sep, maskName];
    for (const s of specials) {
      const id = idOf(s);
      if (id !== undefined && !added.some((a) => a.content === s)) added.push({ content: s, id, special: true, normalized: false });
    }
    this.addedTokens = added;
    // HF's id → token gives a normalised added token's normalised content (what decode writes).
    for (const t of added) if (this.decoder[t.id] === undefined) this.decoder[t.id] = isNormalized(t) ? bertNormalize(t.content, this.norm) : t.content;
    this.specialIds = new Set(added.filter((a) => a.special).map((a) => a.id));

    this.continuingSubwordPrefix = src.continuingSubwordPrefix ?? '##';
    this.maxInputCharsPerWord = src.maxInputCharsPerWord ?? 100;
    if (!Number.isInteger(this.maxInputCharsPerWord) || this.maxInputCharsPerWord < 0) {
      throw xtError('XT_INVALID', `${this.origin}: max_input_chars_per_word must be a non-negative integer, got ${src.maxInputCharsPerWord}`);
    }
    this.modelMaxLength = src.modelMaxLength;
    this.decodeCleanup = src.decodeCleanup ?? true;
    this.rawMatcher = makeMatcher(added.filter((a) => !isNormalized(a)), (a) => a.content);
    this.normMatcher = makeMatcher(added.filter(isNormalized), (a) => bertNormalize(a.content, this.norm));
  }

  /** Build from an in-memory vocabulary. */
  static fromVocab(src: WordPieceSource): WordPieceTokenizer {
    return new WordPieceTokenizer(src);
  }

  /**
   * Read a WordPiece tokenizer from:
   *  - `vocab.txt` (one token per line, id = line number), with `tokenizer_config.json` beside it
   *    giving `do_lower_case`, `strip_accents`, `tokenize_chinese_chars`, the special token names and
   *    `model_max_length`;
   *  - a Hugging Face `tokenizer.json` whose model is WordPiece;
   *  - a directory holding either (also in a `tokenizer/` subfolder; tokenizer.json is preferred).
   * `overrides` win over what the files say. Throws XT_IO when nothing is there, XT_INVALID for
   * malformed files or a tokenizer.json of another model type.
   */
  static fromFile(p: string, overrides: WordPieceOptions = {}): WordPieceTokenizer {
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch {
      throw xtError('XT_IO', `WordPiece tokenizer: no such file or directory: ${p}`);
    }
    if (st.isDirectory()) {
      const f = findWordPieceFile(p);
      if (!f) throw xtError('XT_IO', `WordPiece tokenizer: ${p} holds no tokenizer (expected vocab.txt or a WordPiece tokenizer.json)`);
      p = f;
    }
    const src = path.basename(p).toLowerCase().endsWith('.json') ? readWordPieceJson(p) : readVocabTxt(p);
    return new WordPieceTokenizer({ ...src, ...definedOnly(overrides) });
  }

  /** The normaliser's output for `text` (HF BertNormalizer). */
  normalize(text: string): string {
    return bertNormalize(text, this.norm);
  }

  /** WordPiece ids of `text` (no [CLS]/[SEP]). */
  encode(text: string): number[] {
    const out: number[] = [];
    this.encodeInto(text, out);
    return out;
  }

  /** Token strings of `text` (no [CLS]/[SEP]). */
  tokens(text: string): string[] {
    return this.encode(text).map((id) => this.decoder[id]);
  }

  /**
   * Token matrix [texts.length, contextLength], row-major: [CLS], ids, [SEP], [PAD]s. Texts that do not
   * fit keep their first contextLength - 2 ids and still end with [SEP] (HF's truncation of a single
   * sequence to max_length with the template's two special tokens).
   */
  tokenize(texts: readonly string[] | string, contextLength = 77): Int32Array {
    const list = typeof texts === 'string' ? [texts] : texts;
    if (!Number.isInteger(contextLength) || contextLength < 2) {
      throw xtError('XT_INVALID', `tokenize: contextLength must be an integer >= 2, got ${contextLength}`);
    }
    const out = new Int32Array(list.length * contextLength);
    if (this.padId !== 0) out.fill(this.padId);
    const s = this.scratch;
    for (let r = 0; r < list.length; r++) {
      s.length = 0;
      this.encodeInto(list[r], s);
      const keep = Math.min(s.length, contextLength - 2);
      const o = r * contextLength;
      out[o] = this.clsId;
      for (let k = 0; k < keep; k++) out[o + 1 + k] = s[k];
      out[o + 1 + keep] = this.sepId;
    }
    return out;
  }

  countTokens(text: string): number {
    const s = this.scratch;
    s.length = 0;
    this.encodeInto(text, s);
    return s.length;
  }

  /**
   * Text of the ids, as HF's `decode` with the WordPiece decoder: tokens joined by spaces, `##` pieces
   * glued to the previous one, then the cleanup (" ." → "." …). `skipSpecialTokens` drops [CLS],
   * [SEP], [PAD], … (default false, as transformers' decode).
   */
  decode(ids: ArrayLike<number>, skipSpecialTokens = false): string {
    let s = '';
    let first = true;
    const prefix = this.continuingSubwordPrefix;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      const t = this.decoder[id];
      if (t === undefined) throw xtError('XT_INVALID', `decode: id ${id} is not in the vocabulary`);
      if (skipSpecialTokens && this.specialIds.has(id)) continue;
      let piece: string;
      if (first) piece = t;
      else if (t.startsWith(prefix)) piece = t.slice(prefix.length);
      else piece = ' ' + t;
      first = false;
      s += this.decodeCleanup ? cleanupPiece(piece) : piece;
    }
    return s;
  }

  tokenId(token: string): number | undefined {
    return this.vocab.get(token) ?? this.addedTokens.find((a) => a.content === token)?.id;
  }

  idToken(id: number): string | undefined {
    return this.decoder[id];
  }

  /** Drop the per-word cache (it is capped anyway). */
  clearCache(): void {
    this.cache.clear();
  }

  private encodeInto(text: string, out: number[]): void {
    // What reaches HF's Rust code is UTF-8, where a lone surrogate has become U+FFFD.
    if (NON_ASCII_RE.test(text)) text = text.replace(LONE_SURROGATE_RE, '\ufffd');
    if (!this.rawMatcher && !this.normMatcher) {
      this.encodePlain(bertNormalize(text, this.norm), out);
      return;
    }
    const raw: Piece[] = [];
    splitAdded(text, this.rawMatcher, raw);
    for (const p of raw) {
      if (typeof p === 'number') {
        out.push(p);
        continue;
      }
      const normed = bertNormalize(p, this.norm);
      if (!this.normMatcher) {
        this.encodePlain(normed, out);
        continue;
      }
      const pieces: Piece[] = [];
      splitAdded(normed, this.normMatcher, pieces);
      for (const q of pieces) {
        if (typeof q === 'number') out.push(q);
        else this.encodePlain(q, out);
      }
    }
  }

  /** Pre-tokenise normalised text and WordPiece each word. */
  private encodePlain(text: string, out: number[]): void {
    forEachWord(text, (a, b) => {
      const w = text.slice(a, b);
      let ids = this.cache.get(w);
      if (ids === undefined) {
        ids = this.wordPiece(w);
        if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
        this.cache.set(w, ids);
      }
      for (let k = 0; k < ids.length; k++) out.push(ids[k]);
    });
  }

  /** Greedy longest-match-first WordPiece of one word (HF's WordPiece::tokenize). */
  private wordPiece(word: string): number[] {
    let chars = word.length;
    if (chars > this.maxInputCharsPerWord) {
      // Count code points only when UTF-16 length alone cannot decide.
      chars = 0;
      for (const _ of word) chars++;
      if (chars > this.maxInputCharsPerWord) return [this.unkId];
    }
    const ids: number[] = [];
    const prefix = this.continuingSubwordPrefix;
    const n = word.length;
    let start = 0;
    while (start < n) {
      let end = Math.min(n, start + this.maxTokenLength);
      if (end < n && isLowSurrogate(word.charCodeAt(end))) end--; // never cut a surrogate pair
      let found = -1;
      while (start < end) {
        const sub = start > 0 ? prefix + word.slice(start, end) : word.slice(start, end);
        const id = this.vocab.get(sub);
        if (id !== undefined) {
          found = id;
          break;
        }
        end -= end - 2 >= start && isLowSurrogate(word.charCodeAt(end - 1)) && isHighSurrogate(word.charCodeAt(end - 2)) ? 2 : 1;
      }
      if (found < 0) return [this.unkId];
      ids.push(found);
      start = end;
    }
    return ids;
  }
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}
function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** HF's WordPiece decoder cleanup, applied to each piece. */
function cleanupPiece(s: string): string {
  if (s.indexOf(' ') < 0) return s;
  return s
    .replaceAll(' .', '.')
    .replaceAll(' ?', '?')
    .replaceAll(' !', '!')
    .replaceAll(' ,', ',')
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(' do not', " don't")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}

function definedOnly<T extends object>(o: T): Partial<T> {
  const r: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (r as Record<string, unknown>)[k] = v;
  return r;
}

// ---------------------------------------------------------------- readers

function readUtf8(p: string): string {
  try {
    return fs.readFileSync(p, 'utf8');
  } catch (e) {
    throw xtError('XT_IO', `WordPiece tokenizer: cannot read ${p}: ${(e as Error).message}`);
  }
}

function readJson(p: string): unknown {
  const text = readUtf8(p);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw xtError('XT_INVALID', `${p}: not valid JSON: ${(e as Error).message}`);
  }
}

/** Files looked for in a directory, in this order (tokenizer.json only when its model is WordPiece). */
export const WORDPIECE_FILES = ['tokenizer.json', 'vocab.txt'];

/**
 * The WordPiece tokenizer file in a directory (or its `tokenizer/` subfolder), or undefined. A
 * tokenizer.json counts only when its model is WordPiece; a directory whose only tokenizer.json is of
 * another model type gets an XT_INVALID error saying what it is.
 */
export function findWordPieceFile(dir: string): string | undefined {
  let other: string | undefined;
  for (const d of [dir, path.join(dir, 'tokenizer')]) {
    const vocab = path.join(d, 'vocab.txt');
    const tj = path.join(d, 'tokenizer.json');
    if (fs.existsSync(tj)) {
      const type = modelTypeOf(tj);
      if (type === 'WordPiece') return tj;
      other = `${tj} has model.type ${JSON.stringify(type)}`;
    }
    if (fs.existsSync(vocab)) return vocab;
  }
  if (other) throw xtError('XT_INVALID', `WordPiece tokenizer: ${other} (expected "WordPiece", or a vocab.txt beside it)`);
  return undefined;
}

/** `findWordPieceFile` then `fromFile`; undefined when the directory has no WordPiece tokenizer. */
export function findWordPieceTokenizer(dir: string, overrides: WordPieceOptions = {}): WordPieceTokenizer | undefined {
  const f = findWordPieceFile(dir);
  return f ? WordPieceTokenizer.fromFile(f, overrides) : undefined;
}

function modelTypeOf(p: string): unknown {
  const j = readJson(p) as { model?: { type?: unknown } } | null;
  return j && typeof j === 'object' ? j.model?.type : undefined;
}

/** `vocab.txt` (+ `tokenizer_config.json` beside it) as HF reads them: id = line number, lines right-trimmed. */
export function readVocabTxt(p: string): WordPieceSource {
  const text = readUtf8(p);
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const vocab = new Map<string, number>();
  lines.forEach((line, i) => vocab.set(line.replace(/[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/u, ''), i));
  if (vocab.size === 0) throw xtError('XT_INVALID', `${p}: empty vocabulary (expected one WordPiece token per line)`);
  const src: WordPieceSource = { vocab, origin: p };
  const cfgPath = path.join(path.dirname(p), 'tokenizer_config.json');
  if (fs.existsSync(cfgPath)) Object.assign(src, readTokenizerConfig(cfgPath));
  return src;
}

function tokenName(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

/** The settings of a `tokenizer_config.json` that change BertTokenizer's ids. */
export function readTokenizerConfig(p: string): WordPieceOptions {
  const j = readJson(p) as Record<string, unknown>;
  if (!j || typeof j !== 'object' || Array.isArray(j)) throw xtError('XT_INVALID', `${p}: expected a JSON object`);
  const o: WordPieceOptions = {};
  const bool = (k: string): boolean | undefined => {
    const v = j[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') throw xtError('XT_INVALID', `${p}: ${k} must be true or false, got ${JSON.stringify(v)}`);
    return v;
  };
  o.lowercase = bool('do_lower_case');
  o.stripAccents = bool('strip_accents');
  o.handleChineseChars = bool('tokenize_chinese_chars');
  o.unkToken = tokenName(j.unk_token);
  o.clsToken = tokenName(j.cls_token);
  o.sepToken = tokenName(j.sep_token);
  o.padToken = tokenName(j.pad_token);
  o.maskToken = tokenName(j.mask_token);
  const mml = j.model_max_length;
  if (typeof mml === 'number' && Number.isInteger(mml) && mml > 0 && mml < 1e7) o.modelMaxLength = mml;
  return definedOnly(o);
}

interface TokenizerJson {
  model?: { type?: unknown; vocab?: unknown; unk_token?: unknown; continuing_subword_prefix?: unknown; max_input_chars_per_word?: unknown };
  normalizer?: unknown;
  pre_tokenizer?: unknown;
  post_processor?: unknown;
  decoder?: unknown;
  padding?: unknown;
  added_tokens?: unknown;
}

/** A Hugging Face `tokenizer.json` with a WordPiece model (and BertNormalizer/BertPreTokenizer). */
export function readWordPieceJson(p: string): WordPieceSource {
  const j = readJson(p) as TokenizerJson;
  if (!j || typeof j !== 'object' || !j.model || typeof j.model !== 'object') {
    throw xtError('XT_INVALID', `${p}: expected a Hugging Face tokenizer.json with a "model" object of type "WordPiece"`);
  }
  const m = j.model;
  if (m.type !== 'WordPiece') {
    throw xtError('XT_INVALID', `${p}: model.type is ${JSON.stringify(m.type)}; a WordPiece tokenizer needs "WordPiece" (a "BPE" tokenizer.json is CLIP's: use ClipTokenizer)`);
  }
  if (!m.vocab || typeof m.vocab !== 'object' || Array.isArray(m.vocab)) throw xtError('XT_INVALID', `${p}: model.vocab must be an object of token → id`);
  const vocab = new Map<string, number>();
  for (const [k, v] of Object.entries(m.vocab as Record<string, unknown>)) {
    if (typeof v !== 'number') throw xtError('XT_INVALID', `${p}: model.vocab id of ${JSON.stringify(k)} is not a number`);
    vocab.set(k, v);
  }
  const src: WordPieceSource = { vocab, origin: p };
  if (m.unk_token !== undefined) {
    if (typeof m.unk_token !== 'string') throw xtError('XT_INVALID', `${p}: model.unk_token must be a string`);
    src.unkToken = m.unk_token;
  }
  if (m.continuing_subword_prefix !== undefined && m.continuing_subword_prefix !== null) {
    if (typeof m.continuing_subword_prefix !== 'string') throw xtError('XT_INVALID', `${p}: model.continuing_subword_prefix must be a string`);
    src.continuingSubwordPrefix = m.continuing_subword_prefix;
  }
  if (m.max_input_chars_per_word !== undefined && m.max_input_chars_per_word !== null) {
    if (typeof m.max_input_chars_per_word !== 'number') throw xtError('XT_INVALID', `${p}: model.max_input_chars_per_word must be a number`);
    src.maxInputCharsPerWord = m.max_input_chars_per_word;
  }
  readNormalizer(j.normalizer, p, src);
  readPreTokenizer(j.pre_tokenizer, p);
  readPostProcessor(j.post_processor, p, src);
  const pad = j.padding as { pad_token?: unknown } | null | undefined;
  if (pad && typeof pad.pad_token === 'string') src.padToken = pad.pad_token;
  const dec = j.decoder as { type?: unknown; prefix?: unknown; cleanup?: unknown } | null | undefined;
  if (dec && dec.type === 'WordPiece' && typeof dec.cleanup === 'boolean') src.decodeCleanup = dec.cleanup;
  src.addedTokens = readAddedTokens(j.added_tokens, p);
  const cfgPath = path.join(path.dirname(p), 'tokenizer_config.json');
  if (fs.existsSync(cfgPath)) {
    const cfg = readTokenizerConfig(cfgPath);
    if (cfg.modelMaxLength !== undefined) src.modelMaxLength = cfg.modelMaxLength;
  }
  return src;
}

function readNormalizer(n: unknown, p: string, src: WordPieceSource): void {
  if (n === null || n === undefined) {
    Object.assign(src, { cleanText: false, handleChineseChars: false, stripAccents: false, lowercase: false });
    return;
  }
  const o = n as Record<string, unknown>;
  if (o.type !== 'BertNormalizer') {
    throw xtError('XT_INVALID', `${p}: normalizer.type is ${JSON.stringify(o.type)}; the WordPiece tokenizer supports "BertNormalizer" (or none)`);
  }
  const flag = (k: string, dflt: boolean): boolean => {
    const v = o[k];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'boolean') throw xtError('XT_INVALID', `${p}: normalizer.${k} must be true or false, got ${JSON.stringify(v)}`);
    return v;
  };
  src.cleanText = flag('clean_text', true);
  src.handleChineseChars = flag('handle_chinese_chars', true);
  src.lowercase = flag('lowercase', true);
  const sa = o.strip_accents;
  if (sa !== undefined && sa !== null && typeof sa !== 'boolean') throw xtError('XT_INVALID', `${p}: normalizer.strip_accents must be true, false or null`);
  src.stripAccents = sa === undefined ? null : (sa as boolean | null);
}

function readPreTokenizer(pt: unknown, p: string): void {
  const t = (pt as { type?: unknown } | null | undefined)?.type;
  if (t !== 'BertPreTokenizer') {
    throw xtError('XT_INVALID', `${p}: pre_tokenizer.type is ${JSON.stringify(t)}; the WordPiece tokenizer supports "BertPreTokenizer"`);
  }
}

/** [CLS]/[SEP] names from a BertProcessing or `[CLS] $A [SEP]` TemplateProcessing post-processor. */
function readPostProcessor(pp: unknown, p: string, src: WordPieceSource): void {
  if (pp === null || pp === undefined) return;
  const o = pp as { type?: unknown; cls?: unknown; sep?: unknown; single?: unknown };
  if (o.type === 'BertProcessing') {
    if (Array.isArray(o.cls) && typeof o.cls[0] === 'string') src.clsToken = o.cls[0];
    if (Array.isArray(o.sep) && typeof o.sep[0] === 'string') src.sepToken = o.sep[0];
    return;
  }
  if (o.type === 'TemplateProcessing' && Array.isArray(o.single)) {
    const single = o.single as Array<{ SpecialToken?: { id?: unknown }; Sequence?: { id?: unknown } }>;
    const ok = single.length === 3 && single[0].SpecialToken && single[1].Sequence && single[2].SpecialToken;
    const a = single[0]?.SpecialToken?.id;
    const b = single[2]?.SpecialToken?.id;
    if (!ok || typeof a !== 'string' || typeof b !== 'string') {
      throw xtError('XT_INVALID', `${p}: post_processor.single must be [CLS] $A [SEP] (a special token, the sequence, a special token)`);
    }
    src.clsToken = a;
    src.sepToken = b;
    return;
  }
  throw xtError('XT_INVALID', `${p}: post_processor.type is ${JSON.stringify(o.type)}; the WordPiece tokenizer supports "TemplateProcessing" ([CLS] $A [SEP]) or "BertProcessing"`);
}

function readAddedTokens(a: unknown, p: string): AddedTokenSpec[] {
  if (a === undefined || a === null) return [];
  if (!Array.isArray(a)) throw xtError('XT_INVALID', `${p}: added_tokens must be an array`);
  return a.map((t, i): AddedTokenSpec => {
    const o = t as Record<string, unknown>;
    if (!o || typeof o.content !== 'string' || typeof o.id !== 'number') {
      throw xtError('XT_INVALID', `${p}: added_tokens[${i}] must have a string "content" and a number "id"`);
    }
    const special = o.special === true;
    return {
      content: o.content,
      id: o.id,
      special,
      normalized: typeof o.normalized === 'boolean' ? o.normalized : !special,
      singleWord: o.single_word === true,
      lstrip: o.lstrip === true,
      rstrip: o.rstrip === true,
    };
  });
}
