/**
 * Lookups over the character classes of Hugging Face's BertNormalizer and BertPreTokenizer: the range
 * tables are GENERATED into wordpiece-unicode-tables.ts (which says what each class holds and why
 * they are tables and not `\p{…}`); this file, hand-written, parses them once and answers per code
 * point (a byte table below U+3000, binary search above).
 */
import { CONTROL, MARK, NFD_FROZEN, PUNCT, WHITESPACE } from './wordpiece-unicode-tables';

/** Sorted [start, end] pairs from 'a-b,c,…' (hex). */
function parseRanges(s: string): Uint32Array {
  const parts = s.split(',');
  const out = new Uint32Array(parts.length * 2);
  parts.forEach((p, i) => {
    const dash = p.indexOf('-');
    out[2 * i] = parseInt(dash < 0 ? p : p.slice(0, dash), 16);
    out[2 * i + 1] = parseInt(dash < 0 ? p : p.slice(dash + 1), 16);
  });
  return out;
}

function inRanges(r: Uint32Array, cp: number): boolean {
  let lo = 0;
  let hi = (r.length >> 1) - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (cp < r[2 * mid]) hi = mid - 1;
    else if (cp > r[2 * mid + 1]) lo = mid + 1;
    else return true;
  }
  return false;
}

/** Lookup for code points below 0x3000 (one byte each: bit 1 control, 2 white space, 4 mark, 8 punctuation). */
const LOW_LIMIT = 0x3000;
let low: Uint8Array | undefined;
interface Tables {
  control: Uint32Array;
  whitespace: Uint32Array;
  mark: Uint32Array;
  punct: Uint32Array;
  frozen: Uint32Array;
}
let tables: Tables | undefined;

function init(): Tables {
  if (!tables) {
    tables = {
      control: parseRanges(CONTROL),
      whitespace: parseRanges(WHITESPACE),
      mark: parseRanges(MARK),
      punct: parseRanges(PUNCT),
      frozen: parseRanges(NFD_FROZEN),
    };
    low = new Uint8Array(LOW_LIMIT);
    const fill = (r: Uint32Array, bit: number): void => {
      for (let i = 0; i < r.length; i += 2) for (let c = r[i]; c <= r[i + 1] && c < LOW_LIMIT; c++) low![c] |= bit;
    };
    fill(tables.control, 1);
    fill(tables.whitespace, 2);
    fill(tables.mark, 4);
    fill(tables.punct, 8);
  }
  return tables;
}

/** Dropped by clean_text (not \t, \n, \r, which are white space). */
export function isBertControl(cp: number): boolean {
  const t = init();
  return cp < LOW_LIMIT ? (low![cp] & 1) !== 0 : inRanges(t.control, cp);
}

/** White space for clean_text and the pre-tokenizer. */
export function isBertWhitespace(cp: number): boolean {
  const t = init();
  return cp < LOW_LIMIT ? (low![cp] & 2) !== 0 : inRanges(t.whitespace, cp);
}

/** Non-spacing mark, removed by strip_accents. */
export function isMarkNonspacing(cp: number): boolean {
  const t = init();
  return cp < LOW_LIMIT ? (low![cp] & 4) !== 0 : inRanges(t.mark, cp);
}

/** Punctuation for the pre-tokenizer. */
export function isBertPunctuation(cp: number): boolean {
  const t = init();
  return cp < LOW_LIMIT ? (low![cp] & 8) !== 0 : inRanges(t.punct, cp);
}

/**
 * HF's NFD: `normalize('NFD')`, except that characters HF's tables do not decompose stay whole (they
 * are starters, so the text on either side is normalised on its own).
 */
export function hfNfd(s: string): string {
  const f = init().frozen;
  const lowest = f.length > 0 ? f[0] : 0x110000;
  let out = '';
  let seg = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff) continue; // every frozen character is astral
    const cp = s.codePointAt(i) as number;
    if (cp >= lowest && inRanges(f, cp)) {
      out += s.slice(seg, i).normalize('NFD') + String.fromCodePoint(cp);
      seg = i + 2;
    }
    i++;
  }
  return seg === 0 ? s.normalize('NFD') : out + s.slice(seg).normalize('NFD');
}

/** CJK ideographs that handle_chinese_chars puts spaces around (HF's ranges, 0x2B920 start included). */
export function isChineseChar(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b920 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}
