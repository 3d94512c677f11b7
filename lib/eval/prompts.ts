/**
 * Zero-shot prompts: for each label a list of positive prompts and a list of negative prompts, made from templates
 * (`{}` or `{label}` stands for the label's phrase). In paired mode each label's probability comes from the
 * softmax over (positive, negative) similarity; each side's embedding is the normalised mean of its prompts'
 * normalised embeddings (several templates averaged). In cosine mode only the positive prompts are used.
 *
 * Prompt file (JSON), every field optional:
 *   {
 *     "templates": "chexzero" | "report" | {"positive": ["{}", …], "negative": ["no {}", …]},
 *     "labels": {
 *       "Cardiomegaly": "enlarged heart",                        // the phrase the templates are filled with
 *       "Edema": {"text": "pulmonary edema"},                     // same
 *       "No Finding": {"positive": ["normal chest radiograph"], "negative": ["abnormal chest radiograph"]}
 *     }
 *   }
 */
import * as fs from 'fs';
import { xtError } from '../errors';
import type { LabelSpec } from './labelsets';

export interface PromptTemplates {
  positive: string[];
  negative: string[];
}

/** Named template sets. `chexzero` (the default) is CheXzero's pair: "{}" vs "no {}". */
export const TEMPLATE_PRESETS: Record<string, PromptTemplates> = {
  chexzero: { positive: ['{}'], negative: ['no {}'] },
  report: {
    positive: ['{}', 'there is {}', 'findings consistent with {}', 'evidence of {}'],
    negative: ['no {}', 'there is no {}', 'no evidence of {}', 'no findings of {}'],
  },
};

export interface LabelPrompts {
  name: string;
  positive: string[];
  negative: string[];
}

export interface PromptFile {
  templates?: string | PromptTemplates;
  labels?: Record<string, string | { text?: string; positive?: string[]; negative?: string[] }>;
}

const PLACEHOLDER = /\{label\}|\{\}/g;

/** Fill a template with a phrase (`{}` or `{label}`). */
export function fillTemplate(template: string, text: string): string {
  return template.replace(PLACEHOLDER, text);
}

function checkStrings(v: unknown, where: string, needPlaceholder: boolean): string[] {
  if (!Array.isArray(v) || v.length === 0 || v.some((x) => typeof x !== 'string' || !x.trim())) {
    throw xtError('XT_INVALID', `${where}: expected a non-empty array of non-empty strings`);
  }
  if (needPlaceholder) {
    for (const t of v as string[]) {
      if (!/\{label\}|\{\}/.test(t)) throw xtError('XT_INVALID', `${where}: template ${JSON.stringify(t)} has no {} placeholder`);
    }
  }
  return (v as string[]).map((x) => x.trim());
}

/** Template set by preset name or as given; validates placeholders. */
export function resolveTemplates(t: string | PromptTemplates | undefined, where = 'templates'): PromptTemplates {
  if (t === undefined) return TEMPLATE_PRESETS.chexzero;
  if (typeof t === 'string') {
    const p = TEMPLATE_PRESETS[t.trim().toLowerCase()];
    if (!p) {
      throw xtError('XT_INVALID', `${where}: unknown template preset "${t}" (known: ${Object.keys(TEMPLATE_PRESETS).join(', ')})`);
    }
    return p;
  }
  if (typeof t !== 'object' || t === null) throw xtError('XT_INVALID', `${where}: expected a preset name or {positive, negative}`);
  return {
    positive: checkStrings(t.positive, `${where}.positive`, true),
    negative: checkStrings(t.negative, `${where}.negative`, true),
  };
}

/** Parse and validate a prompt file's JSON value (`where` names it in errors). */
export function parsePromptFile(v: unknown, where: string): PromptFile {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw xtError('XT_INVALID', `${where}: expected a JSON object`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (k !== 'templates' && k !== 'labels') throw xtError('XT_INVALID', `${where}: unknown field "${k}" (expected templates, labels)`);
  }
  const out: PromptFile = {};
  if (o.templates !== undefined) {
    resolveTemplates(o.templates as string | PromptTemplates, `${where}: templates`);
    out.templates = o.templates as string | PromptTemplates;
  }
  if (o.labels !== undefined) {
    if (typeof o.labels !== 'object' || o.labels === null || Array.isArray(o.labels)) {
      throw xtError('XT_INVALID', `${where}: "labels" must be an object {name: phrase | {text, positive, negative}}`);
    }
    const labels: PromptFile['labels'] = {};
    for (const [name, e] of Object.entries(o.labels as Record<string, unknown>)) {
      const w = `${where}: labels["${name}"]`;
      if (typeof e === 'string') {
        if (!e.trim()) throw xtError('XT_INVALID', `${w}: empty phrase`);
        labels[name] = e.trim();
        continue;
      }
      if (typeof e !== 'object' || e === null || Array.isArray(e)) {
        throw xtError('XT_INVALID', `${w}: expected a phrase or {text, positive, negative}`);
      }
      const x = e as Record<string, unknown>;
      for (const k of Object.keys(x)) {
        if (!['text', 'positive', 'negative'].includes(k)) throw xtError('XT_INVALID', `${w}: unknown field "${k}"`);
      }
      if (x.text !== undefined && (typeof x.text !== 'string' || !x.text.trim())) {
        throw xtError('XT_INVALID', `${w}.text: expected a non-empty string`);
      }
      labels[name] = {
        text: x.text as string | undefined,
        positive: x.positive === undefined ? undefined : checkStrings(x.positive, `${w}.positive`, false),
        negative: x.negative === undefined ? undefined : checkStrings(x.negative, `${w}.negative`, false),
      };
    }
    out.labels = labels;
  }
  return out;
}

export function loadPromptFile(file: string): PromptFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw xtError('XT_IO', `cannot read prompt file ${file}: ${(e as Error).message}`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw xtError('XT_INVALID', `${file}: not valid JSON (${(e as Error).message})`);
  }
  return parsePromptFile(v, file);
}

export interface BuildPromptOptions {
  /** Templates (preset name or lists); a prompt file's `templates` wins over this. */
  templates?: string | PromptTemplates;
  file?: PromptFile;
}

/** Positive and negative prompts for each label. */
export function buildPrompts(labels: LabelSpec[], opts: BuildPromptOptions = {}): LabelPrompts[] {
  const tpl = resolveTemplates(opts.file?.templates ?? opts.templates);
  return labels.map((l) => {
    const o = opts.file?.labels?.[l.name];
    const text = typeof o === 'string' ? o : o?.text ?? l.text;
    const explicit = typeof o === 'object' ? o : undefined;
    return {
      name: l.name,
      positive: explicit?.positive ?? tpl.positive.map((t) => fillTemplate(t, text)),
      negative: explicit?.negative ?? tpl.negative.map((t) => fillTemplate(t, text)),
    };
  });
}

/** Every distinct prompt text, in first-seen order (what the text encoder runs on). */
export function uniquePromptTexts(prompts: LabelPrompts[], mode: 'paired' | 'cosine' = 'paired'): string[] {
  const seen = new Set<string>();
  for (const p of prompts) {
    for (const t of p.positive) seen.add(t);
    if (mode === 'paired') for (const t of p.negative) seen.add(t);
  }
  return [...seen];
}
