/**
 * Training a CLIP-style byte-level BPE from report text, for models trained from scratch (so a demo
 * needs no downloaded vocabulary).
 *
 * Same pre-processing as the tokenizer that will read it back (CLIP normalisation, OpenAI's
 * pre-tokenisation pattern, bytes mapped through `bytes_to_unicode`, `</w>` marking the end of each
 * word), and the same vocabulary layout as CLIP's: the 256 byte symbols, the same with `</w>`, one
 * token per learned merge, then `<|startoftext|>` and `<|endoftext|>`. Saved in the Hugging Face
 * layout (`vocab.json` + `merges.txt`, plus a `tokenizer_config.json`), which `ClipTokenizer.fromFile`
 * and `findTokenizer` read back.
 *
 * Training is the classic greedy algorithm (merge the most frequent adjacent pair, repeat) with
 * incremental pair counts: each merge only revisits the words that contain the merged pair, and a
 * lazy max-heap finds the next pair. Ties go to the pair of older symbols (smaller ids), so a corpus
 * always gives the same merges.
 */
import * as fs from 'fs';
import * as path from 'path';
import { xtError } from '../errors';
import {
  byteSymbolsInVocabOrder,
  bytesToUnicode,
  ClipTokenizer,
  END_OF_TEXT,
  END_OF_WORD,
  forEachAsciiPretoken,
  hasNonAscii,
  pretokenize,
  START_OF_TEXT,
} from './clip-tokenizer';
import { PairTable, TokenCache } from './bpe-tables';
import { normalizeForPretokenize } from './normalize';

/** Ids taken by the byte symbols (256 plain + 256 with `</w>`) and the two special tokens. */
export const BPE_BASE_VOCAB = 512 + 2;

export interface TrainBpeOptions {
  /** Total vocabulary size, byte symbols and the two special tokens included (at least 514). */
  vocabSize: number;
  /** A pair must occur at least this often to be merged. Default 2. */
  minFrequency?: number;
  /** Called every `progressEvery` merges with the number of merges so far. */
  onProgress?: (merges: number, vocab: number) => void;
  progressEvery?: number;
}

export interface TrainedBpe {
  vocab: Map<string, number>;
  merges: Array<[string, string]>;
  /** Distinct words and their total count in the corpus. */
  words: number;
  wordCount: number;
  /** Why training stopped. */
  stop: 'vocab-size' | 'min-frequency';
  tokenizer: ClipTokenizer;
}

/** Counts of pre-tokens (as CLIP sees them) over texts. */
export function countWords(texts: Iterable<string>, into = new Map<string, number>()): Map<string, number> {
  // Count in a range-keyed table (no substring per word), then fold into the Map.
  const index = new TokenCache<number>(Infinity, 1 << 16);
  const keys: string[] = [];
  const counts: number[] = [];
  const countKey = (key: string): void => {
    let k = index.get(key);
    if (k === undefined) {
      k = keys.length;
      keys.push(key);
      counts.push(0);
      index.set(key, k);
    }
    counts[k]++;
  };
  for (const t of texts) {
    const norm = normalizeForPretokenize(t);
    if (hasNonAscii(norm)) {
      for (const w of pretokenize(norm)) countKey(w);
      continue;
    }
    forEachAsciiPretoken(norm, (i, j) => {
      let k = index.getRange(norm, i, j);
      if (k === undefined) {
        const key = norm.slice(i, j);
        k = keys.length;
        keys.push(key);
        counts.push(0);
        index.set(key, k);
      }
      counts[k]++;
    });
  }
  keys.forEach((w, k) => {
    if (w === START_OF_TEXT || w === END_OF_TEXT) return;
    into.set(w, (into.get(w) ?? 0) + counts[k]);
  });
  return into;
}

const MAX_SYMBOLS = 1 << 24;

/**
 * Max-heap of pair ids by (count desc, first symbol asc, second symbol asc). Entries carry the count
 * they were pushed with; stale ones are skipped when popped.
 */
class PairHeap {
  private counts: number[] = [];
  private pids: number[] = [];

  constructor(
    private readonly first: number[],
    private readonly second: number[],
  ) {}

  get size(): number {
    return this.counts.length;
  }

  private above(i: number, j: number): boolean {
    const ci = this.counts[i];
    const cj = this.counts[j];
    if (ci !== cj) return ci > cj;
    const pi = this.pids[i];
    const pj = this.pids[j];
    const ai = this.first[pi];
    const aj = this.first[pj];
    return ai < aj || (ai === aj && this.second[pi] < this.second[pj]);
  }

  private swap(i: number, j: number): void {
    const c = this.counts[i];
    this.counts[i] = this.counts[j];
    this.counts[j] = c;
    const p = this.pids[i];
    this.pids[i] = this.pids[j];
    this.pids[j] = p;
  }

  push(count: number, pid: number): void {
    this.counts.push(count);
    this.pids.push(pid);
    let i = this.counts.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.above(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  /** Remove the top; returns its count and sets `poppedPid`. */
  pop(): number {
    const count = this.counts[0];
    this.poppedPid = this.pids[0];
    const lastC = this.counts.pop() as number;
    const lastP = this.pids.pop() as number;
    const n = this.counts.length;
    if (n) {
      this.counts[0] = lastC;
      this.pids[0] = lastP;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < n && this.above(l, m)) m = l;
        if (r < n && this.above(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return count;
  }

  poppedPid = -1;
}

/** Learn merges from word counts (see the file comment). */
export function trainBpeFromCounts(wordCounts: Map<string, number>, opts: TrainBpeOptions): TrainedBpe {
  const vocabSize = opts.vocabSize;
  if (!Number.isInteger(vocabSize) || vocabSize < BPE_BASE_VOCAB || vocabSize >= MAX_SYMBOLS) {
    throw xtError('XT_INVALID', `vocabSize must be an integer in [${BPE_BASE_VOCAB}, ${MAX_SYMBOLS}), got ${vocabSize}`);
  }
  const minFrequency = opts.minFrequency ?? 2;
  if (!(minFrequency >= 1)) throw xtError('XT_INVALID', `minFrequency must be >= 1, got ${minFrequency}`);

  // Symbols: the 512 byte symbols first, in CLIP's vocabulary order.
  const symbols: string[] = [];
  const symbolId = new Map<string, number>();
  const addSymbol = (s: string): number => {
    let id = symbolId.get(s);
    if (id === undefined) {
      id = symbols.length;
      symbols.push(s);
      symbolId.set(s, id);
    }
    return id;
  };
  const byteSyms = byteSymbolsInVocabOrder();
  for (const s of byteSyms) addSymbol(s);
  for (const s of byteSyms) addSymbol(s + END_OF_WORD);
  const table = bytesToUnicode();
  const plainId = new Int32Array(256);
  const eowId = new Int32Array(256);
  for (let b = 0; b < 256; b++) {
    plainId[b] = symbolId.get(table[b]) as number;
    eowId[b] = symbolId.get(table[b] + END_OF_WORD) as number;
  }

  // Words as symbol sequences.
  const words: Int32Array[] = [];
  const freqs: number[] = [];
  let wordCount = 0;
  for (const [w, f] of wordCounts) {
    const bytes = Buffer.from(w, 'utf8');
    if (bytes.length === 0) continue;
    const seq = new Int32Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) seq[i] = i === bytes.length - 1 ? eowId[bytes[i]] : plainId[bytes[i]];
    words.push(seq);
    freqs.push(f);
    wordCount += f;
  }

  // Pairs get integer ids; counts, positions and the heap work on those.
  const pairIds = new PairTable(1 << 16);
  const first: number[] = [];
  const second: number[] = [];
  const counts: number[] = [];
  const where: number[][] = [];
  const pairOf = (a: number, b: number): number => {
    const slot = pairIds.find(a, b);
    if (slot >= 0) return pairIds.rankAt(slot);
    const pid = first.length;
    pairIds.setIfAbsent(a, b, pid, 0);
    first.push(a);
    second.push(b);
    counts.push(0);
    where.push([]);
    return pid;
  };
  const noteWord = (pid: number, w: number): void => {
    const list = where[pid];
    if (list.length === 0 || list[list.length - 1] !== w) list.push(w);
  };
  words.forEach((seq, w) => {
    const f = freqs[w];
    for (let i = 0; i + 1 < seq.length; i++) {
      const pid = pairOf(seq[i], seq[i + 1]);
      counts[pid] += f;
      noteWord(pid, w);
    }
  });
  const heap = new PairHeap(first, second);
  for (let pid = 0; pid < counts.length; pid++) if (counts[pid] > 0) heap.push(counts[pid], pid);

  const merges: Array<[string, string]> = [];
  const vocabTokens = new Set<string>(symbols);
  let stop: TrainedBpe['stop'] = 'vocab-size';
  const seen = new Int32Array(words.length).fill(-1);
  const every = opts.progressEvery ?? 1000;
  const delta: number[] = [];
  const touched: number[] = [];
  const bump = (pid: number, d: number): void => {
    if (delta[pid] === undefined || delta[pid] === 0) {
      if (delta[pid] === undefined) delta[pid] = 0;
      touched.push(pid);
    }
    delta[pid] += d;
  };
  let next = new Int32Array(64);

  while (vocabTokens.size + 2 < vocabSize) {
    if (heap.size === 0) {
      stop = 'min-frequency';
      break;
    }
    const c = heap.pop();
    const top = heap.poppedPid;
    if (counts[top] !== c) continue; // stale entry
    if (c < minFrequency) {
      stop = 'min-frequency';
      break;
    }
    const a = first[top];
    const b = second[top];
    const mergedStr = symbols[a] + symbols[b];
    const m = addSymbol(mergedStr);
    merges.push([symbols[a], symbols[b]]);
    vocabTokens.add(mergedStr);

    const stamp = merges.length - 1;
    for (const w of where[top]) {
      if (seen[w] === stamp) continue;
      seen[w] = stamp;
      const seq = words[w];
      let has = false;
      for (let i = 0; i + 1 < seq.length; i++) {
        if (seq[i] === a && seq[i + 1] === b) {
          has = true;
          break;
        }
      }
      if (!has) continue;
      const f = freqs[w];
      for (let i = 0; i + 1 < seq.length; i++) bump(pairOf(seq[i], seq[i + 1]), -f);
      if (next.length < seq.length) next = new Int32Array(seq.length * 2);
      let len = 0;
      for (let i = 0; i < seq.length; ) {
        if (i + 1 < seq.length && seq[i] === a && seq[i + 1] === b) {
          next[len++] = m;
          i += 2;
        } else {
          next[len++] = seq[i++];
        }
      }
      const merged = next.slice(0, len);
      words[w] = merged;
      for (let i = 0; i + 1 < len; i++) {
        const pid = pairOf(merged[i], merged[i + 1]);
        bump(pid, f);
        noteWord(pid, w);
      }
    }
    for (const pid of touched) {
      const d = delta[pid];
      delta[pid] = 0;
      if (d === 0) continue;
      const nc = counts[pid] + d;
      counts[pid] = nc > 0 ? nc : 0;
      if (nc > 0) heap.push(nc, pid);
      else where[pid] = [];
    }
    touched.length = 0;
    counts[top] = 0;
    where[top] = [];
    if (opts.onProgress && merges.length % every === 0) opts.onProgress(merges.length, vocabTokens.size + 2);
  }

  // CLIP layout: bytes, bytes</w>, merged tokens in merge order (first occurrence), specials.
  const vocab = new Map<string, number>();
  for (const s of byteSyms) vocab.set(s, vocab.size);
  for (const s of byteSyms) vocab.set(s + END_OF_WORD, vocab.size);
  for (const [x, y] of merges) if (!vocab.has(x + y)) vocab.set(x + y, vocab.size);
  vocab.set(START_OF_TEXT, vocab.size);
  vocab.set(END_OF_TEXT, vocab.size);
  const tokenizer = ClipTokenizer.fromVocab({ vocab, merges, origin: 'trained BPE' });
  return { vocab, merges, words: words.length, wordCount, stop, tokenizer };
}

/** Learn a CLIP-style BPE from texts (see the file comment). */
export function trainBpeTokenizer(texts: Iterable<string>, opts: TrainBpeOptions): TrainedBpe {
  return trainBpeFromCounts(countWords(texts), opts);
}

export interface SaveTokenizerOptions {
  /** Context length recorded in tokenizer_config.json (model_max_length). Default 77. */
  contextLength?: number;
  /** Extra facts recorded under `xray_torch` in tokenizer_config.json. */
  info?: Record<string, unknown>;
}

/**
 * Write `vocab.json`, `merges.txt` and `tokenizer_config.json` into `dir` (created if needed), the
 * Hugging Face CLIP layout. Returns the paths written.
 */
export function saveBpeTokenizer(trained: Pick<TrainedBpe, 'vocab' | 'merges'>, dir: string, opts: SaveTokenizerOptions = {}): string[] {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw xtError('XT_IO', `cannot create ${dir}: ${(e as Error).message}`);
  }
  const vocabObj: Record<string, number> = {};
  for (const [t, id] of [...trained.vocab].sort((x, y) => x[1] - y[1])) vocabObj[t] = id;
  const files = {
    'vocab.json': JSON.stringify(vocabObj) + '\n',
    'merges.txt': '#version: 0.2\n' + trained.merges.map(([x, y]) => `${x} ${y}`).join('\n') + '\n',
    'tokenizer_config.json':
      JSON.stringify(
        {
          tokenizer_class: 'CLIPTokenizer',
          model_max_length: opts.contextLength ?? 77,
          bos_token: START_OF_TEXT,
          eos_token: END_OF_TEXT,
          pad_token: END_OF_TEXT,
          unk_token: END_OF_TEXT,
          do_lower_case: true,
          xray_torch: { vocab_size: trained.vocab.size, merges: trained.merges.length, ...(opts.info ?? {}) },
        },
        null,
        2,
      ) + '\n',
  };
  const written: string[] = [];
  for (const [name, text] of Object.entries(files)) {
    const p = path.join(dir, name);
    try {
      fs.writeFileSync(p, text);
    } catch (e) {
      throw xtError('XT_IO', `cannot write ${p}: ${(e as Error).message}`);
    }
    written.push(p);
  }
  return written;
}
