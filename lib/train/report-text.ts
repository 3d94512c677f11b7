/** The text a training study offers the sentence sampler (training and validation alike). */
import type { StudyRecord } from '../data/types';
import { parseReport } from '../text/reports';
import type { PreparedReport, SentenceSampler } from '../text/sampling';

/** The report text of a record (the full report, or its sections joined with headers), if any. */
export function recordReport(r: StudyRecord): string | undefined {
  if (r.report && r.report.trim()) return r.report;
  if (r.sections) {
    const parts = Object.entries(r.sections).filter(([, t]) => t && t.trim()).map(([k, t]) => `${k.toUpperCase()}: ${t}`);
    if (parts.length) return parts.join('\n');
  }
  return undefined;
}

/** The record's report prepared for sampling; a report without sentences offers its whole text as one. */
export function prepareReport(sampler: SentenceSampler, r: StudyRecord): PreparedReport {
  const text = recordReport(r) ?? '';
  const p = sampler.prepare(parseReport(text));
  return p.sentences.length ? p : { sentences: [text.replace(/\s+/g, ' ').trim()] };
}
