/**
 * NIH ChestX-ray14, read as downloaded:
 *   <root>/Data_Entry_2017_v2020.csv(.gz) or Data_Entry_2017.csv(.gz)
 *     Image Index, Finding Labels (`A|B` or `No Finding`), Follow-up #, Patient ID, …, View Position, …
 *   images in <root>/images_001/images/…png (the split tarballs), <root>/images/…, or flat in <root>.
 *   splits: <root>/train_val_list.txt and test_list.txt when present, else a patient-hash split.
 * One record per image (ChestX-ray14 labels are per image).
 */
import * as fs from 'fs';
import * as path from 'path';
import { readCsvRecords } from '../csv';
import { NIH_LABELS } from '../labels';
import { hashSplit } from '../splits';
import { findDataFile, readLines } from '../text-files';
import { xtError } from '../../errors';
import type { BadLog } from '../skip-log';
import type { LabelValue, ReaderOptions, StudyRecord } from '../types';
import { isDir, splitFilter, viewFilter } from './common';

const CSV_NAMES = ['Data_Entry_2017_v2020.csv', 'Data_Entry_2017.csv'];

export function findNihCsv(root: string): string | undefined {
  for (const n of CSV_NAMES) {
    const f = findDataFile(root, n);
    if (f) return f;
  }
  return undefined;
}

export function isNih(root: string): boolean {
  return !!findNihCsv(root);
}

/** Every image file under the NIH folder layouts, by file name. */
async function indexImages(root: string): Promise<Map<string, string>> {
  const idx = new Map<string, string>();
  const addDir = async (dir: string) => {
    for (const f of await fs.promises.readdir(dir)) if (/\.(png|jpe?g)$/i.test(f) && !idx.has(f)) idx.set(f, path.join(dir, f));
  };
  const top = await fs.promises.readdir(root);
  for (const d of top.sort()) {
    const p = path.join(root, d);
    if (/^images(_\d+)?$/i.test(d) && isDir(p)) {
      if (isDir(path.join(p, 'images'))) await addDir(path.join(p, 'images'));
      await addDir(p);
    }
  }
  await addDir(root);
  return idx;
}

async function readList(file: string | undefined): Promise<Set<string> | undefined> {
  if (!file) return undefined;
  const s = new Set<string>();
  for await (const l of readLines(file)) if (l.trim()) s.add(l.trim());
  return s;
}

export async function* readNih(root: string, opts: ReaderOptions, bad: BadLog): AsyncGenerator<StudyRecord> {
  const csv = findNihCsv(root);
  if (!csv) throw xtError('XT_IO', `NIH ChestX-ray14: no Data_Entry_2017(_v2020).csv(.gz) in ${root}`);
  const images = await indexImages(root);
  const trainVal = await readList(findDataFile(root, 'train_val_list.txt'));
  const test = await readList(findDataFile(root, 'test_list.txt'));
  const keepView = viewFilter(opts.views);
  const keepSplit = splitFilter(opts.splits);
  const limit = opts.limit ?? Infinity;
  const known = new Set<string>(NIH_LABELS);
  let emitted = 0;

  for await (const { line, row } of readCsvRecords(csv, {
    required: ['Image Index', 'Finding Labels'],
    onBad: (w, r) => bad.add(w, r),
  })) {
    if (emitted >= limit) return;
    const where = `${csv}:${line}`;
    const name = row['Image Index'].trim();
    const findings = row['Finding Labels']
      .split('|')
      .map((s) => s.trim())
      .filter(Boolean);
    if (!name || !findings.length) {
      bad.add(where, 'malformed CSV row: empty Image Index or Finding Labels');
      continue;
    }
    const unknown = findings.filter((f) => !known.has(f));
    if (unknown.length) {
      bad.add(where, `malformed label: Finding Labels has unknown finding(s) ${unknown.map((u) => JSON.stringify(u)).join(', ')}`);
      continue;
    }
    if (findings.includes('No Finding') && findings.length > 1) {
      bad.add(where, `malformed label: "No Finding" together with findings in ${JSON.stringify(row['Finding Labels'])}`);
      continue;
    }
    const view = row['View Position']?.trim().toUpperCase() || undefined;
    if (keepView && !keepView(view)) continue;
    const patient = row['Patient ID']?.trim() || name.split('_')[0];
    const split = test?.has(name) ? 'test' : trainVal?.has(name) ? 'train' : hashSplit(patient, opts.splitSeed ?? 0);
    if (keepSplit && !keepSplit(split)) continue;
    const file = images.get(name);
    if (!file) {
      bad.add(path.join(root, name), `missing image: ${name} not found under ${root} (images_*/images/, images/ or flat)`);
      continue;
    }
    const labels: Record<string, LabelValue> = {};
    for (const l of NIH_LABELS) labels[l] = 0;
    for (const f of findings) labels[f] = 1;
    emitted++;
    yield { id: name.replace(/\.[^.]+$/, ''), images: [file], labels, split, view, views: [view] };
  }
}
