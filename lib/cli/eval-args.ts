/**
 * The options `eval`, `classify`, `serve`, `embed` and `score` share, each defined once here, and what
 * they do with them (not a command itself): the model and its tokenizer, the zero-shot prompts, the image
 * geometry and batch, the scoring of labels, and the report outputs.
 */
import * as fs from 'fs';
import * as path from 'path';
import { xtError } from '../errors';
import type { ThresholdPolicy, BootstrapOptions } from '../eval/metrics';
import { formatTerminal, htmlReport, reportCsv, type ReportInput } from '../eval/report';
import { loadInferenceModel, type ClipInferenceModel } from '../eval/model';
import { loadPromptFile, type PromptFile } from '../eval/prompts';
import type { Uncertain } from '../eval/score';
import type { ClipModel } from '../model/clip';

/** `--model`, `--tokenizer` (and the global `--device`): eval, classify, serve, embed. */
export const modelOptions = {
  model: {
    type: 'string', demandOption: true,
    describe: 'weights: a folder or file (xray-torch checkpoint, OpenAI .pt or safetensors, open_clip, Hugging Face CLIP)',
  },
  tokenizer: {
    type: 'string',
    describe: "tokenizer file or folder, when none sits beside the weights (49,408-token OpenAI/open_clip weights use OpenAI's vocabulary, bundled)",
  },
} as const;

export interface ModelArgs {
  model: string;
  tokenizer?: string;
  device?: string;
}

/**
 * The model of `--model` for inference, with `--tokenizer` when given. Says on stderr when the bundled
 * OpenAI vocabulary stands in for a tokenizer the weights came without.
 */
export async function loadCliModel(a: ModelArgs): Promise<ClipInferenceModel> {
  const model = await loadInferenceModel(a.model, { device: a.device, tokenizer: a.tokenizer });
  if (!a.tokenizer && (model.clip as Partial<ClipModel>).tokenizerSource === 'bundled') {
    process.stderr.write(`${a.model}: no tokenizer beside the weights; using the bundled OpenAI CLIP vocabulary (49,408 tokens)\n`);
  }
  return model;
}

/** Zero-shot prompts and scoring: eval, classify, serve. `labels` defaults per command (eval: the dataset's set). */
export function promptOptions(labelsDefault?: string) {
  return {
    labels: {
      type: 'string',
      ...(labelsDefault ? { default: labelsDefault } : {}),
      describe: `labels: a set (chexpert, chexpert5, mimic, chestx14, padchest, openi), "A,B", or a file${labelsDefault ? '' : " (default: the dataset's set)"}`,
    },
    scoring: {
      choices: ['paired', 'cosine'] as const, default: 'paired' as const,
      describe: 'paired: softmax over (label, no label) prompts; cosine: plain similarity',
    },
    templates: { type: 'string', default: 'chexzero', describe: 'prompt templates: chexzero ("{}" / "no {}") or report (several, averaged)' },
    prompts: { type: 'string', describe: 'prompt file (JSON: templates, per-label phrases or prompts)' },
    temperature: { type: 'number', describe: "paired-mode softmax scale (default: the model's logit scale)" },
  } as const;
}

export interface PromptArgs {
  labels?: string;
  scoring: 'paired' | 'cosine';
  templates: string;
  prompts?: string;
  temperature?: number;
}

/** What the prompt options ask of the zero-shot classifier. */
export function promptSettings(a: PromptArgs): { scoring: 'paired' | 'cosine'; templates: string; prompts?: PromptFile; temperature?: number } {
  return { scoring: a.scoring, templates: a.templates, prompts: a.prompts ? loadPromptFile(a.prompts) : undefined, temperature: a.temperature };
}

/** `--resize`: eval, classify, serve, embed. */
export const resizeOptions = {
  resize: {
    choices: ['crop', 'pad'] as const, default: 'crop' as const,
    describe: 'image geometry: centre crop (CLIP) or pad to square (CheXzero)',
  },
} as const;

/** `--batch-size` (its default per command): eval, classify, embed. */
export function batchOptions(defaultSize: number) {
  return { 'batch-size': { type: 'number', default: defaultSize, describe: 'inputs per forward pass' } } as const;
}

export interface ImageArgs {
  resize: 'crop' | 'pad';
  'batch-size': number;
}

/** `--batch-size` checked. */
export function batchSize(a: Pick<ImageArgs, 'batch-size'>): number {
  const b = a['batch-size'];
  if (!Number.isInteger(b) || b < 1) throw xtError('XT_INVALID', `--batch-size must be a positive integer, got ${b}`);
  return b;
}

/** `--uncertain` and `--threshold`: eval and score. */
export function labelScoringOptions(thresholdOn: string) {
  return {
    uncertain: { choices: ['ignore', 'zero', 'one'] as const, default: 'ignore' as const, describe: 'uncertain (-1) labels' },
    threshold: {
      type: 'string',
      describe: `decision threshold: a number (default 0.5), max-mcc or youden (chosen on ${thresholdOn}), or a JSON file {label: t}`,
    },
  } as const;
}

export interface LabelScoringArgs {
  uncertain: Uncertain;
  threshold?: string;
}

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
  resamples?: number;
  seed?: number;
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
