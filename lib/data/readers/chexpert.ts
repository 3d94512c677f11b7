/**
 * CheXpert (Stanford), read as downloaded:
 *   <root>/train.csv, <root>/valid.csv   Path, Sex, Age, Frontal/Lateral, AP/PA, <14 labels>
 *   Path values start with the dataset folder's own name
 *   (`CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg`): resolved against root's parent.
 *   test labels: `groundtruth.csv` (Study, <14 labels>) keyed by study folder; images are listed from disk.
 * One record per study. Label columns are matched by NAME: the radiologist files order them differently.
 */
import * as fs from 'fs';
import * as path from 'path';
import { readCsvHeader, readCsvRecords } from '../csv';
import { applyUncertain, CHEXPERT_LABELS, parseLabelCell } from '../labels';
import { findDataFile } from '../text-files';
import { xtError } from '../../errors';
import type { BadLog } from '../skip-log';
import type { LabelValue, ReaderOptions, StudyRecord } from '../types';
import { isDir, isFile, splitFilter, viewFilter } from './common';

export interface ChexpertOptions extends ReaderOptions {
  /** A labels file keyed by `Study` (CheXpert test `groundtruth.csv`, or a radiologist's file); default: `<root>/groundtruth.csv` or `<root>/test/groundtruth.csv` when present. */
  groundtruth?: string;
}

/** Whether `root` looks like CheXpert (a train/valid CSV with a `Path` column, or a groundtruth.csv with `Study`). */
export async function isChexpert(root: string): Promise<boolean> {
  for (const f of ['train.csv', 'valid.csv']) {
    const p = findDataFile(root, f);
    if (p && (await readCsvHeader(p))?.includes('Path')) return true;
  }
  const g = findGroundtruth(root);
  return !!g && !!(await readCsvHeader(g))?.includes('Study');
}

function findGroundtruth(root: string): string | undefined {
  return findDataFile(root, 'groundtruth.csv') ?? findDataFile(path.join(root, 'test'), 'groundtruth.csv');
}

/**
 * Resolve a CheXpert `Path`/`Study` value. Its first segment is the dataset folder's name: when that is
 * the root's own name, resolve against the root's parent; otherwise (a renamed folder, or
 * `CheXpert-v1.0` in groundtruth.csv next to `CheXpert-v1.0-small`) drop it and resolve against root.
 */
export function resolveChexpertPath(root: string, p: string): { abs: string; rel: string } {
  const segs = p.replace(/\\/g, '/').split('/').filter(Boolean);
  const absRoot = path.resolve(root);
  if (segs.length > 1 && (segs[0] === path.basename(absRoot) || /^chexpert/i.test(segs[0]))) {
    const rel = segs.slice(1).join('/');
    return { abs: path.join(absRoot, rel), rel };
  }
  return { abs: path.join(absRoot, segs.join('/')), rel: segs.join('/') };
}

interface Acc {
  rec: StudyRecord;
  where: string;
}

function viewOf(frontalLateral: string | undefined, apPa: string | undefined): string | undefined {
  const fl = (frontalLateral ?? '').trim().toLowerCase();
  if (fl === 'lateral') return 'LATERAL';
  const v = (apPa ?? '').trim().toUpperCase();
  if (fl === 'frontal') return v || 'FRONTAL';
  return v || undefined;
}

function rowLabels(
  row: Record<string, string>,
  names: string[],
  opts: ReaderOptions,
  where: string,
  bad: BadLog,
): Record<string, LabelValue> | undefined {
  const lab: Record<string, LabelValue> = {};
  for (const name of names) {
    const v = parseLabelCell(row[name]);
    if (v === undefined) {
      bad.add(where, `malformed label: column "${name}" = ${JSON.stringify(row[name])}, expected 1, 0, -1 or blank`);
      return undefined;
    }
    lab[name] = applyUncertain(v, opts.uncertain);
  }
  return lab;
}

const sameLabels = (a: Record<string, LabelValue>, b: Record<string, LabelValue>) =>
  Object.keys(a).every((k) => a[k] === b[k]);

export async function* readChexpert(root: string, opts: ChexpertOptions, bad: BadLog): AsyncGenerator<StudyRecord> {
  const keepView = viewFilter(opts.views);
  const keepSplit = splitFilter(opts.splits);
  const limit = opts.limit ?? Infinity;
  let emitted = 0;
  const onBad = (w: string, r: string) => bad.add(w, r);
  let found = false;

  for (const [file, split] of [
    ['train.csv', 'train'],
    ['valid.csv', 'valid'],
  ] as const) {
    const csv = findDataFile(root, file);
    if (!csv || (keepSplit && !keepSplit(split))) {
      if (csv) found = true;
      continue;
    }
    found = true;
    const header = (await readCsvHeader(csv)) ?? [];
    const names = header.filter((h) => (CHEXPERT_LABELS as readonly string[]).includes(h));
    const studies = new Map<string, Acc>();
    for await (const { line, row } of readCsvRecords(csv, { required: ['Path'], onBad })) {
      const where = `${csv}:${line}`;
      if (!row.Path.trim()) {
        bad.add(where, 'malformed CSV row: empty Path');
        continue;
      }
      const view = viewOf(row['Frontal/Lateral'], row['AP/PA']);
      if (keepView && !keepView(view)) continue;
      const lab = rowLabels(row, names, opts, where, bad);
      if (!lab) continue;
      const { abs, rel } = resolveChexpertPath(root, row.Path.trim());
      const studyRel = path.posix.dirname(rel);
      const acc = studies.get(studyRel);
      if (!acc) {
        studies.set(studyRel, {
          rec: { id: studyRel, images: [abs], labels: lab, split, view, views: [view] },
          where,
        });
      } else {
        if (!sameLabels(acc.rec.labels, lab)) {
          // CheXpert labels are per study (from its report); disagreeing rows mean a damaged file
          bad.add(where, `conflicting labels: this row's labels differ from ${acc.where} for study ${studyRel}; study dropped`);
          acc.rec.images = [];
          continue;
        }
        if (acc.rec.images.length) {
          acc.rec.images.push(abs);
          acc.rec.views!.push(view);
        }
      }
    }
    for (const { rec } of studies.values()) {
      if (emitted >= limit) return;
      if (!rec.images.length) continue;
      emitted++;
      yield rec;
    }
  }

  const gt = opts.groundtruth ?? findGroundtruth(root);
  if (opts.groundtruth && !isFile(opts.groundtruth)) throw xtError('XT_IO', `CheXpert groundtruth file not found: ${opts.groundtruth}`);
  if (gt && !(keepSplit && !keepSplit('test'))) {
    found = true;
    const header = (await readCsvHeader(gt)) ?? [];
    const names = header.filter((h) => (CHEXPERT_LABELS as readonly string[]).includes(h));
    for await (const { line, row } of readCsvRecords(gt, { required: ['Study'], onBad })) {
      if (emitted >= limit) return;
      const where = `${gt}:${line}`;
      const lab = rowLabels(row, names, opts, where, bad);
      if (!lab) continue;
      const { abs, rel } = resolveChexpertPath(root, row.Study.trim());
      if (!isDir(abs)) {
        bad.add(abs, `missing study folder: ${row.Study} (from ${where})`);
        continue;
      }
      const files = (await fs.promises.readdir(abs)).filter((f) => /\.(jpe?g|png|dcm)$/i.test(f)).sort();
      let images = files.map((f) => path.join(abs, f));
      let views: (string | undefined)[] = files.map((f) =>
        /lateral/i.test(f) ? 'LATERAL' : /frontal/i.test(f) ? 'FRONTAL' : undefined,
      );
      if (keepView) {
        const keep = views.map((v) => keepView(v));
        images = images.filter((_, k) => keep[k]);
        views = views.filter((_, k) => keep[k]);
      }
      if (!files.length) {
        bad.add(abs, `missing images: study folder holds no image files (from ${where})`);
        continue;
      }
      if (!images.length) continue;
      emitted++;
      yield { id: rel, images, labels: lab, split: 'test', view: views[0], views };
    }
  }
  if (!found) throw xtError('XT_IO', `CheXpert: no train.csv, valid.csv or groundtruth.csv in ${root}`);
}
