/**
 * Sentence splitting for radiology report sections.
 *
 * Rules, in order:
 *  1. Paragraphs (blank lines) and lines that start with a list marker (`1.`, `2)`, `-`, `*`, `•`)
 *     are hard boundaries; any other line break is a space (hard-wrapped MIMIC text).
 *  2. Numbered lists written inline (`1. A. 2. B` or `1. A 2. B`): a marker `n.`/`n)` starts a new
 *     item when it starts the chunk, when it is `1` after a sentence end, after a short capitalised
 *     heading (`Hand 1. Fracture…`: the heading is dropped) or anywhere a `2.` follows, or when it is
 *     the next number after the previous marker. Markers are removed from the sentences.
 *  3. `.`, `!`, `?` (with any closing quotes or brackets) followed by white space end a sentence, except
 *     after abbreviations that never end one (`Dr.`, `vs.`, `approx.`, `e.g.`, `i.e.`, `cf.`, `No.` before a
 *     number, …) and after those that may (`etc.`, `a.m.`, `p.m.`) unless the next word is capitalised.
 *     A period between two words with no space (`lung.In the`) also ends one. Decimals and
 *     measurements (`3.5 cm`, `1.4cm`) never split.
 *     De-identification tokens (`XXXX`, `___`) are ordinary words (`Dr. ___ was paged.` is one sentence).
 *  4. The last sentence needs no final period. White space inside a sentence becomes one space.
 *  5. Trivial fragments are dropped: those without any word of two or more letters other than a
 *     de-identification token (`.`, `1.`, `XXXX.`, `___`), and headings ending in ':' (`Chest:`).
 */

export interface SplitOptions {
  /** Keep fragments that rule 5 would drop. Default false. */
  keepTrivial?: boolean;
}

/** Abbreviations (lowercase, without the final period) after which a period never ends a sentence. */
const NEVER_END = new Set([
  'dr', 'drs', 'mr', 'mrs', 'ms', 'prof', 'sr', 'jr', 'st', 'vs', 'approx', 'appr', 'apprx', 'e.g', 'eg', 'i.e', 'ie',
  'cf', 'fig', 'figs', 'incl', 'resp', 'viz', 'al', 'ca', 'lt', 'rt',
]);
/** Abbreviations that end a sentence only when the next word is capitalised. */
const MAY_END = new Set(['etc', 'a.m', 'p.m', 'u.s']);

const DEID_RE = /^(?:X{2,}|_{2,})/;
const WORD_RE = /[A-Za-z\u00C0-\u024F]{2,}/g;
const LIST_LINE_RE = /^\s*(?:\d{1,2}[.)]|[-*\u2022])\s+/;
const INLINE_MARKER_RE = /(^|\s)(\d{1,2})[.)](?=\s+\S)/g;
const TERMINAL_RE = /[.!?]+["')\]]*(?=\s)|(?<=[A-Za-z]{2})\.(?=[A-Z][a-z])/g;

/** Words before a period, e.g. 'Dr' in 'Dr.' or 'e.g' in 'e.g.' (lowercased, leading brackets dropped). */
function wordBefore(s: string, end: number): string {
  let start = end;
  while (start > 0 && !/\s/.test(s[start - 1])) start--;
  return s.slice(start, end).replace(/^["'(\[]+/, '').toLowerCase();
}

function isTrivial(sentence: string): boolean {
  if (sentence.endsWith(':')) return true; // a heading for what follows ('Chest:')
  for (const m of sentence.matchAll(WORD_RE)) {
    if (!/^X+$/.test(m[0])) return false;
  }
  return true;
}

/** Split one line-free chunk at terminal punctuation (rule 3). */
function splitChunk(chunk: string, out: string[]): void {
  let from = 0;
  for (const m of chunk.matchAll(TERMINAL_RE)) {
    const at = m.index ?? 0;
    const end = at + m[0].length;
    if (m[0][0] === '.' && m[0].length === 1) {
      const prev = wordBefore(chunk, at);
      const rest = chunk.slice(end).trimStart();
      if (NEVER_END.has(prev)) continue;
      if (prev === 'no' && /^\d/.test(rest)) continue;
      if (MAY_END.has(prev) && !/^[A-Z][a-z]/.test(rest)) continue;
    }
    out.push(chunk.slice(from, end));
    from = end;
  }
  out.push(chunk.slice(from));
}

/** Split a chunk at inline numbered-list markers (rule 2), removing the markers. */
function splitListItems(chunk: string): string[] {
  const items: string[] = [];
  let last = 0; // number of the previous marker, 0 before the first
  let start = 0; // where the current item's text starts
  for (const m of chunk.matchAll(INLINE_MARKER_RE)) {
    const at = (m.index ?? 0) + m[1].length;
    const n = parseInt(m[2], 10);
    const before = chunk.slice(start, at).trimEnd();
    const atStart = chunk.slice(0, at).trim() === '';
    const afterSentenceEnd = atStart || before === '' || /[.!?:;]["')\]]*$/.test(before);
    // Text since the last sentence end: a heading such as 'Hand' in 'Hand 1. Fracture …'.
    let tailStart = before.length;
    while (tailStart > 0 && !'.!?:;'.includes(before[tailStart - 1])) tailStart--;
    const tail = before.slice(tailStart).trim();
    const heading = n === 1 && !afterSentenceEnd && /^[A-Z]/.test(tail) && tail.split(/\s+/).length <= 3;
    const opensList = n === 1 && (afterSentenceEnd || heading || /\s2[.)]\s+\S/.test(chunk.slice(at + 2)));
    if (!(atStart || opensList || (last > 0 && n === last + 1))) continue;
    items.push(heading ? before.slice(0, tailStart) : chunk.slice(start, at));
    start = at + m[2].length + 1;
    last = n;
  }
  items.push(chunk.slice(start));
  return items;
}

/** Split report text into sentences (see the file comment for the rules). */
export function splitSentences(text: string, opts: SplitOptions = {}): string[] {
  const out: string[] = [];
  const paragraphs = text.replace(/\r\n?/g, '\n').split(/\n[ \t]*\n/);
  for (const para of paragraphs) {
    // Rule 1: lines starting with a list marker begin a new chunk; other lines join with a space.
    const chunks: string[] = [];
    for (const line of para.split('\n')) {
      if (chunks.length === 0 || LIST_LINE_RE.test(line)) chunks.push(line);
      else chunks[chunks.length - 1] += ' ' + line;
    }
    for (const chunk of chunks) {
      const bulletless = chunk.replace(/^\s*[-*\u2022]\s+/, '');
      for (const item of splitListItems(bulletless)) {
        const pieces: string[] = [];
        splitChunk(item, pieces);
        for (const p of pieces) {
          const s = p.replace(/\s+/g, ' ').trim();
          if (s === '') continue;
          if (!opts.keepTrivial && isTrivial(s)) continue;
          out.push(s);
        }
      }
    }
  }
  return out;
}

/** True when a word is a de-identification token (`XXXX`, `___`). */
export function isDeidToken(word: string): boolean {
  return DEID_RE.test(word);
}
