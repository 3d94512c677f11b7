/**
 * Hash tables behind the tokenizer's hot loop: a pair table (two ids → merge rank and merged id) and
 * a per-word cache that is looked up straight from a range of the input text, so that a cached word
 * costs no string allocation.
 */

/** Home slot hash of the pair (a, b) (mask it with the table's `mask`). */
export function pairSlot(a: number, b: number): number {
  return (Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca6b)) >>> 0;
}

/** Open-addressing map (a, b) → (rank, merged id), for non-negative int32 ids. */
export class PairTable {
  // Public for the tokenizer's inlined probe (see `pairSlot`); replaced only while inserting.
  mask: number;
  keyA: Int32Array;
  keyB: Int32Array;
  rank: Int32Array;
  merged: Int32Array;
  size = 0;

  constructor(expected = 1024) {
    let cap = 16;
    while (cap < expected * 2) cap *= 2;
    this.mask = cap - 1;
    this.keyA = new Int32Array(cap).fill(-1);
    this.keyB = new Int32Array(cap);
    this.rank = new Int32Array(cap);
    this.merged = new Int32Array(cap);
  }

  private slot(a: number, b: number): number {
    return pairSlot(a, b);
  }

  /** Insert unless present (the first merge of a pair keeps its rank). */
  setIfAbsent(a: number, b: number, rank: number, merged: number): void {
    if ((this.size + 1) * 2 > this.mask + 1) this.grow();
    let i = this.slot(a, b) & this.mask;
    for (;;) {
      const ka = this.keyA[i];
      if (ka === -1) break;
      if (ka === a && this.keyB[i] === b) return;
      i = (i + 1) & this.mask;
    }
    this.keyA[i] = a;
    this.keyB[i] = b;
    this.rank[i] = rank;
    this.merged[i] = merged;
    this.size++;
  }

  /** Slot index of (a, b), or -1. Read `rankAt` / `mergedAt` with it. */
  find(a: number, b: number): number {
    let i = this.slot(a, b) & this.mask;
    for (;;) {
      const ka = this.keyA[i];
      if (ka === -1) return -1;
      if (ka === a && this.keyB[i] === b) return i;
      i = (i + 1) & this.mask;
    }
  }

  rankAt(slot: number): number {
    return this.rank[slot];
  }

  mergedAt(slot: number): number {
    return this.merged[slot];
  }

  private grow(): void {
    const { keyA, keyB, rank, merged } = this;
    const cap = (this.mask + 1) * 2;
    this.mask = cap - 1;
    this.keyA = new Int32Array(cap).fill(-1);
    this.keyB = new Int32Array(cap);
    this.rank = new Int32Array(cap);
    this.merged = new Int32Array(cap);
    this.size = 0;
    for (let i = 0; i < keyA.length; i++) if (keyA[i] !== -1) this.setIfAbsent(keyA[i], keyB[i], rank[i], merged[i]);
  }
}

/** FNV-1a over UTF-16 code units. */
function hashRange(s: string, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h | 0;
}

/**
 * Word → ids cache. Keys are the pre-token strings; lookups take a range of a text and compare in
 * place. Cleared when it reaches `limit` entries.
 */
export class TokenCache<V> {
  private mask: number;
  private keys: (string | undefined)[];
  private hashes: Int32Array;
  private vals: (V | undefined)[];
  size = 0;

  constructor(
    private readonly limit = 1 << 20,
    initial = 1 << 14,
  ) {
    this.mask = initial - 1;
    this.keys = new Array(initial).fill(undefined);
    this.hashes = new Int32Array(initial);
    this.vals = new Array(initial).fill(undefined);
  }

  /** Value cached for text[start, end), or undefined. */
  getRange(text: string, start: number, end: number): V | undefined {
    const h = hashRange(text, start, end);
    const len = end - start;
    let i = h & this.mask;
    for (;;) {
      const k = this.keys[i];
      if (k === undefined) return undefined;
      if (this.hashes[i] === h && k.length === len) {
        let j = 0;
        while (j < len && text.charCodeAt(start + j) === k.charCodeAt(j)) j++;
        if (j === len) return this.vals[i];
      }
      i = (i + 1) & this.mask;
    }
  }

  get(key: string): V | undefined {
    return this.getRange(key, 0, key.length);
  }

  /** Store `key` → value. */
  set(key: string, value: V): void {
    if (this.size >= this.limit) this.clear();
    if ((this.size + 1) * 2 > this.mask + 1) this.grow();
    const h = hashRange(key, 0, key.length);
    let i = h & this.mask;
    for (;;) {
      const k = this.keys[i];
      if (k === undefined) break;
      if (this.hashes[i] === h && k === key) {
        this.vals[i] = value;
        return;
      }
      i = (i + 1) & this.mask;
    }
    this.keys[i] = key;
    this.hashes[i] = h;
    this.vals[i] = value;
    this.size++;
  }

  clear(): void {
    this.keys.fill(undefined);
    this.vals.fill(undefined);
    this.size = 0;
  }

  private grow(): void {
    const { keys, vals } = this;
    const cap = (this.mask + 1) * 2;
    this.mask = cap - 1;
    this.keys = new Array(cap).fill(undefined);
    this.hashes = new Int32Array(cap);
    this.vals = new Array(cap).fill(undefined);
    this.size = 0;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      if (k !== undefined) this.set(k, vals[i] as V);
    }
  }
}
