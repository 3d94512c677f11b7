/**
 * Radiology report parsing: MIMIC-CXR free text, Open-I (Indiana University) XML, and plain text with
 * section headers, into named sections; and selection of the sections used for training text.
 *
 * Section names are canonical lowercase keys: 'examination', 'indication', 'technique',
 * 'comparison', 'findings', 'impression', plus 'recommendation', 'notification', 'addendum',
 * 'wet read' when present. Open-I XML keeps its own `Label`s, lowercased.
 */
import { xtError } from '../errors';
import { splitSentences, SplitOptions } from './sentences';

export type ReportFormat = 'mimic' | 'openi' | 'plain';

export interface ParsedReport {
  format: ReportFormat;
  /** Canonical section name → section text (lines kept, each trimmed; empty sections omitted). */
  sections: Record<string, string>;
  /** Section names in the order they appear. */
  order: string[];
  /** Text outside any recognised section (before the first header), trimmed; '' when none. */
  body: string;
}

export interface OpenIReport extends ParsedReport {
  format: 'openi';
  /** Report number, e.g. '3029' (from `<IUXRId id=…>`, else `<pmcId>`, else the uId digits). */
  id: string;
  /** `<uId id=…>`, e.g. 'CXR3029'. */
  uid: string;
  /** MeSH `<major>` terms, in order, as written (e.g. 'Cervical Vertebrae/degenerative', 'normal'). */
  meshMajor: string[];
  /** MeSH `<automatic>` terms. */
  meshAutomatic: string[];
  /** Image ids from `<parentImage id=…>`, e.g. 'CXR3029_IM-1404-1001'. */
  imageIds: string[];
}

/** Header spellings (upper case, single spaces) → canonical section. */
const HEADER_ALIASES: Record<string, string> = {};
function alias(section: string, names: string[]): void {
  for (const n of names) HEADER_ALIASES[n] = section;
}
alias('examination', ['EXAMINATION', 'EXAMINATIONS', 'EXAM', 'STUDY', 'PROCEDURE', 'TYPE OF EXAMINATION', 'TYPE OF EXAM']);
alias('indication', [
  'INDICATION', 'INDICATIONS', 'CLINICAL INDICATION', 'CLINICAL INDICATIONS', 'HISTORY', 'CLINICAL HISTORY',
  'REASON FOR EXAM', 'REASON FOR EXAMINATION', 'REASON FOR STUDY', 'CLINICAL INFORMATION', 'CLINICAL DATA',
]);
alias('technique', ['TECHNIQUE', 'TECHNIQUES']);
alias('comparison', ['COMPARISON', 'COMPARISONS', 'COMPARISON STUDY', 'COMPARISON STUDIES', 'COMPARISON EXAM', 'PRIOR STUDIES', 'PRIOR STUDY']);
alias('findings', ['FINDINGS', 'FINDING', 'FINDINGS AND IMPRESSION', 'FINDINGS AND IMPRESSIONS', 'IMPRESSION AND FINDINGS', 'REPORT']);
alias('impression', ['IMPRESSION', 'IMPRESSIONS', 'CONCLUSION', 'CONCLUSIONS', 'SUMMARY', 'OPINION']);
alias('recommendation', ['RECOMMENDATION', 'RECOMMENDATIONS', 'RECOMMENDATION(S)']);
alias('notification', ['NOTIFICATION', 'NOTIFICATIONS']);
alias('addendum', ['ADDENDUM']);
alias('wet read', ['WET READ']);

/** `NAME:` at the start of a line (any case), the rest of the line being section content. */
const HEADER_AT_LINE_START = /^[ \t]*([A-Za-z][A-Za-z()]*(?:[ \t]+[A-Za-z()]+){0,3})[ \t]*:(.*)$/;
/** A line that is only a header name, optionally with a colon. */
const HEADER_ALONE = /^[ \t]*([A-Za-z][A-Za-z()]*(?:[ \t]+[A-Za-z()]+){0,3})[ \t]*:?[ \t]*$/;
/** Lines dropped as report banners. */
const BANNER = /^[ \t]*(?:FINAL|PRELIMINARY|ADDENDUM TO)?[ \t]*REPORT[ \t]*$/i;
/** An upper-case known header in the middle of a line (plain text written on one line). */
let inlineHeaderRe: RegExp | undefined;
function inlineHeader(): RegExp {
  if (!inlineHeaderRe) {
    const names = Object.keys(HEADER_ALIASES)
      .filter((n) => n !== 'REPORT' && n !== 'STUDY' && n !== 'HISTORY' && n !== 'EXAM')
      .sort((a, b) => b.length - a.length)
      .map((n) => n.replace(/[()]/g, '\\$&').replace(/ /g, '[ \\t]+'));
    // Not after an upper-case word, so 'REASON FOR EXAMINATION:' stays one header.
    inlineHeaderRe = new RegExp(`([^\\sA-Z])[ \\t]+(?=(?:${names.join('|')})[ \\t]*:)`, 'g');
  }
  return inlineHeaderRe;
}

function canonicalHeader(raw: string): string | undefined {
  return HEADER_ALIASES[raw.trim().replace(/\s+/g, ' ').toUpperCase()];
}

/**
 * Parse free-text report (MIMIC-CXR style or plain text with `HEADER:` lines). Headers are matched at
 * line starts in any case and spacing (`IMPRESSION:`, `Impression :`, `FINDINGS:` followed by text on
 * the same line or on the next lines, a header alone on its line); upper-case headers written inside a
 * line (`... FINDINGS: ... IMPRESSION: ...`) also start a section. Unknown `WORD:` prefixes stay
 * inside the current section's text (so `LUNGS: Clear.` under FINDINGS is kept).
 */
export function parseTextReport(text: string): ParsedReport {
  const lines = text
    .replace(/\r\n?/g, '\n')
    .replace(inlineHeader(), '$1\n')
    .split('\n');
  const sections: Record<string, string[]> = {};
  const order: string[] = [];
  const body: string[] = [];
  let current: string[] = body;
  let sawFinalReport = false;
  for (const line of lines) {
    if (BANNER.test(line)) {
      if (/FINAL/i.test(line)) sawFinalReport = true;
      continue;
    }
    let name: string | undefined;
    let rest = '';
    const m = HEADER_AT_LINE_START.exec(line);
    if (m) {
      name = canonicalHeader(m[1]);
      rest = m[2];
    } else {
      const a = HEADER_ALONE.exec(line);
      if (a) name = canonicalHeader(a[1]);
    }
    if (name !== undefined) {
      if (!sections[name]) {
        sections[name] = [];
        order.push(name);
      }
      current = sections[name];
      if (rest.trim()) current.push(rest.trim());
      continue;
    }
    current.push(line.trim());
  }
  const out: Record<string, string> = {};
  const kept: string[] = [];
  for (const name of order) {
    const t = joinLines(sections[name]);
    if (t) {
      out[name] = t;
      kept.push(name);
    }
  }
  const format: ReportFormat = sawFinalReport || /___/.test(text) ? 'mimic' : 'plain';
  return { format, sections: out, order: kept, body: joinLines(body) };
}

/** Trim blank lines at both ends, keep inner line structure (blank lines mark paragraphs). */
function joinLines(lines: string[]): string {
  let a = 0;
  let b = lines.length;
  while (a < b && lines[a] === '') a++;
  while (b > a && lines[b - 1] === '') b--;
  return lines.slice(a, b).join('\n');
}

const XML_ENTITY_RE = /&(?:#(\d+)|#x([0-9a-fA-F]+)|(lt|gt|amp|quot|apos));/g;
const XML_NAMED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
/** Decode the five XML entities and numeric character references. */
export function decodeXmlText(s: string): string {
  return s.replace(XML_ENTITY_RE, (_m, dec: string | undefined, hex: string | undefined, name: string | undefined) => {
    if (name) return XML_NAMED[name];
    const cp = parseInt(dec ?? hex ?? '', dec ? 10 : 16);
    return cp >= 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : '\ufffd';
  });
}

function attr(tagText: string, name: string): string | undefined {
  const m = new RegExp(`\\s${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)')`).exec(tagText);
  return m ? decodeXmlText(m[1] ?? m[2]) : undefined;
}

function elementTexts(xml: string, tag: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}\\s*>`, 'g');
  for (const m of xml.matchAll(re)) out.push(decodeXmlText(m[1]).trim());
  return out;
}

/**
 * Parse one Open-I report XML (`ecgen-radiology/NNNN.xml`): `AbstractText` sections by `Label`
 * (lowercased; `XXXX` de-identification left as is; self-closing / empty ones omitted), MeSH `major`
 * and `automatic` terms, and the `parentImage` ids.
 */
export function parseOpenIXml(xml: string): OpenIReport {
  if (!/<eCitation[\s>]/.test(xml) && !/<AbstractText[\s>]/.test(xml)) {
    throw xtError('XT_INVALID', 'parseOpenIXml: not an Open-I report (no <eCitation> or <AbstractText>)');
  }
  const sections: Record<string, string> = {};
  const order: string[] = [];
  const re = /<AbstractText\b([^>]*?)(?:\/>|>([\s\S]*?)<\/AbstractText\s*>)/g;
  for (const m of xml.matchAll(re)) {
    const label = (attr(m[1], 'Label') ?? 'text').trim().toLowerCase();
    const text = m[2] === undefined ? '' : decodeXmlText(m[2]).trim();
    if (!text) continue;
    if (sections[label] !== undefined) {
      sections[label] += '\n\n' + text;
    } else {
      sections[label] = text;
      order.push(label);
    }
  }
  const tagAttr = (tag: string): string | undefined => {
    const m = new RegExp(`<${tag}\\b([^>]*)>`).exec(xml);
    return m ? attr(m[1], 'id') : undefined;
  };
  const uid = tagAttr('uId') ?? '';
  const id = tagAttr('IUXRId') ?? tagAttr('pmcId') ?? uid.replace(/^\D+/, '');
  const meshBlock = /<MeSH>([\s\S]*?)<\/MeSH>/.exec(xml)?.[1] ?? '';
  const imageIds: string[] = [];
  for (const m of xml.matchAll(/<parentImage\b([^>]*)>/g)) {
    const v = attr(m[1], 'id');
    if (v) imageIds.push(v);
  }
  return {
    format: 'openi',
    sections,
    order,
    body: '',
    id,
    uid,
    meshMajor: elementTexts(meshBlock, 'major'),
    meshAutomatic: elementTexts(meshBlock, 'automatic'),
    imageIds,
  };
}

/** Parse a report, detecting Open-I XML; anything else is read as free text (MIMIC-CXR or plain). */
export function parseReport(text: string): ParsedReport {
  if (/^\s*(?:<\?xml|<eCitation)/.test(text) || /<AbstractText[\s>]/.test(text)) return parseOpenIXml(text);
  return parseTextReport(text);
}

/**
 * Which sections make the training text: 'findings', 'impression', 'both' (findings and impression
 * in report order; whichever exists when one is missing), or a list of section names.
 */
export type SectionSelection = 'findings' | 'impression' | 'both' | readonly string[];

export interface SelectOptions {
  /**
   * With 'both', when neither findings nor impression exists, use the text outside any section
   * (MIMIC reports written without headers). Default true.
   */
  bodyFallback?: boolean;
}

/** The selected sections' texts, in report order (empty when none is present). */
export function selectSections(report: ParsedReport, which: SectionSelection = 'both', opts: SelectOptions = {}): string[] {
  let names: readonly string[];
  if (which === 'both') names = ['findings', 'impression'];
  else if (which === 'findings' || which === 'impression') names = [which];
  else if (Array.isArray(which)) names = which.map((n) => n.toLowerCase());
  else throw xtError('XT_INVALID', `sections: expected 'findings', 'impression', 'both' or a list of names, got ${JSON.stringify(which)}`);
  const picked = report.order.filter((n) => names.includes(n));
  if (picked.length === 0 && which === 'both' && (opts.bodyFallback ?? true) && report.body) return [report.body];
  return picked.map((n) => report.sections[n]);
}

/** The selected sections as one text (sections separated by a blank line). */
export function selectText(report: ParsedReport, which: SectionSelection = 'both', opts: SelectOptions = {}): string {
  return selectSections(report, which, opts).join('\n\n');
}

/** Sentences of the selected sections, in report order (each section split on its own). */
export function reportSentences(
  report: ParsedReport | string,
  which: SectionSelection = 'both',
  opts: SelectOptions & SplitOptions = {},
): string[] {
  const r = typeof report === 'string' ? parseReport(report) : report;
  const out: string[] = [];
  for (const t of selectSections(r, which, opts)) out.push(...splitSentences(t, opts));
  return out;
}
