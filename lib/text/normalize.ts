/**
 * Text normalisation exactly as OpenAI CLIP's `simple_tokenizer` applies it before BPE:
 *
 *   whitespace_clean(basic_clean(text)).lower()
 *   basic_clean(text)      = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
 *   whitespace_clean(text) = re.sub(r'\s+', ' ', text).strip()
 *
 * `htmlUnescape` is a faithful port of Python's `html.unescape` (full WHATWG named-entity table,
 * numeric references with the same invalid-code-point rules, longest-prefix matching of names
 * written without ';').
 *
 * `fixText` ports the parts of ftfy 6 `fix_text` that can change report text, with ftfy's own
 * structure (line-by-line segments, HTML unescaping switched off for good once a segment holds '<',
 * each segment fixed repeatedly until it stops changing), in ftfy's order:
 *   - unescape_html: entities ending in ';' (plus ftfy's all-caps variants such as &EACUTE;);
 *   - fix_c1_controls: U+0080–U+009F read as Windows-1252;
 *   - fix_latin_ligatures: ﬁ ﬂ ﬀ ﬃ ﬄ ﬅ ﬆ Ĳ ĳ ŉ Ǆ…ǌ Ǳ ǲ ǳ taken apart;
 *   - fix_character_width: full-width / half-width forms (U+FF01–U+FFEF) to their NFKC form, U+3000 to ' ';
 *   - uncurl_quotes: ‘ ’ ‚ ‛ ʼ to ', “ ” „ ‟ to ";
 *   - fix_line_breaks: CRLF, CR, U+2028, U+2029, U+0085 to \n;
 *   - fix_surrogates: lone surrogates to U+FFFD;
 *   - remove_terminal_escapes: ANSI colour codes;
 *   - remove_control_chars: U+0000–0008, 000B, 000E–001F, 007F, 206A–206F, FEFF, FFF9–FFFC;
 *   - NFC normalisation.
 * NOT covered: ftfy's mojibake repair (`fix_encoding`: re-decoding text such as "â€™" that was
 * UTF-8 read as Windows-1252, guided by its "badness" heuristics). Text holding such mojibake
 * tokenizes differently from OpenAI's; clean UTF-8 text (and all ASCII text) is exact.
 *
 * Whitespace follows Python's `str.isspace`/`re` `\s` (which, unlike JavaScript's `\s`, includes
 * U+001C–U+001F and U+0085 and excludes U+FEFF); lowercasing uses JavaScript's `toLowerCase`, which
 * applies the same Unicode full case mapping (SpecialCasing, final sigma) as Python's `str.lower`.
 */
import { HTML5_ENTITIES } from './html-entities';

/** Python `str.isspace()` characters, as a regex character-class body. */
export const PY_SPACE_CLASS = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_SPACE_RUN = new RegExp(`[${PY_SPACE_CLASS}]+`, 'g');

/** Windows-1252 reading of bytes 0x80–0x9F, with ftfy's "sloppy" holes (0x81, 0x8D, 0x8F, 0x90, 0x9D stay). */
const CP1252_C1: readonly string[] = [
  '\u20ac', '\x81', '\u201a', '\u0192', '\u201e', '\u2026', '\u2020', '\u2021',
  '\u02c6', '\u2030', '\u0160', '\u2039', '\u0152', '\x8d', '\u017d', '\x8f',
  '\x90', '\u2018', '\u2019', '\u201c', '\u201d', '\u2022', '\u2013', '\u2014',
  '\u02dc', '\u2122', '\u0161', '\u203a', '\u0153', '\x9d', '\u017e', '\u0178',
];

// ---------------------------------------------------------------------------------------------
// Python html.unescape

const ENTITIES = new Map<string, string>(Object.entries(HTML5_ENTITIES));
const CHARREF_RE = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/gu;

function isInvalidCodepoint(n: number): boolean {
  return (
    (n >= 0x1 && n <= 0x8) ||
    n === 0xb ||
    (n >= 0xe && n <= 0x1f) ||
    (n >= 0x7f && n <= 0x9f) ||
    (n >= 0xfdd0 && n <= 0xfdef) ||
    (n & 0xfffe) === 0xfffe // U+xFFFE and U+xFFFF of every plane
  );
}

function numericCharref(digits: string, hex: boolean): string {
  const trimmed = digits.replace(/^0+/, '');
  const num = trimmed.length > 10 ? Infinity : trimmed === '' ? 0 : parseInt(trimmed, hex ? 16 : 10);
  if (num === 0x00) return '\ufffd';
  if (num === 0x0d) return '\r';
  if (num >= 0x80 && num <= 0x9f) return CP1252_C1[num - 0x80];
  if ((num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff) return '\ufffd';
  if (isInvalidCodepoint(num)) return '';
  return String.fromCodePoint(num);
}

function replaceCharref(_m: string, s: string): string {
  if (s.charCodeAt(0) === 0x23 /* # */) {
    const hex = s[1] === 'x' || s[1] === 'X';
    const body = s.endsWith(';') ? s.slice(hex ? 2 : 1, -1) : s.slice(hex ? 2 : 1);
    return numericCharref(body, hex);
  }
  const hit = ENTITIES.get(s);
  if (hit !== undefined) return hit;
  for (let x = s.length - 1; x > 1; x--) {
    const pre = ENTITIES.get(s.slice(0, x));
    if (pre !== undefined) return pre + s.slice(x);
  }
  return '&' + s;
}

/** Python's `html.unescape`, exactly. */
export function htmlUnescape(s: string): string {
  if (s.indexOf('&') < 0) return s;
  return s.replace(CHARREF_RE, replaceCharref);
}

// ---------------------------------------------------------------------------------------------
// ftfy subset

let ftfyEntities: Map<string, string> | undefined;
function getFtfyEntities(): Map<string, string> {
  if (ftfyEntities) return ftfyEntities;
  const m = new Map<string, string>();
  for (const [name, ch] of ENTITIES) {
    if (!name.endsWith(';')) continue;
    m.set('&' + name, ch);
    if (name === name.toLowerCase()) {
      const upper = '&' + name.toUpperCase();
      if (htmlUnescape(upper) === upper) m.set(upper, ch.toUpperCase());
    }
  }
  ftfyEntities = m;
  return m;
}

const FTFY_ENTITY_RE = /&#?[0-9A-Za-z]{1,24};/g;
function ftfyUnescapeHtml(text: string): string {
  if (text.indexOf('&') < 0) return text;
  const table = getFtfyEntities();
  return text.replace(FTFY_ENTITY_RE, (m) => {
    const hit = table.get(m);
    if (hit !== undefined) return hit;
    if (m.startsWith('&#')) {
      const u = htmlUnescape(m);
      return u.includes(';') ? m : u;
    }
    return m;
  });
}

const LIGATURES: Record<string, string> = {
  '\u0132': 'IJ', '\u0133': 'ij', '\u0149': '\u02bcn', '\u01f1': 'DZ', '\u01f2': 'Dz', '\u01f3': 'dz',
  '\u01c4': 'D\u017d', '\u01c5': 'D\u017e', '\u01c6': 'd\u017e', '\u01c7': 'LJ', '\u01c8': 'Lj', '\u01c9': 'lj',
  '\u01ca': 'NJ', '\u01cb': 'Nj', '\u01cc': 'nj', '\ufb00': 'ff', '\ufb01': 'fi', '\ufb02': 'fl',
  '\ufb03': 'ffi', '\ufb04': 'ffl', '\ufb05': '\u017ft', '\ufb06': 'st',
};
const LIGATURE_RE = /[\u0132\u0133\u0149\u01c4-\u01cc\u01f1-\u01f3\ufb00-\ufb06]/g;

let widthMap: Map<string, string> | undefined;
function getWidthMap(): Map<string, string> {
  if (widthMap) return widthMap;
  const m = new Map<string, string>([['\u3000', ' ']]);
  for (let i = 0xff01; i < 0xfff0; i++) {
    const c = String.fromCharCode(i);
    const alt = c.normalize('NFKC');
    if (alt !== c) m.set(c, alt);
  }
  widthMap = m;
  return m;
}
const WIDTH_RE = /[\u3000\uff01-\uffef]/g;

const C1_RE = /[\x80-\x9f]/g;
const SINGLE_QUOTE_RE = /[\u02bc\u2018-\u201b]/g;
const DOUBLE_QUOTE_RE = /[\u201c-\u201f]/g;
const LINE_BREAK_RE = /\r\n?|[\u2028\u2029\x85]/g;
const LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const ANSI_RE = /\x1b\[(?:\p{Nd}|;)*[a-zA-Z]/gu;
const CONTROL_RE = /[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]/g;
/** Anything besides printable ASCII (minus '&') and \t \n: such text needs the ftfy pass. */
const NEEDS_FIX_RE = /[^\t\n\x20-\x25\x27-\x7e]/;

function fixSegment(seg: string, unescape: boolean): string {
  for (;;) {
    const orig = seg;
    if (unescape) seg = ftfyUnescapeHtml(seg);
    seg = seg.replace(C1_RE, (c) => CP1252_C1[c.charCodeAt(0) - 0x80]);
    seg = seg.replace(LIGATURE_RE, (c) => LIGATURES[c]);
    seg = seg.replace(WIDTH_RE, (c) => getWidthMap().get(c) ?? c);
    seg = seg.replace(DOUBLE_QUOTE_RE, '"').replace(SINGLE_QUOTE_RE, "'");
    seg = seg.replace(LINE_BREAK_RE, '\n');
    seg = seg.replace(LONE_SURROGATE_RE, '\ufffd');
    seg = seg.replace(ANSI_RE, '');
    seg = seg.replace(CONTROL_RE, '');
    seg = seg.normalize('NFC');
    if (seg === orig) return seg;
  }
}

/** The covered subset of ftfy's `fix_text` (see the file comment for what is and is not covered). */
export function fixText(text: string): string {
  if (!NEEDS_FIX_RE.test(text)) return text; // printable ASCII without '&': ftfy leaves it as is
  let unescape = true;
  let out = '';
  let pos = 0;
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    const end = nl < 0 ? text.length : nl + 1;
    const seg = text.slice(pos, end);
    if (unescape && seg.includes('<')) unescape = false;
    out += fixSegment(seg, unescape);
    pos = end;
  }
  return out;
}

const PY_SPACE_CHAR = new RegExp(`^[${PY_SPACE_CLASS}]$`);
function isPySpace(c: string): boolean {
  return c === ' ' || PY_SPACE_CHAR.test(c);
}

/** Python `str.strip()` (whitespace per `str.isspace`). */
export function pyStrip(text: string): string {
  let a = 0;
  let b = text.length;
  while (a < b && isPySpace(text[a])) a++;
  while (b > a && isPySpace(text[b - 1])) b--;
  return a === 0 && b === text.length ? text : text.slice(a, b);
}

/** OpenAI `whitespace_clean`: runs of whitespace to one space, then strip. */
export function whitespaceClean(text: string): string {
  return pyStrip(text.replace(PY_SPACE_RUN, ' '));
}

/** OpenAI `basic_clean`: ftfy fixes, HTML-unescape twice, strip. */
export function basicClean(text: string): string {
  return pyStrip(htmlUnescape(htmlUnescape(fixText(text))));
}

/** `basic_clean` without the final strip, for callers that treat white space as a separator anyway. */
export function basicCleanUnstripped(text: string): string {
  return htmlUnescape(htmlUnescape(fixText(text)));
}

/**
 * The CLIP normalisation without the white-space collapse and strip, for pre-tokenisation (which
 * treats any white space as a separator): the same pre-tokens as `clipNormalize`, cheaper.
 */
export function normalizeForPretokenize(text: string): string {
  return (NEEDS_FIX_RE.test(text) ? basicCleanUnstripped(text) : text).toLowerCase();
}

/** False for printable ASCII without '&' (plus tab and newline): text that ftfy and html.unescape leave as is. */
export function needsFix(text: string): boolean {
  return NEEDS_FIX_RE.test(text);
}

/** The full CLIP normalisation: `whitespace_clean(basic_clean(text)).lower()`. */
export function clipNormalize(text: string): string {
  return whitespaceClean(basicClean(text)).toLowerCase();
}
