/**
 * PadChest (BIMCV), read as downloaded:
 *   <root>/PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv(.gz)  (any PADCHEST*.csv(.gz))
 *     ImageID, ImageDir, StudyID, PatientID, Projection, Report, Labels (a Python-list string), …
 *   images at <root>/<ImageDir>/<ImageID> (16-bit PNG), or flat in <root>.
 * Labels are explicit positives: a class in the label set that a study does not list is 0.
 * No official split: a patient-hash split.
 */
import * as fs from 'fs';
import * as path from 'path';
import { readCsvRecords } from '../csv';
import { hashSplit } from '../splits';
import { xtError } from '../../errors';
import type { BadLog } from '../skip-log';
import type { LabelValue, ReaderOptions, StudyRecord } from '../types';
import { isFile, splitFilter, viewFilter } from './common';

/** Frequent PadChest findings (its own spelling), the default label set. */
export const PADCHEST_LABELS = [
  'normal',
  'pleural effusion',
  'cardiomegaly',
  'pneumonia',
  'atelectasis',
  'nodule',
  'pneumothorax',
  'consolidation',
  'infiltrates',
  'alveolar pattern',
  'interstitial pattern',
  'COPD signs',
  'emphysema',
  'mass',
  'heart insufficiency',
  'pulmonary edema',
  'hiatal hernia',
  'pleural thickening',
  'scoliosis',
  'aortic elongation',
  'kyphosis',
  'hilar enlargement',
  'calcified granuloma',
  'fracture',
  'NSG tube',
  'endotracheal tube',
  'central venous catheter',
  'pacemaker',
  'chest drain tube',
];

export interface PadchestOptions extends ReaderOptions {
  /** The label CSV (default: the PADCHEST*.csv(.gz) in root). */
  csv?: string;
  /** Label set: a list, or `all` (every label seen; costs a second pass over the CSV). */
  labels?: string[] | 'all';
}

export function findPadchestCsv(root: string): string | undefined {
  let files: string[];
  try {
    files = fs.readdirSync(root);
  } catch {
    return undefined;
  }
  const f = files.filter((n) => /^padchest.*\.csv(\.gz)?$/i.test(n)).sort()[0];
  return f ? path.join(root, f) : undefined;
}

export function isPadchest(root: string): boolean {
  return !!findPadchestCsv(root);
}

/**
 * Parse a Python list-of-strings literal: `['a', "b's", ' c']` → `['a', "b's", 'c']` (trimmed).
 * Returns undefined when it is not one.
 */
export function parsePythonStringList(s: string): string[] | undefined {
  const t = s.trim();
  if (!t.startsWith('[') || !t.endsWith(']')) return undefined;
  const out: string[] = [];
  let i = 1;
  const end = t.length - 1;
  const ws = () => {
    while (i < end && /\s/.test(t[i])) i++;
  };
  ws();
  if (i === end) return out;
  for (;;) {
    ws();
    const q = t[i];
    if (q !== "'" && q !== '"') return undefined;
    i++;
    let v = '';
    while (i < end && t[i] !== q) {
      if (t[i] === '\\' && i + 1 < end) {
        v += t[i + 1];
        i += 2;
      } else v += t[i++];
    }
    if (i >= end) return undefined;
    i++; // closing quote
    out.push(v.trim());
    ws();
    if (i === end) return out;
    if (t[i] !== ',') return undefined;
    i++;
    ws();
    if (i === end) return out; // trailing comma
  }
}

function viewOf(row: Record<string, string>): string | undefined {
  const p = (row.Projection || row.ViewPosition_DICOM || '').trim().toUpperCase();
  if (!p) return undefined;
  if (p === 'L' || p === 'LATERAL' || p === 'LL' || p === 'RL') return 'LATERAL';
  if (p.startsWith('AP')) return 'AP';
  return p;
}

export async function* readPadchest(root: string, opts: PadchestOptions, bad: BadLog): AsyncGenerator<StudyRecord> {
  const csv = opts.csv ?? findPadchestCsv(root);
  if (!csv || !isFile(csv)) throw xtError('XT_IO', `PadChest: no PADCHEST*.csv(.gz) in ${root}`);
  const required = ['ImageID', 'ImageDir', 'Labels'];
  const onBad = (w: string, r: string) => bad.add(w, r);

  let names: string[];
  if (opts.labels === 'all') {
    const seen = new Set<string>();
    for await (const { row } of readCsvRecords(csv, { required, onBad: () => {} })) {
      for (const l of parsePythonStringList(row.Labels) ?? []) if (l) seen.add(l);
    }
    names = [...seen].sort();
  } else names = opts.labels ?? PADCHEST_LABELS;
  const nameSet = new Set(names);

  const keepView = viewFilter(opts.views);
  const keepSplit = splitFilter(opts.splits);
  const limit = opts.limit ?? Infinity;
  let flat: boolean | undefined;
  // rows of one study are usually adjacent; group by StudyID, emitting when it changes
  let cur: StudyRecord | undefined;
  let curKey: string | undefined;
  let emitted = 0;

  for await (const { line, row } of readCsvRecords(csv, { required, onBad })) {
    const where = `${csv}:${line}`;
    const id = row.ImageID.trim();
    const list = parsePythonStringList(row.Labels);
    if (!id) {
      bad.add(where, 'malformed CSV row: empty ImageID');
      continue;
    }
    if (!list) {
      bad.add(where, `malformed label: Labels = ${JSON.stringify(row.Labels.slice(0, 80))}, expected a Python list of strings`);
      continue;
    }
    const labs = list.filter(Boolean);
    if (!labs.length) {
      bad.add(where, 'malformed label: Labels is an empty list');
      continue;
    }
    const view = viewOf(row);
    if (keepView && !keepView(view)) continue;
    if (flat === undefined) {
      flat = !isFile(path.join(root, row.ImageDir.trim(), id)) && isFile(path.join(root, id));
    }
    const file = flat ? path.resolve(root, id) : path.resolve(root, row.ImageDir.trim(), id);
    const key = row.StudyID?.trim() || id;
    if (cur && curKey === key) {
      cur.images.push(file);
      cur.views!.push(view);
      continue;
    }
    if (cur) {
      emitted++;
      yield cur;
      if (emitted >= limit) return;
    }
    const patient = row.PatientID?.trim() || key;
    const split = hashSplit(patient, opts.splitSeed ?? 0);
    if (keepSplit && !keepSplit(split)) {
      cur = undefined;
      curKey = undefined;
      continue;
    }
    const labels: Record<string, LabelValue> = {};
    for (const n of names) labels[n] = 0;
    for (const l of labs) if (nameSet.has(l)) labels[l] = 1;
    const report = row.Report?.trim();
    cur = { id: key, images: [file], labels, split, view, views: [view] };
    if (report) cur.report = report;
    curKey = key;
  }
  if (cur && emitted < limit) yield cur;
}
