/** Small helpers shared by the dataset readers. */
import * as fs from 'fs';
import { canonicalSplit } from '../labels';
import type { BadLog } from '../skip-log';
import type { ReaderOptions, StudyRecord } from '../types';

/** A reader: yields study records from a dataset root, reporting bad rows/files to `bad`. */
export type ReaderFn<O extends ReaderOptions = ReaderOptions> = (
  root: string,
  opts: O,
  bad: BadLog,
) => AsyncGenerator<StudyRecord>;

/** Upper-cased view names to keep, or undefined for all. */
export function viewFilter(views?: string[]): ((v: string | undefined) => boolean) | undefined {
  if (!views || !views.length) return undefined;
  const keep = new Set(views.map((v) => v.trim().toUpperCase()));
  return (v) => v !== undefined && keep.has(v.trim().toUpperCase());
}

/** Canonical split names to keep (`validate` and `valid` name the same split), or undefined for all. */
export function splitFilter(splits?: string[]): ((s: string) => boolean) | undefined {
  if (!splits || !splits.length) return undefined;
  const keep = new Set(splits.map(canonicalSplit));
  return (s) => keep.has(canonicalSplit(s));
}

/** Read many small text files with bounded concurrency; a missing/unreadable file yields undefined. */
export async function readTextFiles(paths: string[], concurrency = 32): Promise<(string | undefined)[]> {
  const out: (string | undefined)[] = new Array(paths.length);
  let next = 0;
  const worker = async () => {
    while (next < paths.length) {
      const k = next++;
      try {
        out[k] = await fs.promises.readFile(paths[k], 'utf8');
      } catch {
        out[k] = undefined;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, paths.length) }, worker));
  return out;
}

/** Whether a directory exists. */
export function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

export function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}
