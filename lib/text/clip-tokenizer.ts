/**
 * CLIP's byte-level BPE tokenizer, reproducing OpenAI's `clip/simple_tokenizer.py` id for id.
 *
 * Vocabulary sources:
 *  - OpenAI's merges file `bpe_simple_vocab_16e6.txt(.gz)`: the vocabulary is built the way OpenAI
 *    builds it (256 byte symbols, the same with `</w>`, one token per merge, then the two specials);
 *  - Hugging Face `vocab.json` + `merges.txt`, or a `tokenizer.json` (a CLIP checkpoint directory, or
 *    one written by `trainBpeTokenizer`).
 *
 * Pipeline per text: `clipNormalize` (ftfy subset, HTML-unescape twice, whitespace collapse, strip,
 * lowercase; see normalize.ts), pre-tokenisation with OpenAI's pattern
 *   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+   (ignore case)
 * (a hand-written scanner for ASCII text, the equivalent regex otherwise), then byte-level BPE with a
 * `</w>` end-of-word marker, merging the lowest-ranked adjacent pair until none is in the merge table.
 * Results are cached per pre-token, as OpenAI's code does.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { xtError } from '../errors';
import { pairSlot, PairTable, TokenCache } from './bpe-tables';
import { basicCleanUnstripped, needsFix, PY_SPACE_CLASS } from './normalize';
import { TextTokenizer } from './text-tokenizer';

export const START_OF_TEXT = '<|startoftext|>';
export const END_OF_TEXT = '<|endoftext|>';
export const END_OF_WORD = '</w>';
/** Merges OpenAI keeps from `bpe_simple_vocab_16e6.txt`: `merges[1:49152-256-2+1]`. */
export const OPENAI_MERGE_COUNT = 49152 - 256 - 2;

/** GPT-2/CLIP byte→unicode table: printable bytes map to themselves, the rest to U+0100 onwards. */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  const table = new Array<string>(256);
  for (let i = 0; i < bs.length; i++) table[bs[i]] = String.fromCharCode(cs[i]);
  return table;
}

/** The 256 byte symbols in the order CLIP's vocabulary lists them (order of `bytes_to_unicode().values()`). */
export function byteSymbolsInVocabOrder(): string[] {
  const table = bytesToUnicode();
  const order: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) order.push(b);
  for (let b = 0xa1; b <= 0xac; b++) order.push(b);
  for (let b = 0xae; b <= 0xff; b++) order.push(b);
  for (let b = 0; b < 256; b++) if (!order.includes(b)) order.push(b);
  return order.map((b) => table[b]);
}

let warmedUp = false;
const WARMUP_TEXTS = [
  "PA and LATERAL: No acute process. It's 3.5cm (x2); they're <|startoftext|> ok <|endoftext|> 'x",
  'heart &amp; lungs: normal. 1. clear 2. no effusion',
  'Größe 3,5 cm – kein Erguss; naïve “quotes”',
  'plain lower case text, with digits 123 and symbols -- / ?',
];
const MAX_ID = 1 << 24; // sanity bound on token ids (the decoder is an array)
const CACHE_LIMIT = 1 << 20;

/** Pre-tokenisation for non-ASCII text (OpenAI's pattern; `\s` spelled out as Python's). */
const PRETOKEN_RE = new RegExp(
  `<\\|startoftext\\|>|<\\|endoftext\\|>|'[sSſ]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]|\\p{L}+|\\p{N}|[^${PY_SPACE_CLASS}\\p{L}\\p{N}]+`,
  'gu',
);
const NON_ASCII_RE = /[^\x00-\x7f]/;

// ASCII character classes for the scanner: 0 space, 1 letter, 2 digit, 3 symbol.
const ASCII_CLASS = new Uint8Array(128).fill(3);
for (const c of [9, 10, 11, 12, 13, 28, 29, 30, 31, 32]) ASCII_CLASS[c] = 0;
for (let c = 65; c <= 90; c++) ASCII_CLASS[c] = 1;
for (let c = 97; c <= 122; c++) ASCII_CLASS[c] = 1;
for (let c = 48; c <= 57; c++) ASCII_CLASS[c] = 2;

/** Whether text[i…] starts with `lit` (lower case), ignoring ASCII case in text. */
function startsWithFolded(text: string, i: number, lit: string): boolean {
  if (i + lit.length > text.length) return false;
  for (let k = 0; k < lit.length; k++) {
    let c = text.charCodeAt(i + k);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lit.charCodeAt(k)) return false;
  }
  return true;
}

/** End of the ASCII pre-token that starts at i (text[i] is not white space). */
function asciiTokenEnd(text: string, i: number, len: number): number {
  const cls = ASCII_CLASS[text.charCodeAt(i)];
  let j = i + 1;
  if (cls === 1) {
    while (j < len && ASCII_CLASS[text.charCodeAt(j)] === 1) j++;
    return j;
  }
  if (cls === 2) return j;
  const c = text.charCodeAt(i);
  if (c === 0x3c || c === 0x27) {
    const special = specialOrContractionEnd(text, i, c);
    if (special) return special;
  }
  while (j < len && ASCII_CLASS[text.charCodeAt(j)] === 3) j++;
  return j;
}

/** End of `<|startoftext|>`, `<|endoftext|>` or a contraction at i, or 0. */
function specialOrContractionEnd(text: string, i: number, c: number): number {
  if (c === 0x3c) {
    if (startsWithFolded(text, i, START_OF_TEXT)) return i + START_OF_TEXT.length;
    if (startsWithFolded(text, i, END_OF_TEXT)) return i + END_OF_TEXT.length;
    return 0;
  }
  const cl = contractionLength(text, i);
  return cl ? i + cl : 0;
}

/** Length of a contraction (`'s`, `'t`, `'re`, `'ve`, `'m`, `'ll`, `'d`) starting at `i` (an apostrophe), or 0. */
function contractionLength(t: string, i: number): number {
  const a = t.charCodeAt(i + 1) | 0x20;
  if (a === 0x73 /* s */ || a === 0x74 /* t */ || a === 0x6d /* m */ || a === 0x64 /* d */) return i + 1 < t.length ? 2 : 0;
  const b = t.charCodeAt(i + 2) | 0x20;
  if ((a === 0x72 && b === 0x65) || (a === 0x76 && b === 0x65) || (a === 0x6c && b === 0x6c)) return i + 2 < t.length ? 3 : 0;
  return 0;
}

/**
 * Calls `f(start, end)` for each pre-token of ASCII text (as `pretokenize` would split it), without
 * making substrings. The text must hold no character above U+007F.
 */
export function forEachAsciiPretoken(text: string, f: (start: number, end: number) => void): void {
  const n = text.length;
  let i = 0;
  while (i < n) {
    if (ASCII_CLASS[text.charCodeAt(i)] === 0) {
      i++;
      continue;
    }
    const j = asciiTokenEnd(text, i, n);
    f(i, j);
    i = j;
  }
}

/** True when text holds a character above U+007F. */
export function hasNonAscii(text: string): boolean {
  return NON_ASCII_RE.test(text);
}

/** Pre-tokens by the regular expression (used for non-ASCII text; any text is accepted). */
export function pretokenizeRegex(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(PRETOKEN_RE)) out.push(m[0]);
  return out;
}

/**
 * Split normalised text into pre-tokens, exactly as `re.findall(pat, text)` does. Exported for tests
 * and for the BPE trainer.
 */
export function pretokenize(text: string): string[] {
  if (NON_ASCII_RE.test(text)) return pretokenizeRegex(text);
  const out: string[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    if (ASCII_CLASS[text.charCodeAt(i)] === 0) {
      i++;
      continue;
    }
    const j = asciiTokenEnd(text, i, n);
    out.push(text.slice(i, j));
    i = j;
  }
  return out;
}

export interface ClipTokenizerSource {
  /** Token string → id. */
  vocab: Map<string, number>;
  /** Merge rules in rank order. */
  merges: Array<[string, string]>;
  /** Where it was read from (for messages). */
  origin?: string;
  /** Optional [id(a), id(b), id(a+b)] per merge, when the reader already knows them. */
  pairIds?: Int32Array;
}

/** CLIP BPE tokenizer (see the file comment). Construct with `fromFile` or `fromVocab`. */
export class ClipTokenizer implements TextTokenizer {
  /** Id of `<|startoftext|>` (49406 for OpenAI's vocabulary). */
  readonly startId: number;
  /** Id of `<|endoftext|>` (49407 for OpenAI's vocabulary). */
  readonly endId: number;
  /** Number of ids (largest id + 1); the text model's embedding table must be at least this big. */
  readonly vocabSize: number;
  readonly mergeCount: number;
  readonly origin: string;

  private readonly encoder: Map<string, number>;
  private readonly decoder: string[];
  /** (a, b) → merge rank and merged id. */
  private readonly ranks: PairTable;
  private readonly byteIds = new Int32Array(256);
  private readonly byteEowIds = new Int32Array(256);
  private readonly cache = new TokenCache<Int32Array>(CACHE_LIMIT);
  private scratch = new Int32Array(1024);
  private bpeBuf = new Int32Array(64);

  private constructor(src: ClipTokenizerSource) {
    this.origin = src.origin ?? 'vocabulary';
    this.encoder = src.vocab;
    let maxId = -1;
    for (const id of src.vocab.values()) {
      if (!Number.isInteger(id) || id < 0 || id >= MAX_ID) {
        throw xtError('XT_INVALID', `${this.origin}: token id ${id} out of range (expected an integer in [0, ${MAX_ID}))`);
      }
      if (id > maxId) maxId = id;
    }
    this.vocabSize = maxId + 1;
    this.decoder = new Array<string>(this.vocabSize);
    for (const [tok, id] of src.vocab) this.decoder[id] = tok;

    const table = bytesToUnicode();
    for (let b = 0; b < 256; b++) {
      const s = table[b];
      const id = src.vocab.get(s);
      const eow = src.vocab.get(s + END_OF_WORD);
      if (id === undefined || eow === undefined) {
        throw xtError('XT_INVALID', `${this.origin}: vocabulary lacks the byte symbol ${JSON.stringify(id === undefined ? s : s + END_OF_WORD)} (not a CLIP byte-level BPE vocabulary)`);
      }
      this.byteIds[b] = id;
      this.byteEowIds[b] = eow;
    }
    const sot = src.vocab.get(START_OF_TEXT);
    const eot = src.vocab.get(END_OF_TEXT);
    if (sot === undefined || eot === undefined) {
      throw xtError('XT_INVALID', `${this.origin}: vocabulary lacks ${sot === undefined ? START_OF_TEXT : END_OF_TEXT}`);
    }
    this.startId = sot;
    this.endId = eot;

    this.ranks = new PairTable(src.merges.length);
    const pre = src.pairIds;
    if (pre && pre.length === src.merges.length * 3) {
      for (let rank = 0, k = 0; rank < src.merges.length; rank++, k += 3) this.ranks.setIfAbsent(pre[k], pre[k + 1], rank, pre[k + 2]);
    } else {
      src.merges.forEach(([a, b], rank) => {
        const ia = src.vocab.get(a);
        const ib = src.vocab.get(b);
        const im = src.vocab.get(a + b);
        if (ia === undefined || ib === undefined || im === undefined) {
          throw xtError('XT_INVALID', `${this.origin}: merge ${rank + 1} "${a} ${b}" uses a token missing from the vocabulary`);
        }
        this.ranks.setIfAbsent(ia, ib, rank, im);
      });
    }
    this.mergeCount = src.merges.length;
    this.clearCache();
    if (!warmedUp) {
      // Give the JIT type feedback for every branch before it optimizes the hot functions, so they
      // are not deoptimized and recompiled when a rare branch first runs (once per process).
      warmedUp = true;
      for (let k = 0; k < 4; k++) for (const t of WARMUP_TEXTS) this.encodeToScratch(t);
      this.clearCache();
    }
  }

  /** Build from an in-memory vocabulary and merge list. */
  static fromVocab(src: ClipTokenizerSource): ClipTokenizer {
    return new ClipTokenizer(src);
  }

  /**
   * Read a tokenizer from a file or a model/checkpoint directory:
   *  - `*.txt.gz` / `*.txt` merges in OpenAI's format (e.g. `bpe_simple_vocab_16e6.txt.gz`);
   *  - `vocab.json` or `merges.txt` (the other must sit beside it) in Hugging Face's format;
   *  - `tokenizer.json` (Hugging Face fast-tokenizer format, BPE model);
   *  - a directory holding any of these (see `findTokenizer`).
   * Throws XT_IO when nothing readable is there, XT_INVALID for malformed files.
   */
  static fromFile(p: string): ClipTokenizer {
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch {
      throw xtError('XT_IO', `tokenizer: no such file or directory: ${p}`);
    }
    if (st.isDirectory()) {
      const t = findTokenizer(p);
      if (!t) {
        throw xtError('XT_IO', `tokenizer: ${p} holds no tokenizer (expected tokenizer.json, vocab.json + merges.txt, or bpe_simple_vocab_16e6.txt.gz)`);
      }
      return t;
    }
    const base = path.basename(p).toLowerCase();
    if (base.endsWith('.json') && base !== 'vocab.json') return new ClipTokenizer(readTokenizerJson(p));
    if (base === 'vocab.json') return new ClipTokenizer(readHfPair(p, path.join(path.dirname(p), 'merges.txt')));
    if (base === 'merges.txt' && fs.existsSync(path.join(path.dirname(p), 'vocab.json'))) {
      return new ClipTokenizer(readHfPair(path.join(path.dirname(p), 'vocab.json'), p));
    }
    return new ClipTokenizer(readOpenAiMerges(p));
  }

  /** BPE ids of `text` (no start/end tokens). */
  encode(text: string): number[] {
    const n = this.encodeToScratch(text);
    const out = new Array<number>(n);
    const s = this.scratch;
    for (let i = 0; i < n; i++) out[i] = s[i];
    return out;
  }

  /**
   * Token matrix [texts.length, contextLength], row-major: start token, ids, end token, zeros.
   * Texts that do not fit are truncated to their first contextLength - 2 ids and still end with the
   * end token (OpenAI's `tokenize(..., truncate=True)`).
   */
  tokenize(texts: readonly string[] | string, contextLength = 77): Int32Array {
    const list = typeof texts === 'string' ? [texts] : texts;
    if (!Number.isInteger(contextLength) || contextLength < 2) {
      throw xtError('XT_INVALID', `tokenize: contextLength must be an integer >= 2, got ${contextLength}`);
    }
    const out = new Int32Array(list.length * contextLength);
    for (let r = 0; r < list.length; r++) {
      const n = this.encodeToScratch(list[r]);
      const keep = Math.min(n, contextLength - 2);
      const o = r * contextLength;
      out[o] = this.startId;
      out.set(this.scratch.subarray(0, keep), o + 1);
      out[o + 1 + keep] = this.endId;
    }
    return out;
  }

  /** Number of BPE ids of `text` (without start/end), e.g. to see what `tokenize` would cut. */
  countTokens(text: string): number {
    return this.encodeToScratch(text);
  }

  /** Text of the ids (OpenAI's `decode`: `</w>` becomes a space; specials are kept as written). */
  decode(ids: ArrayLike<number>): string {
    let s = '';
    for (let i = 0; i < ids.length; i++) {
      const t = this.decoder[ids[i]];
      if (t === undefined) throw xtError('XT_INVALID', `decode: id ${ids[i]} is not in the vocabulary`);
      s += t;
    }
    const inverse = byteDecoder();
    const bytes = new Uint8Array(s.length);
    let n = 0;
    for (let i = 0; i < s.length; i++) {
      const b = inverse.get(s.charCodeAt(i));
      if (b !== undefined) bytes[n++] = b;
    }
    return new TextDecoder('utf-8').decode(bytes.subarray(0, n)).split(END_OF_WORD).join(' ');
  }

  /** Id of a token string, or undefined. */
  tokenId(token: string): number | undefined {
    return this.encoder.get(token);
  }

  /** Token string of an id, or undefined. */
  idToken(id: number): string | undefined {
    return this.decoder[id];
  }

  /** Drop the per-word cache (it is capped anyway). */
  clearCache(): void {
    this.cache.clear();
    this.cache.set(START_OF_TEXT, Int32Array.of(this.startId));
    this.cache.set(END_OF_TEXT, Int32Array.of(this.endId));
  }

  private push(n: number, ids: Int32Array): number {
    const need = n + ids.length;
    if (need > this.scratch.length) this.growScratch(need, n);
    const s = this.scratch;
    for (let k = 0; k < ids.length; k++) s[n + k] = ids[k];
    return need;
  }

  private encodeToScratch(text: string): number {
    // Printable ASCII without '&' is left as is by ftfy and html.unescape; whitespace only separates
    // pre-tokens, so such text is scanned directly, lower-casing on the fly.
    if (!needsFix(text)) return this.scanAscii(text.toLowerCase());
    const norm = basicCleanUnstripped(text).toLowerCase();
    if (!NON_ASCII_RE.test(norm)) return this.scanAscii(norm);
    let n = 0;
    for (const tok of pretokenizeRegex(norm)) {
      let ids = this.cache.get(tok);
      if (ids === undefined) ids = this.bpeAndCache(tok);
      n = this.push(n, ids);
    }
    return n;
  }

  /** The scanner of `pretokenize` over ASCII text, feeding the cache straight from text ranges. */
  private scanAscii(text: string): number {
    const len = text.length;
    let n = 0;
    let i = 0;
    while (i < len) {
      if (ASCII_CLASS[text.charCodeAt(i)] === 0) {
        i++;
        continue;
      }
      const j = asciiTokenEnd(text, i, len);
      let ids = this.cache.getRange(text, i, j);
      if (ids === undefined) ids = this.bpeAndCache(text.slice(i, j));
      n = this.push(n, ids);
      i = j;
    }
    return n;
  }

  private growScratch(need: number, keep: number): void {
    const bigger = new Int32Array(Math.max(need, this.scratch.length * 2));
    bigger.set(this.scratch.subarray(0, keep));
    this.scratch = bigger;
  }

  private bpeAndCache(tok: string): Int32Array {
    const ids = this.bpe(tok);
    if (this.cache.size >= CACHE_LIMIT) this.clearCache();
    this.cache.set(tok, ids);
    return ids;
  }

  /** Byte-level BPE of one pre-token, as ids (merging in place; the pair-table probe inlined). */
  private bpe(tok: string): Int32Array {
    const bytes = NON_ASCII_RE.test(tok) ? Buffer.from(tok, 'utf8') : asciiCodes(tok);
    const n = bytes.length;
    if (n === 0) return new Int32Array(0);
    if (this.bpeBuf.length < n) this.bpeBuf = new Int32Array(n * 2);
    const sym = this.bpeBuf;
    for (let i = 0; i < n - 1; i++) sym[i] = this.byteIds[bytes[i]];
    sym[n - 1] = this.byteEowIds[bytes[n - 1]];
    const { keyA, keyB, rank, merged, mask } = this.ranks;
    let len = n;
    while (len > 1) {
      let best = 0x7fffffff;
      let first = -1;
      let second = -1;
      let m = -1;
      for (let i = 0; i < len - 1; i++) {
        const a = sym[i];
        const b = sym[i + 1];
        let s = pairSlot(a, b) & mask;
        for (;;) {
          const ka = keyA[s];
          if (ka === -1) break;
          if (ka === a && keyB[s] === b) {
            if (rank[s] < best) {
              best = rank[s];
              first = a;
              second = b;
              m = merged[s];
            }
            break;
          }
          s = (s + 1) & mask;
        }
      }
      if (m < 0) break;
      let w = 0;
      for (let r = 0; r < len; ) {
        if (r + 1 < len && sym[r] === first && sym[r + 1] === second) {
          sym[w++] = m;
          r += 2;
        } else {
          sym[w++] = sym[r++];
        }
      }
      len = w;
    }
    return sym.slice(0, len);
  }
}

function asciiCodes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

let byteDecoderCache: Map<number, number> | undefined;
function byteDecoder(): Map<number, number> {
  if (!byteDecoderCache) {
    const t = bytesToUnicode();
    byteDecoderCache = new Map(t.map((c, b) => [c.charCodeAt(0), b]));
  }
  return byteDecoderCache;
}

function readText(p: string): string {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(p);
  } catch (e) {
    throw xtError('XT_IO', `tokenizer: cannot read ${p}: ${(e as Error).message}`);
  }
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = zlib.gunzipSync(buf);
    } catch (e) {
      throw xtError('XT_IO', `tokenizer: ${p} is not valid gzip: ${(e as Error).message}`);
    }
  }
  return buf.toString('utf8');
}

function parseMergeLine(line: string, where: string): [string, string] {
  const sp = line.indexOf(' ');
  if (sp > 0 && sp < line.length - 1 && line.indexOf(' ', sp + 1) < 0 && line.indexOf('\t') < 0) {
    return [line.slice(0, sp), line.slice(sp + 1)];
  }
  const parts = line.split(/[ \t]+/).filter((s) => s.length > 0);
  if (parts.length !== 2) throw xtError('XT_INVALID', `${where}: expected "a b", got ${JSON.stringify(line.slice(0, 80))}`);
  return [parts[0], parts[1]];
}

/** OpenAI merges file: vocabulary built as `simple_tokenizer.py` does. */
export function readOpenAiMerges(p: string, maxMerges = OPENAI_MERGE_COUNT): ClipTokenizerSource {
  const text = readText(p);
  // Only the first maxMerges + 1 lines are used (OpenAI's file has 262,145).
  let cut = -1;
  for (let k = 0; k <= maxMerges + 1; k++) {
    cut = text.indexOf('\n', cut + 1);
    if (cut < 0) break;
  }
  const lines = (cut < 0 ? text : text.slice(0, cut)).split('\n');
  const merges: Array<[string, string]> = [];
  for (let i = 1; i < lines.length && merges.length < maxMerges; i++) {
    if (lines[i].trim() === '') {
      if (i === lines.length - 1) break;
      throw xtError('XT_INVALID', `${p}: empty merge line ${i + 1}`);
    }
    merges.push(parseMergeLine(lines[i], `${p}:${i + 1}`));
  }
  if (merges.length === 0) throw xtError('XT_INVALID', `${p}: no merges found (expected OpenAI's bpe merges format)`);
  const vocab = new Map<string, number>();
  let id = 0;
  const syms = byteSymbolsInVocabOrder();
  for (const s of syms) vocab.set(s, id++);
  for (const s of syms) vocab.set(s + END_OF_WORD, id++);
  // Ids of each merge's parts and result, found while the vocabulary is built (valid when no merge
  // repeats an earlier token: then every lookup already sees the final ids).
  const pairIds = new Int32Array(merges.length * 3);
  let exact = true;
  for (let k = 0; k < merges.length; k++) {
    const [a, b] = merges[k];
    const ia = vocab.get(a);
    const ib = vocab.get(b);
    if (ia === undefined || ib === undefined) exact = false;
    pairIds[3 * k] = ia ?? -1;
    pairIds[3 * k + 1] = ib ?? -1;
    pairIds[3 * k + 2] = id;
    const before = vocab.size;
    vocab.set(a + b, id++);
    if (vocab.size === before) exact = false;
  }
  vocab.set(START_OF_TEXT, id++);
  vocab.set(END_OF_TEXT, id++);
  if (vocab.size !== id) exact = false;
  return { vocab, merges, origin: p, pairIds: exact ? pairIds : undefined };
}

function parseJson(p: string): unknown {
  try {
    return JSON.parse(readText(p));
  } catch (e) {
    if ((e as { code?: string }).code === 'XT_IO') throw e;
    throw xtError('XT_INVALID', `${p}: not valid JSON: ${(e as Error).message}`);
  }
}

function toVocabMap(obj: unknown, where: string): Map<string, number> {
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) {
    throw xtError('XT_INVALID', `${where}: vocab must be an object of token → id`);
  }
  const m = new Map<string, number>();
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
    if (typeof v !== 'number') throw xtError('XT_INVALID', `${where}: id of ${JSON.stringify(k)} is not a number`);
    m.set(k, v);
  }
  return m;
}

/** Hugging Face `vocab.json` + `merges.txt`. */
export function readHfPair(vocabPath: string, mergesPath: string): ClipTokenizerSource {
  const vocab = toVocabMap(parseJson(vocabPath), vocabPath);
  const lines = readText(mergesPath).split('\n');
  const merges: Array<[string, string]> = [];
  lines.forEach((line, i) => {
    if (line.trim() === '' || (i === 0 && line.startsWith('#version'))) return;
    merges.push(parseMergeLine(line.replace(/\r$/, ''), `${mergesPath}:${i + 1}`));
  });
  return { vocab, merges, origin: vocabPath };
}

/** Hugging Face `tokenizer.json` with a BPE model. */
export function readTokenizerJson(p: string): ClipTokenizerSource {
  const j = parseJson(p) as { model?: { type?: string; vocab?: unknown; merges?: unknown }; added_tokens?: unknown };
  const model = j.model;
  if (!model || (model.type !== undefined && model.type !== 'BPE')) {
    throw xtError('XT_INVALID', `${p}: model.type must be "BPE", got ${JSON.stringify(model?.type)}`);
  }
  const vocab = toVocabMap(model.vocab, `${p} model.vocab`);
  if (Array.isArray(j.added_tokens)) {
    for (const t of j.added_tokens as Array<{ id?: unknown; content?: unknown }>) {
      if (typeof t.content === 'string' && typeof t.id === 'number' && !vocab.has(t.content)) vocab.set(t.content, t.id);
    }
  }
  if (!Array.isArray(model.merges)) throw xtError('XT_INVALID', `${p}: model.merges must be an array`);
  const merges = (model.merges as unknown[]).map((m, i): [string, string] => {
    if (typeof m === 'string') return parseMergeLine(m, `${p} model.merges[${i}]`);
    if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') return [m[0], m[1]];
    throw xtError('XT_INVALID', `${p}: model.merges[${i}] must be "a b" or ["a", "b"]`);
  });
  return { vocab, merges, origin: p };
}

/** Files looked for in a model directory, in this order. */
export const TOKENIZER_FILES = ['tokenizer.json', 'vocab.json', 'bpe_simple_vocab_16e6.txt.gz', 'bpe_simple_vocab_16e6.txt'];

/**
 * The tokenizer a model directory carries (`tokenizer.json`, `vocab.json` + `merges.txt`, or OpenAI's
 * `bpe_simple_vocab_16e6.txt[.gz]`, also inside a `tokenizer/` subfolder), or undefined when it has none.
 */
export function findTokenizer(modelDir: string): ClipTokenizer | undefined {
  for (const dir of [modelDir, path.join(modelDir, 'tokenizer')]) {
    for (const f of TOKENIZER_FILES) {
      const p = path.join(dir, f);
      if (!fs.existsSync(p)) continue;
      if (f === 'vocab.json' && !fs.existsSync(path.join(dir, 'merges.txt'))) continue;
      return ClipTokenizer.fromFile(p);
    }
  }
  return undefined;
}
