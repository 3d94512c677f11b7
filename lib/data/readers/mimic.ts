/**
 * MIMIC-CXR-JPG (+ MIMIC-CXR reports), read as downloaded from PhysioNet:
 *   <root>/mimic-cxr-2.0.0-split.csv(.gz)      dicom_id, study_id, subject_id, split
 *   <root>/mimic-cxr-2.0.0-metadata.csv(.gz)   dicom_id, …, ViewPosition, …         (optional)
 *   <root>/mimic-cxr-2.0.0-chexpert.csv(.gz)   subject_id, study_id, <14 labels>    (or -negbio)
 *   <root>/files/pXX/pXXXXXXXX/sXXXXXXXX/<dicom_id>.jpg
 *   <reports>/files/pXX/pXXXXXXXX/sXXXXXXXX.txt  (reports root defaults to <root>)
 * One record per study; label columns are matched by name.
 */
import * as fs from 'fs';
import * as path from 'path';
import { readCsvRecords } from '../csv';
import { applyUncertain, parseLabelCell, splitFields } from '../labels';
import { parseTextReport, selectText } from '../../text/reports';
import { findDataFile } from '../text-files';
import { xtError } from '../../errors';
import type { BadLog } from '../skip-log';
import type { LabelValue, ReaderOptions, StudyRecord } from '../types';
import { isDir, readTextFiles, splitFilter, viewFilter } from './common';

export interface MimicOptions extends ReaderOptions {
  /** Root of the MIMIC-CXR reports (the folder holding `files/` from `mimic-cxr-reports.zip`); default: `root`. */
  reports?: string;
  /** Which label file: `chexpert` (default) or `negbio`. */
  labeler?: 'chexpert' | 'negbio';
  /** Do not read report texts now; records carry `reportPath` instead (for 200k+ studies). */
  lazyReports?: boolean;
}

const PREFIX = 'mimic-cxr-2.0.0';

/** Whether `root` looks like MIMIC-CXR-JPG. */
export function isMimic(root: string): boolean {
  return !!findDataFile(root, `${PREFIX}-split.csv`);
}

/** `files/p10/p10000032/s50414267` for a subject and study id. */
export function mimicStudyDir(subject: string, study: string): string {
  return path.join('files', `p${subject.slice(0, 2)}`, `p${subject}`, `s${study}`);
}

interface StudyAcc {
  subject: string;
  study: string;
  split: string;
  datasetSplit?: string;
  dicoms: string[];
}

export async function* readMimic(root: string, opts: MimicOptions, bad: BadLog): AsyncGenerator<StudyRecord> {
  const splitFile = findDataFile(root, `${PREFIX}-split.csv`);
  if (!splitFile) throw xtError('XT_IO', `MIMIC-CXR: ${path.join(root, PREFIX + '-split.csv(.gz)')} not found`);
  const onBad = (w: string, r: string) => bad.add(w, r);

  // 1. studies and their images, in the split file's order
  const studies = new Map<string, StudyAcc>();
  for await (const { line, row } of readCsvRecords(splitFile, {
    required: ['dicom_id', 'study_id', 'subject_id', 'split'],
    onBad,
  })) {
    const { dicom_id, study_id, subject_id, split } = row;
    if (!/^\d+$/.test(subject_id) || !/^\d+$/.test(study_id) || !dicom_id) {
      bad.add(`${splitFile}:${line}`, `malformed CSV row: subject_id/study_id must be integers, dicom_id non-empty`);
      continue;
    }
    let acc = studies.get(study_id);
    if (!acc) {
      acc = { subject: subject_id, study: study_id, ...splitFields(split), dicoms: [] };
      studies.set(study_id, acc);
    }
    acc.dicoms.push(dicom_id);
  }

  // 2. views (optional)
  const views = new Map<string, string>();
  const metaFile = findDataFile(root, `${PREFIX}-metadata.csv`);
  if (metaFile) {
    for await (const { row } of readCsvRecords(metaFile, { required: ['dicom_id', 'ViewPosition'], onBad })) {
      if (row.ViewPosition) views.set(row.dicom_id, row.ViewPosition.trim().toUpperCase());
    }
  } else if (opts.views?.length) {
    throw xtError('XT_IO', `MIMIC-CXR: view filtering needs ${PREFIX}-metadata.csv(.gz) in ${root}`);
  }

  // 3. labels by study (matched by column name)
  const labeler = opts.labeler ?? 'chexpert';
  const labelFile = findDataFile(root, `${PREFIX}-${labeler}.csv`);
  const labels = new Map<string, Record<string, LabelValue>>();
  let labelNames: string[] = [];
  if (labelFile) {
    for await (const { line, row } of readCsvRecords(labelFile, { required: ['subject_id', 'study_id'], onBad })) {
      if (!labelNames.length) labelNames = Object.keys(row).filter((k) => k !== 'subject_id' && k !== 'study_id');
      const lab: Record<string, LabelValue> = {};
      let ok = true;
      for (const name of labelNames) {
        const v = parseLabelCell(row[name]);
        if (v === undefined) {
          bad.add(`${labelFile}:${line}`, `malformed label: column "${name}" = ${JSON.stringify(row[name])}, expected 1, 0, -1 or blank`);
          ok = false;
          break;
        }
        lab[name] = applyUncertain(v, opts.uncertain);
      }
      if (ok) labels.set(row.study_id, lab);
    }
  }

  const keepView = viewFilter(opts.views);
  const keepSplit = splitFilter(opts.splits);
  // the folder holding pXX/: <reports>/files (the zip's layout), or <reports> itself when it is that folder
  if (opts.reports && !isDir(opts.reports)) throw xtError('XT_IO', `MIMIC-CXR reports folder not found: ${opts.reports}`);
  const reportsBase = opts.reports ?? root;
  const reportsFiles = isDir(path.join(reportsBase, 'files')) ? path.join(reportsBase, 'files') : reportsBase;

  // 4. records, reports read in bounded-concurrency chunks
  const limit = opts.limit ?? Infinity;
  let emitted = 0;
  let chunk: StudyRecord[] = [];
  const flush = async function* (): AsyncGenerator<StudyRecord> {
    if (!opts.lazyReports) {
      const texts = await readTextFiles(chunk.map((r) => r.reportPath!));
      chunk.forEach((r, k) => attachReport(r, texts[k]));
    }
    yield* chunk;
    chunk = [];
  };
  for (const acc of studies.values()) {
    if (emitted >= limit) break;
    if (keepSplit && !keepSplit(acc.split)) continue;
    const dir = mimicStudyDir(acc.subject, acc.study);
    let dicoms = acc.dicoms;
    if (keepView) dicoms = dicoms.filter((d) => keepView(views.get(d)));
    if (!dicoms.length) continue;
    const lab = labels.get(acc.study) ?? Object.fromEntries(labelNames.map((n) => [n, null as LabelValue]));
    const v = dicoms.map((d) => views.get(d));
    const rec: StudyRecord = {
      id: `s${acc.study}`,
      images: dicoms.map((d) => path.resolve(root, dir, `${d}.jpg`)),
      labels: lab,
      split: acc.split,
      ...(acc.datasetSplit ? { datasetSplit: acc.datasetSplit } : {}),
      reportPath: path.resolve(reportsFiles, path.relative('files', dir) + '.txt'),
    };
    if (views.size) {
      rec.views = v;
      rec.view = v[0];
    }
    chunk.push(rec);
    emitted++;
    if (chunk.length >= 256) yield* flush();
  }
  if (chunk.length) yield* flush();
}

/** Report text (findings + impression, else the text outside any section) and sections of a free-text report. */
export function reportFromText(text: string): { report?: string; sections: Record<string, string> } {
  const parsed = parseTextReport(text);
  const body = selectText(parsed, 'both').trim();
  return { report: body || undefined, sections: parsed.sections };
}

/** Fill `report`/`sections` of a MIMIC record from its text (undefined: file missing). */
export function attachReport(r: StudyRecord, text: string | undefined): void {
  delete r.reportPath;
  if (text === undefined) return;
  const { report, sections } = reportFromText(text);
  if (report) {
    r.report = report;
    r.sections = sections;
  }
}

/** Read a record's report now if it was left lazy (MIMIC `lazyReports`). */
export async function loadReport(r: StudyRecord): Promise<string | undefined> {
  if (r.report !== undefined || !r.reportPath) return r.report;
  let text: string | undefined;
  try {
    text = await fs.promises.readFile(r.reportPath, 'utf8');
  } catch {
    text = undefined;
  }
  if (text === undefined) return undefined;
  return reportFromText(text).report;
}
