/** Options and output writing shared by the `score` and `eval` commands (not a command itself). */
import * as fs from 'fs';
import * as path from 'path';
import { xtError } from '../errors';
import type { ThresholdPolicy, BootstrapOptions } from '../eval/metrics';
import { formatTerminal, htmlReport, reportCsv, type ReportInput } from '../eval/report';

/**
 * `--threshold`: a number (fixed), `max-mcc` / `youden` (chosen on a validation split), or a JSON file
 * `{"Label": threshold, …}` (given per label; `"*"` is the fallback).
 */
export function parseThresholdArg(arg: string | number | undefined): ThresholdPolicy {
  if (arg === undefined || arg === '') return { kind: 'fixed', value: 0.5 };
  const s = String(arg).trim();
  if (s === 'max-mcc' || s === 'mcc') return { kind: 'max-mcc' };
  if (s === 'youden') return { kind: 'youden' };
  if (/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(s)) return { kind: 'fixed', value: Number(s) };
  let text: string;
  try {
    text = fs.readFileSync(s, 'utf8');
  } catch (e) {
    throw xtError('XT_INVALID', `--threshold ${JSON.stringify(s)}: expected a number, max-mcc, youden or a JSON file (${(e as Error).message})`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw xtError('XT_INVALID', `${s}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw xtError('XT_INVALID', `${s}: expected {"Label": threshold, …}`);
  const values: Record<string, number> = {};
  let fallback: number | undefined;
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (typeof x !== 'number' || !Number.isFinite(x)) throw xtError('XT_INVALID', `${s}: threshold of "${k}" is ${JSON.stringify(x)}, expected a number`);
    if (k === '*') fallback = x;
    else values[k] = x;
  }
  return { kind: 'per-label', values, fallback };
}

export function bootstrapArg(resamples: number | undefined, seed: number | undefined, ci: boolean | undefined): BootstrapOptions | false {
  if (ci === false || resamples === 0) return false;
  const r = resamples ?? 1000;
  if (!Number.isInteger(r) || r < 0) throw xtError('XT_INVALID', `--resamples must be a non-negative integer, got ${resamples}`);
  return { resamples: r, seed: seed ?? 42 };
}

/** yargs options for report outputs (`--json [FILE]` prints to stdout without a file). */
export const outputOptions = {
  json: { type: 'string', describe: 'JSON report: to FILE, or to stdout when given without a value' },
  csv: { type: 'string', describe: 'CSV report (one row per source and label, CI bounds as columns) to FILE' },
  html: { type: 'string', describe: 'self-contained HTML report (CI table, ROC curves as SVG and PNG) to FILE' },
  resamples: { type: 'number', default: 1000, describe: 'bootstrap resamples for 95% CIs (0: none)' },
  seed: { type: 'number', default: 42, describe: 'bootstrap PRNG seed' },
} as const;

export interface OutputArgs {
  json?: string;
  csv?: string;
  html?: string;
}

function writeFile(file: string, text: string): void {
  try {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    fs.writeFileSync(file, text);
  } catch (e) {
    throw xtError('XT_IO', `cannot write ${file}: ${(e as Error).message}`);
  }
}

/**
 * Terminal table to stdout (unless JSON goes to stdout), and the requested files. `extraJson` is merged at the
 * top of the JSON (eval's model/data description).
 */
export async function writeOutputs(input: ReportInput, a: OutputArgs, extraJson: Record<string, unknown> = {}): Promise<void> {
  const json = JSON.stringify({ ...extraJson, ...input.report }, null, 2) + '\n';
  if (a.json === '') process.stdout.write(json);
  else {
    process.stdout.write(formatTerminal(input) + '\n');
    if (a.json) writeFile(a.json, json);
  }
  if (a.csv) writeFile(a.csv, reportCsv(input.report));
  if (a.html) writeFile(a.html, await htmlReport(input));
  const files = [a.json, a.csv, a.html].filter((f): f is string => !!f);
  if (files.length) process.stderr.write(`wrote ${files.join(', ')}\n`);
}
