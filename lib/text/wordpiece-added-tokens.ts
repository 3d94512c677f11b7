/**
 * Added tokens (step 1 of the WordPiece pipeline, see wordpiece.ts): HF's AddedVocabulary matching,
 * which cuts added/special tokens out of a text before normalisation or WordPiece sees it.
 */
import { AddedTokenSpec } from './wordpiece-options';
import { isBertWhitespace } from './wordpiece-unicode';

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** `\w` of Rust's regex (Unicode): letters, marks, digits, connector punctuation, join controls. */
const WORD_CHAR_RE = /[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\u200c\u200d]/u;

export interface Matcher {
  re: RegExp;
  byContent: Map<string, AddedTokenSpec>;
}

export function makeMatcher(tokens: AddedTokenSpec[], contentOf: (t: AddedTokenSpec) => string): Matcher | undefined {
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
export type Piece = string | number;

/** HF's AddedVocabulary::find_matches over one string. */
export function splitAdded(text: string, m: Matcher | undefined, out: Piece[]): void {
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
export function isNormalized(t: AddedTokenSpec): boolean {
  return t.normalized ?? !t.special;
}


function lastCodePoint(s: string, end: number): string {
  const c = s.charCodeAt(end - 1);
  if (c >= 0xdc00 && c <= 0xdfff && end >= 2) {
    const h = s.charCodeAt(end - 2);
    if (h >= 0xd800 && h <= 0xdbff) return s.slice(end - 2, end);
  }
  return s.slice(end - 1, end);
}
