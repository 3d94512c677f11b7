/**
 * Validate a dataset: read every record, decode every image (so corrupt files are found), count
 * studies, images, reports, labels per class and splits, and list what is missing or bad.
 */
import { BadLog } from './skip-log';
import { canonicalSplit } from './labels';
import { decodeGreySharp, type DecodeOptions, type GreyImage } from './images';
import { loadReport } from './readers/mimic';
import { openDataset, type DatasetFormat, type OpenOptions } from './readers/index';
import { xtError } from '../errors';
import type { BadExample } from './types';

export interface LabelCounts {
  positive: number;
  negative: number;
  uncertain: number;
  missing: number;
}

export interface CheckReport {
  format: DatasetFormat;
  root: string;
  studies: number;
  /** Images that decoded. */
  images: number;
  /** Studies with non-empty report text. */
  reports: number;
  labels: Record<string, LabelCounts>;
  /** Studies per split, by the dataset's own split names (MIMIC: `validate`). */
  splits: Record<string, number>;
  bad: { count: number; byReason: Record<string, number>; examples: BadExample[] };
  seconds: number;
}

export interface CheckOptions extends OpenOptions {
  /** Images decoding at once (default 4). */
  concurrency?: number;
  /** Stop at the first bad row or file with an error (default: count and go on). */
  onBadSample?: 'skip' | 'fail';
  /** Keep this many examples of bad inputs (default 20). */
  maxExamples?: number;
  onProgress?: (done: number, total: number) => void;
  /** The image decoder (default sharp; the CLI passes lib/image's `decodeGrey`, the decoder training uses). */
  decode?: (path: string, opts: DecodeOptions) => Promise<GreyImage>;
}

export async function checkDataset(format: DatasetFormat | 'auto', root: string, opts: CheckOptions = {}): Promise<CheckReport> {
  const t0 = Date.now();
  const fail = opts.onBadSample === 'fail';
  const bad = new BadLog(opts.maxExamples ?? 20);
  const onBad = (b: BadExample) => {
    bad.add(b.path, b.reason);
    if (fail) throw xtError('XT_INVALID', `${b.path}: ${b.reason}`);
  };
  const ds = await openDataset(format, root, { ...opts, onBad });

  const labels: Record<string, LabelCounts> = {};
  for (const n of ds.labelNames) labels[n] = { positive: 0, negative: 0, uncertain: 0, missing: 0 };
  const splits: Record<string, number> = {};
  let reports = 0;
  for (const r of ds.records) {
    const own = r.datasetSplit ?? r.split;
    splits[own] = (splits[own] ?? 0) + 1;
    for (const n of ds.labelNames) {
      const v = r.labels[n];
      const c = labels[n];
      if (v === 1) c.positive++;
      else if (v === 0) c.negative++;
      else if (v === -1) c.uncertain++;
      else c.missing++;
    }
  }

  // reports (lazy ones are read now) and images, with bounded concurrency
  const files: string[] = [];
  for (const r of ds.records) for (const f of r.images) files.push(f);
  const total = files.length;
  let images = 0;
  let done = 0;
  let next = 0;
  let failure: unknown;
  const conc = Math.max(1, opts.concurrency ?? 4);
  const worker = async () => {
    while (next < files.length && failure === undefined) {
      const f = files[next++];
      try {
        await (opts.decode ?? decodeGreySharp)(f, { size: 64, mode: 'crop' });
        images++;
      } catch (e) {
        const msg = (e as Error).message;
        const reason = msg.startsWith(`${f}: `) ? msg.slice(f.length + 2) : msg;
        bad.add(f, reason);
        if (fail) failure = e;
      }
      done++;
      opts.onProgress?.(done, total);
    }
  };
  await Promise.all(Array.from({ length: conc }, worker));
  if (failure !== undefined) throw failure;
  let nextR = 0;
  const rworker = async () => {
    while (nextR < ds.records.length) {
      const r = ds.records[nextR++];
      const text = r.report ?? (r.reportPath ? await loadReport(r) : undefined);
      if (text && text.trim()) reports++;
    }
  };
  await Promise.all(Array.from({ length: 16 }, rworker));

  return {
    format: ds.format,
    root: ds.root,
    studies: ds.records.length,
    images,
    reports,
    labels,
    splits,
    bad: { count: bad.count, byReason: bad.summary().byReason, examples: bad.examples },
    seconds: (Date.now() - t0) / 1000,
  };
}

/** Human-readable summary of a check. */
export function formatCheckReport(r: CheckReport): string {
  const lines: string[] = [];
  lines.push(`${r.format} dataset at ${r.root}`);
  lines.push(`  studies ${r.studies}, images decoded ${r.images}, reports ${r.reports}`);
  // the dataset's own names; an alias says which canonical name split options also accept for it
  const split = ([k, v]: [string, number]) => (canonicalSplit(k) === k ? `${k} ${v}` : `${k} ${v} (= ${canonicalSplit(k)})`);
  lines.push(`  splits: ${Object.entries(r.splits).map(split).join(', ') || 'none'}`);
  const names = Object.keys(r.labels);
  if (names.length) {
    const w = Math.max(5, ...names.map((n) => n.length));
    lines.push(`  ${'label'.padEnd(w)}  positive  negative  uncertain  missing`);
    for (const n of names) {
      const c = r.labels[n];
      lines.push(
        `  ${n.padEnd(w)}  ${String(c.positive).padStart(8)}  ${String(c.negative).padStart(8)}  ${String(c.uncertain).padStart(9)}  ${String(c.missing).padStart(7)}`,
      );
    }
  }
  if (r.bad.count) {
    lines.push(`  bad: ${r.bad.count} (${Object.entries(r.bad.byReason).map(([k, v]) => `${v} × ${k}`).join('; ')})`);
    for (const e of r.bad.examples) lines.push(`    ${e.path}: ${e.reason}`);
  } else lines.push('  bad: none');
  lines.push(`  checked in ${r.seconds.toFixed(1)} s`);
  return lines.join('\n');
}
