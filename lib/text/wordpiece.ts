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
 *
 * This file holds the tokenizer itself (step 4, [CLS]/[SEP], padding, decoding); step 1 is in
 * wordpiece-added-tokens.ts, steps 2-3 in wordpiece-normalizer.ts, the file readers (vocab.txt,
 * tokenizer.json, tokenizer_config.json) in wordpiece-files.ts. The public names are re-exported here.
 */
import * as fs from 'fs';
import * as path from 'path';
import { xtError } from '../errors';
import { TextTokenizer } from './text-tokenizer';
import { isNormalized, makeMatcher, Matcher, Piece, splitAdded } from './wordpiece-added-tokens';
import { findWordPieceFile, readVocabTxt, readWordPieceJson } from './wordpiece-files';
import { bertNormalize, BertNormalizerOptions, forEachWord, replaceLoneSurrogates } from './wordpiece-normalizer';
import { AddedTokenSpec, definedOnly, WordPieceOptions, WordPieceSource } from './wordpiece-options';

export type { AddedTokenSpec, WordPieceOptions, WordPieceSource } from './wordpiece-options';
export type { BertNormalizerOptions } from './wordpiece-normalizer';
export { bertNormalize, bertPreTokenize } from './wordpiece-normalizer';
export { findWordPieceFile, readTokenizerConfig, readVocabTxt, readWordPieceJson, WORDPIECE_FILES } from './wordpiece-files';

const MAX_ID = 1 << 24;
const CACHE_LIMIT = 1 << 18;

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
    text = replaceLoneSurrogates(text);
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

/** `findWordPieceFile` then `fromFile`; undefined when the directory has no WordPiece tokenizer. */
export function findWordPieceTokenizer(dir: string, overrides: WordPieceOptions = {}): WordPieceTokenizer | undefined {
  const f = findWordPieceFile(dir);
  return f ? WordPieceTokenizer.fromFile(f, overrides) : undefined;
}
