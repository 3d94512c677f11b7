/**
 * Hugging Face's BertNormalizer and BertPreTokenizer (steps 2 and 3 of the WordPiece pipeline, see
 * wordpiece.ts), with an ASCII fast path; the Unicode classes come from wordpiece-unicode.ts.
 */
import { hfNfd, isBertControl, isBertPunctuation, isBertWhitespace, isChineseChar, isMarkNonspacing } from './wordpiece-unicode';

// ASCII classes for the fast path: 0 dropped (control), 1 white space, 2 punctuation, 3 other.
const ASCII_CLASS = new Uint8Array(128).fill(3);
for (let c = 0; c < 32; c++) ASCII_CLASS[c] = 0;
ASCII_CLASS[127] = 0;
for (const c of [9, 10, 13, 32]) ASCII_CLASS[c] = 1;
for (let c = 33; c < 127; c++) if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) ASCII_CLASS[c] = 2;
const NON_ASCII_RE = /[^\x00-\x7f]/;

const LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** What reaches HF's Rust code is UTF-8, where a lone surrogate has become U+FFFD. */
export function replaceLoneSurrogates(text: string): string {
  return NON_ASCII_RE.test(text) ? text.replace(LONE_SURROGATE_RE, '\ufffd') : text;
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

/** Calls `f(start, end)` for each word of BertPreTokenizer (UTF-16 offsets into `text`). */
export function forEachWord(text: string, f: (start: number, end: number) => void): void {
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
