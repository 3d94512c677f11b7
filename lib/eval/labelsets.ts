/**
 * Built-in label sets for zero-shot evaluation, and parsing of user label lists.
 *
 * Label names are the keys the dataset readers (lib/data) put in `record.labels`, so a set can be scored against
 * that dataset's ground truth directly. Each label also has the text its prompts use (`text`): by default the name
 * in lower case with `_` as a space; a few names get a clearer phrase.
 */
import * as fs from 'fs';
import * as path from 'path';
import { xtError } from '../errors';
import { CHEXPERT_LABELS, NIH_LABELS } from '../data/labels';
import { OPENI_LABELS } from '../data/readers/openi';
import { PADCHEST_LABELS } from '../data/readers/padchest';

export interface LabelSpec {
  /** Key in the ground truth (column name, record label key) and in the output. */
  name: string;
  /** Phrase the prompt templates are filled with. */
  text: string;
}

export interface LabelSet {
  id: string;
  title: string;
  labels: LabelSpec[];
}

/** Phrases for names whose plain lower-case form reads badly in a report sentence. */
const TEXT_OVERRIDES: Record<string, string> = {
  // ChestX-ray14
  Effusion: 'pleural effusion',
  Pleural_Thickening: 'pleural thickening',
  // PadChest
  'NSG tube': 'nasogastric tube',
  'COPD signs': 'chronic obstructive pulmonary disease',
};

/** The prompt phrase for a label name. */
export function labelText(name: string): string {
  return TEXT_OVERRIDES[name] ?? name.replace(/_/g, ' ').trim().toLowerCase();
}

/** Label specs for names, each with its prompt phrase (`labelText`). */
export function labelSpecs(names: readonly string[]): LabelSpec[] {
  return names.map((name) => ({ name, text: labelText(name) }));
}

function set(id: string, title: string, names: readonly string[]): LabelSet {
  return { id, title, labels: labelSpecs(names) };
}

/** The five CheXpert competition tasks (the radiologist benchmark's). */
export const CHEXPERT_COMPETITION = ['Atelectasis', 'Cardiomegaly', 'Consolidation', 'Edema', 'Pleural Effusion'];

const NIH_FINDINGS = NIH_LABELS.filter((l) => l !== 'No Finding');

export const LABEL_SETS: Record<string, LabelSet> = {
  chexpert: set('chexpert', 'CheXpert (14 observations)', CHEXPERT_LABELS),
  chexpert5: set('chexpert5', 'CheXpert competition tasks (5)', CHEXPERT_COMPETITION),
  mimic: set('mimic', "MIMIC-CXR (the CheXpert labeller's 14)", CHEXPERT_LABELS),
  chestx14: set('chestx14', 'ChestX-ray14 (14 findings)', NIH_FINDINGS),
  padchest: set('padchest', 'PadChest (a subset of frequent findings)', PADCHEST_LABELS),
  openi: set('openi', 'Open-I (classes from MeSH major terms)', OPENI_LABELS),
};

/** Other names accepted for the built-in sets. */
const ALIASES: Record<string, string> = {
  'chexpert-competition': 'chexpert5',
  'chexpert-5': 'chexpert5',
  'chexpert14': 'chexpert',
  'mimic-cxr': 'mimic',
  nih: 'chestx14',
  'chestx-ray14': 'chestx14',
  chestxray14: 'chestx14',
  'open-i': 'openi',
};

export function labelSetIds(): string[] {
  return Object.keys(LABEL_SETS);
}

export function getLabelSet(id: string): LabelSet | undefined {
  const k = id.trim().toLowerCase();
  return LABEL_SETS[k] ?? LABEL_SETS[ALIASES[k] ?? ''];
}

function fromNames(names: unknown[], where: string): LabelSpec[] {
  const out: LabelSpec[] = [];
  const seen = new Set<string>();
  names.forEach((n, i) => {
    if (typeof n !== 'string' || !n.trim()) {
      throw xtError('XT_INVALID', `${where}: label ${i} is ${JSON.stringify(n)}, expected a non-empty string`);
    }
    const name = n.trim();
    if (seen.has(name)) throw xtError('XT_INVALID', `${where}: label "${name}" is listed twice`);
    seen.add(name);
    out.push({ name, text: labelText(name) });
  });
  if (out.length === 0) throw xtError('XT_INVALID', `${where}: no labels`);
  return out;
}

/**
 * Labels from a user argument: a built-in set id (`chexpert5`), a comma-separated list (`"Edema,Cardiomegaly"`),
 * a file (`.json`: an array of names or `{"labels": [...]}`; else one name a line, `#` comments), or an array.
 * `files: false` never reads a file (for untrusted input, e.g. a server request).
 */
export function resolveLabels(spec: string | string[], opts: { files?: boolean; where?: string } = {}): LabelSpec[] {
  const where = opts.where ?? '--labels';
  if (Array.isArray(spec)) {
    if (spec.length === 1) return resolveLabels(spec[0], opts);
    return fromNames(spec, where);
  }
  if (typeof spec !== 'string') throw xtError('XT_INVALID', `${where}: expected a string or an array of strings`);
  const s = spec.trim();
  const builtin = getLabelSet(s);
  if (builtin) return builtin.labels.map((l) => ({ ...l }));
  if (opts.files !== false && !s.includes(',') && (fs.existsSync(s) || /\.(json|txt)$/i.test(s))) {
    let text: string;
    try {
      text = fs.readFileSync(s, 'utf8');
    } catch (e) {
      throw xtError('XT_IO', `cannot read label file ${s}: ${(e as Error).message}`);
    }
    if (path.extname(s).toLowerCase() === '.json') {
      let v: unknown;
      try {
        v = JSON.parse(text);
      } catch (e) {
        throw xtError('XT_INVALID', `${s}: not valid JSON (${(e as Error).message})`);
      }
      const arr = Array.isArray(v) ? v : (v as { labels?: unknown })?.labels;
      if (!Array.isArray(arr)) throw xtError('XT_INVALID', `${s}: expected a JSON array of label names or {"labels": [...]}`);
      return fromNames(arr, s);
    }
    const lines = text.split(/\r?\n/).map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);
    return fromNames(lines, s);
  }
  return fromNames(s.split(','), where);
}
