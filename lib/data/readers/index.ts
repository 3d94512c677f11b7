/** `openDataset(format | 'auto', root, opts)`: one entry point over every dataset reader. */
import * as path from 'path';
import { BadLog, type BadSummary } from '../skip-log';
import { xtError } from '../../errors';
import type { LabelValue, ReaderOptions, StudyRecord } from '../types';
import { isDir, isFile, type ReaderFn } from './common';
import { isChexpert, readChexpert, type ChexpertOptions } from './chexpert';
import { isManifest, readManifest } from './manifest';
import { isMimic, readMimic, type MimicOptions } from './mimic';
import { isNih, readNih } from './nih';
import { isOpenI, readOpenI, type OpenIOptions } from './openi';
import { isPadchest, readPadchest, type PadchestOptions } from './padchest';

export type DatasetFormat = 'mimic' | 'chexpert' | 'nih' | 'padchest' | 'openi' | 'manifest';
export const DATASET_FORMATS: DatasetFormat[] = ['mimic', 'chexpert', 'nih', 'padchest', 'openi', 'manifest'];

/** Options of every reader together (each reader reads the ones it knows). */
export type OpenOptions = ReaderOptions &
  Omit<MimicOptions, 'reports'> &
  ChexpertOptions &
  Omit<PadchestOptions, 'labels'> &
  Omit<OpenIOptions, 'reports' | 'images'> & {
    /** MIMIC: reports root; Open-I: the XML folder. */
    reports?: string;
    /** Open-I: the PNG folder. */
    images?: string;
    /** PadChest: label set (list or `all`). */
    labels?: string[] | 'all';
  };

export interface Dataset {
  format: DatasetFormat;
  root: string;
  records: StudyRecord[];
  /** Every label name, in first-seen order; every record has every one (absent ones are null). */
  labelNames: string[];
  /** Rows and files skipped while reading. */
  bad: BadSummary;
}

const READERS: Record<DatasetFormat, ReaderFn<OpenOptions>> = {
  mimic: readMimic,
  chexpert: readChexpert,
  nih: readNih,
  padchest: readPadchest,
  openi: readOpenI,
  manifest: readManifest,
};

/** Which layout a root holds (the first that matches: manifest, MIMIC, CheXpert, NIH, PadChest, Open-I). */
export async function detectFormat(root: string): Promise<DatasetFormat> {
  if (!isDir(root) && !isFile(root)) throw xtError('XT_IO', `dataset root not found: ${root}`);
  if (isManifest(root)) return 'manifest';
  if (isDir(root)) {
    if (isMimic(root)) return 'mimic';
    if (await isChexpert(root)) return 'chexpert';
    if (isNih(root)) return 'nih';
    if (isPadchest(root)) return 'padchest';
    if (isOpenI(root)) return 'openi';
  }
  throw xtError(
    'XT_INVALID',
    `cannot tell the dataset format of ${root}: name it with --format (${DATASET_FORMATS.join('|')})`,
  );
}

function checkFormat(format: string): DatasetFormat | 'auto' {
  if (format === 'auto' || (DATASET_FORMATS as string[]).includes(format)) return format as DatasetFormat | 'auto';
  throw xtError('XT_INVALID', `unknown dataset format ${JSON.stringify(format)}: expected auto|${DATASET_FORMATS.join('|')}`);
}

/**
 * Stream the records of a dataset (memory: the reader's own indexes only). Bad rows/files go to `bad`.
 */
export async function* streamDataset(
  format: DatasetFormat | 'auto',
  root: string,
  opts: OpenOptions = {},
  bad: BadLog = new BadLog(20, opts.onBad),
): AsyncGenerator<StudyRecord> {
  const f = checkFormat(format);
  const fmt = f === 'auto' ? await detectFormat(root) : f;
  if (!isDir(root) && !(fmt === 'manifest' && isFile(root))) throw xtError('XT_IO', `dataset root not found: ${root}`);
  yield* READERS[fmt](path.resolve(root), opts, bad);
}

/** Read a whole dataset's records into memory (records only; images stay on disk). */
export async function openDataset(format: DatasetFormat | 'auto', root: string, opts: OpenOptions = {}): Promise<Dataset> {
  const f = checkFormat(format);
  const fmt = f === 'auto' ? await detectFormat(root) : f;
  const bad = new BadLog(20, opts.onBad);
  const records: StudyRecord[] = [];
  const names = new Set<string>();
  let uniform = true;
  let firstKeys: string[] | undefined;
  for await (const r of streamDataset(fmt, root, opts, bad)) {
    const keys = Object.keys(r.labels);
    if (!firstKeys) firstKeys = keys;
    else if (uniform && (keys.length !== firstKeys.length || keys.some((k, i) => k !== firstKeys![i]))) uniform = false;
    for (const k of keys) names.add(k);
    records.push(r);
  }
  const labelNames = [...names];
  if (!uniform) {
    for (const r of records) for (const n of labelNames) if (!(n in r.labels)) r.labels[n] = null as LabelValue;
  }
  return { format: fmt, root: path.resolve(root), records, labelNames, bad: bad.summary() };
}
