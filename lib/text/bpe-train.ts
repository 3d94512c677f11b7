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
import { xtError } from '../native';
import {
  byteSymbolsInVocabOrder,
  bytesToUnicode,
  ClipTokenizer,
  END_OF_TEXT,
  END_OF_WORD,
  pretokenize,
  START_OF_TEXT,
} from './clip-tokenizer';
import { clipNormalize } from './normalize';

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
  for (const t of texts) {
    for (const w of pretokenize(clipNormalize(t))) {
      if (w === START_OF_TEXT || w === END_OF_TEXT) continue;
      into.set(w, (into.get(w) ?? 0) + 1);
    }
  }
  return into;
}

const SHIFT = 2097152; // 2^21: symbol ids stay below this

/** Max-heap of (count, key): higher count first, then smaller key. */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];

  get size(): number {
    return this.counts.length;
  }

  private above(i: number, j: number): boolean {
    const ci = this.counts[i];
    const cj = this.counts[j];
    return ci > cj || (ci === cj && this.keys[i] < this.keys[j]);
  }

  private swap(i: number, j: number): void {
    const c = this.counts[i];
    this.counts[i] = this.counts[j];
    this.counts[j] = c;
    const k = this.keys[i];
    this.keys[i] = this.keys[j];
    this.keys[j] = k;
  }

  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.counts.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.above(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  /** Remove the top; returns [count, key]. */
  pop(): [number, number] {
    const top: [number, number] = [this.counts[0], this.keys[0]];
    const lastC = this.counts.pop() as number;
    const lastK = this.keys.pop() as number;
    if (this.counts.length) {
      this.counts[0] = lastC;
      this.keys[0] = lastK;
      let i = 0;
      const n = this.counts.length;
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
    return top;
  }
}

/** Learn merges from word counts (see the file comment). */
export function trainBpeFromCounts(wordCounts: Map<string, number>, opts: TrainBpeOptions): TrainedBpe {
  const vocabSize = opts.vocabSize;
  if (!Number.isInteger(vocabSize) || vocabSize < BPE_BASE_VOCAB || vocabSize >= SHIFT) {
    throw xtError('XT_INVALID', `vocabSize must be an integer in [${BPE_BASE_VOCAB}, ${SHIFT}), got ${vocabSize}`);
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

  // Words as symbol sequences.
  const words: number[][] = [];
  const freqs: number[] = [];
  let wordCount = 0;
  for (const [w, f] of wordCounts) {
    const bytes = Buffer.from(w, 'utf8');
    if (bytes.length === 0) continue;
    const seq: number[] = [];
    for (let i = 0; i < bytes.length; i++) {
      const c = table[bytes[i]];
      seq.push(symbolId.get(i === bytes.length - 1 ? c + END_OF_WORD : c) as number);
    }
    words.push(seq);
    freqs.push(f);
    wordCount += f;
  }

  // Pair counts and where each pair occurs.
  const counts = new Map<number, number>();
  const where = new Map<number, number[]>();
  const addPair = (key: number, f: number, w: number): void => {
    counts.set(key, (counts.get(key) ?? 0) + f);
    const list = where.get(key);
    if (list) {
      if (list[list.length - 1] !== w) list.push(w);
    } else where.set(key, [w]);
  };
  words.forEach((seq, w) => {
    for (let i = 0; i + 1 < seq.length; i++) addPair(seq[i] * SHIFT + seq[i + 1], freqs[w], w);
  });
  const heap = new PairHeap();
  for (const [key, c] of counts) heap.push(c, key);

  const merges: Array<[string, string]> = [];
  const vocabTokens = new Set<string>(symbols);
  let stop: TrainedBpe['stop'] = 'vocab-size';
  const seen = new Int32Array(words.length).fill(-1);
  const every = opts.progressEvery ?? 1000;
  const changed = new Map<number, number>();

  while (vocabTokens.size + 2 < vocabSize) {
    if (heap.size === 0) {
      stop = 'min-frequency';
      break;
    }
    const [c, key] = heap.pop();
    if (counts.get(key) !== c) continue; // stale entry
    if (c < minFrequency) {
      stop = 'min-frequency';
      break;
    }
    const a = Math.floor(key / SHIFT);
    const b = key % SHIFT;
    const mergedStr = symbols[a] + symbols[b];
    const m = addSymbol(mergedStr);
    merges.push([symbols[a], symbols[b]]);
    vocabTokens.add(mergedStr);

    changed.clear();
    const bump = (k: number, d: number): void => {
      changed.set(k, (changed.get(k) ?? 0) + d);
    };
    const stamp = merges.length - 1;
    for (const w of where.get(key) ?? []) {
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
      for (let i = 0; i + 1 < seq.length; i++) bump(seq[i] * SHIFT + seq[i + 1], -f);
      const next: number[] = [];
      for (let i = 0; i < seq.length; ) {
        if (i + 1 < seq.length && seq[i] === a && seq[i + 1] === b) {
          next.push(m);
          i += 2;
        } else {
          next.push(seq[i]);
          i++;
        }
      }
      words[w] = next;
      for (let i = 0; i + 1 < next.length; i++) {
        const k = next[i] * SHIFT + next[i + 1];
        bump(k, f);
        const list = where.get(k);
        if (list) {
          if (list[list.length - 1] !== w) list.push(w);
        } else where.set(k, [w]);
      }
    }
    for (const [k, d] of changed) {
      if (d === 0) continue;
      const nc = (counts.get(k) ?? 0) + d;
      if (nc <= 0) {
        counts.delete(k);
        where.delete(k);
      } else {
        counts.set(k, nc);
        heap.push(nc, k);
      }
    }
    counts.delete(key);
    where.delete(key);
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
