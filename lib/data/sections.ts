/**
 * Minimal section splitting of free-text radiology reports (MIMIC-CXR style):
 * upper-case headings ending in ':' at the start of a line (`FINDINGS:`, `IMPRESSION:`, …).
 * Text before the first heading goes under `PREAMBLE`.
 */

const HEADING = /^[ \t]*([A-Z][A-Z /&()-]{1,40}[A-Z)]):[ \t]*/gm;

export function splitReportSections(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const marks: { name: string; start: number; bodyStart: number }[] = [];
  HEADING.lastIndex = 0;
  for (let m = HEADING.exec(text); m; m = HEADING.exec(text)) {
    marks.push({ name: m[1].trim().replace(/\s+/g, ' '), start: m.index, bodyStart: m.index + m[0].length });
  }
  const clean = (s: string) => s.replace(/\s+/g, ' ').trim();
  const pre = clean(text.slice(0, marks.length ? marks[0].start : text.length));
  if (pre) out.PREAMBLE = pre;
  for (let k = 0; k < marks.length; k++) {
    const body = clean(text.slice(marks[k].bodyStart, k + 1 < marks.length ? marks[k + 1].start : text.length));
    if (!body) continue;
    out[marks[k].name] = out[marks[k].name] ? `${out[marks[k].name]} ${body}` : body;
  }
  return out;
}

/** The report text a model trains on: FINDINGS + IMPRESSION when present, else the whole cleaned text. */
export function reportBody(sections: Record<string, string>, fallback: string): string {
  const parts = [sections.FINDINGS, sections.IMPRESSION].filter((s): s is string => !!s);
  if (parts.length) return parts.join(' ');
  return fallback.replace(/\s+/g, ' ').trim();
}
