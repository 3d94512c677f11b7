/**
 * The generic manifest: JSONL (one object a line) or CSV, one row per study:
 *   {"id", "image" (path relative to the manifest; or "images": [...]), "report", "labels": {name: 1|0|-1|null},
 *    "split", "view"?, "sections"?}
 * In CSV: columns id, image (several joined by '|'), report, split, view, and either a `labels` column holding
 * JSON or one column per label. `root` is the manifest file or a folder holding manifest.jsonl / manifest.csv.
 */
import * as path from 'path';
import { readCsvHeader, readCsvRecords } from '../csv';
import { applyUncertain, parseLabelCell, splitFields } from '../labels';
import { readLines } from '../text-files';
import { xtError } from '../../errors';
import type { BadLog } from '../skip-log';
import type { LabelValue, ReaderOptions, StudyRecord } from '../types';
import { isDir, isFile, splitFilter, viewFilter } from './common';

const NAMES = ['manifest.jsonl', 'manifest.jsonl.gz', 'manifest.csv', 'manifest.csv.gz'];
const CSV_RESERVED = new Set(['id', 'image', 'images', 'report', 'split', 'view', 'labels', 'synthetic']);

/** The manifest file for a root (the file itself, or manifest.jsonl/csv inside a folder). */
export function findManifest(root: string): string | undefined {
  if (isFile(root) && /\.(jsonl|ndjson|csv)(\.gz)?$/i.test(root)) return root;
  if (isDir(root)) for (const n of NAMES) if (isFile(path.join(root, n))) return path.join(root, n);
  return undefined;
}

export function isManifest(root: string): boolean {
  return !!findManifest(root);
}

function labelValue(v: unknown): LabelValue | undefined {
  if (v === null || v === undefined) return null;
  if (v === true) return 1;
  if (v === false) return 0;
  if (typeof v === 'number') return v === 1 || v === 0 || v === -1 ? v : undefined;
  if (typeof v === 'string') return parseLabelCell(v);
  return undefined;
}

interface RawRow {
  id?: unknown;
  image?: unknown;
  images?: unknown;
  report?: unknown;
  sections?: unknown;
  labels?: unknown;
  split?: unknown;
  view?: unknown;
}

/** Validate one raw row into a record; reasons name the field. */
function toRecord(raw: RawRow, base: string, fallbackId: string, opts: ReaderOptions): StudyRecord | string {
  let imgs: unknown[];
  if (Array.isArray(raw.images)) imgs = raw.images;
  else if (raw.image !== undefined && raw.image !== null && raw.image !== '') imgs = [raw.image];
  else return 'missing field: "image" (or "images")';
  if (!imgs.length || imgs.some((s) => typeof s !== 'string' || !s)) return 'invalid field: "image" must be a non-empty path string';
  const images = (imgs as string[]).map((s) => path.resolve(base, s));
  if (raw.labels !== undefined && (typeof raw.labels !== 'object' || raw.labels === null || Array.isArray(raw.labels)))
    return 'invalid field: "labels" must be an object {name: 1|0|-1|null}';
  const labels: Record<string, LabelValue> = {};
  for (const [k, v] of Object.entries((raw.labels as Record<string, unknown>) ?? {})) {
    const lv = labelValue(v);
    if (lv === undefined) return `invalid label: "labels.${k}" = ${JSON.stringify(v)}, expected 1, 0, -1 or null`;
    labels[k] = applyUncertain(lv, opts.uncertain);
  }
  if (raw.report !== undefined && raw.report !== null && typeof raw.report !== 'string') return 'invalid field: "report" must be a string';
  const id = raw.id === undefined || raw.id === null || raw.id === '' ? fallbackId : String(raw.id);
  const rec: StudyRecord = { id, images, labels, ...(typeof raw.split === 'string' && raw.split.trim() ? splitFields(raw.split) : { split: 'train' }) };
  const report = typeof raw.report === 'string' ? raw.report.trim() : '';
  if (report) rec.report = report;
  if (raw.sections && typeof raw.sections === 'object' && !Array.isArray(raw.sections)) {
    const sec: Record<string, string> = {};
    for (const [k, v] of Object.entries(raw.sections as Record<string, unknown>)) if (typeof v === 'string' && v.trim()) sec[k] = v.trim();
    if (Object.keys(sec).length) rec.sections = sec;
  }
  if (typeof raw.view === 'string' && raw.view) {
    rec.view = raw.view.toUpperCase();
    rec.views = images.map(() => rec.view);
  }
  return rec;
}

async function* rawRows(file: string, bad: BadLog): AsyncGenerator<{ where: string; raw: RawRow; line: number }> {
  if (/\.csv(\.gz)?$/i.test(file)) {
    const header = (await readCsvHeader(file)) ?? [];
    const labelCols = header.includes('labels') ? [] : header.filter((h) => !CSV_RESERVED.has(h));
    for await (const { line, row } of readCsvRecords(file, { onBad: (w, r) => bad.add(w, r) })) {
      const where = `${file}:${line}`;
      const raw: RawRow = { id: row.id, report: row.report, split: row.split, view: row.view };
      const img = row.images ?? row.image;
      if (img) raw.images = img.split('|').map((s) => s.trim()).filter(Boolean);
      if (header.includes('labels')) {
        try {
          raw.labels = row.labels.trim() ? JSON.parse(row.labels) : {};
        } catch {
          bad.add(where, 'invalid field: "labels" is not JSON');
          continue;
        }
      } else {
        const lab: Record<string, string> = {};
        for (const c of labelCols) lab[c] = row[c];
        raw.labels = lab;
      }
      yield { where, raw, line };
    }
    return;
  }
  let line = 0;
  for await (const text of readLines(file)) {
    line++;
    if (!text.trim()) continue;
    const where = `${file}:${line}`;
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (e) {
      bad.add(where, `malformed JSON row: ${(e as Error).message}`);
      continue;
    }
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
      bad.add(where, 'malformed JSON row: not an object');
      continue;
    }
    yield { where, raw: raw as RawRow, line };
  }
}

export async function* readManifest(root: string, opts: ReaderOptions, bad: BadLog): AsyncGenerator<StudyRecord> {
  const file = findManifest(root);
  if (!file) throw xtError('XT_IO', `manifest: ${root} is not a .jsonl/.csv file nor a folder with manifest.jsonl or manifest.csv`);
  const base = path.dirname(path.resolve(file));
  const keepView = viewFilter(opts.views);
  const keepSplit = splitFilter(opts.splits);
  const limit = opts.limit ?? Infinity;
  const ids = new Set<string>();
  let emitted = 0;
  for await (const { where, raw, line } of rawRows(file, bad)) {
    if (emitted >= limit) return;
    const rec = toRecord(raw, base, `row${line}`, opts);
    if (typeof rec === 'string') {
      bad.add(where, rec);
      continue;
    }
    if (ids.has(rec.id)) {
      bad.add(where, `duplicate id: ${JSON.stringify(rec.id)} appears earlier in the manifest`);
      continue;
    }
    ids.add(rec.id);
    if (keepSplit && !keepSplit(rec.split)) continue;
    if (keepView && !keepView(rec.view)) continue;
    emitted++;
    yield rec;
  }
}
