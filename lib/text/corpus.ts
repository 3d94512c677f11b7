/**
 * Reading report text for tokenizer training from a file or a directory tree:
 *  - `.xml`: an Open-I report (its AbstractText sections);
 *  - `.txt`: a free-text report (MIMIC-CXR style or plain), or any text, one file at a time;
 *  - `.jsonl`: one JSON value a line: a string, or an object with a `text` or `report` string;
 *  - `.tgz` / `.tar.gz` / `.tar`: the files inside, by the same rules;
 *  - `.gz` of any of the above text formats.
 * Other files are skipped. Directories are walked in sorted order, so a corpus always reads the same.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { xtError } from '../errors';
import { readTar } from '../util/tar';
import { parseOpenIXml, parseTextReport, selectSections, SectionSelection } from './reports';

export interface CorpusOptions {
  /**
   * Which report text to use: 'all' (every section of an Open-I report; the whole file of a text
   * report), or a section selection ('findings', 'impression', 'both', or names). Default 'all'.
   */
  sections?: 'all' | SectionSelection;
}

export interface CorpusStats {
  files: number;
  texts: number;
  skipped: number;
}

function textsOf(name: string, data: Buffer, opts: CorpusOptions, out: string[], stats: CorpusStats): void {
  const lower = name.toLowerCase();
  const sel = opts.sections ?? 'all';
  if (lower.endsWith('.tgz') || lower.endsWith('.tar.gz') || lower.endsWith('.tar')) {
    for (const e of readTar(data, name)) textsOf(e.name, e.data, opts, out, stats);
    return;
  }
  if (lower.endsWith('.gz')) {
    let inner: Buffer;
    try {
      inner = zlib.gunzipSync(data);
    } catch (e) {
      throw xtError('XT_IO', `${name}: not valid gzip: ${(e as Error).message}`);
    }
    textsOf(name.slice(0, -3), inner, opts, out, stats);
    return;
  }
  const before = out.length;
  if (lower.endsWith('.xml')) {
    const xml = data.toString('utf8');
    if (!/<AbstractText[\s>]/.test(xml)) {
      stats.skipped++;
      return;
    }
    const r = parseOpenIXml(xml);
    if (sel === 'all') for (const n of r.order) out.push(r.sections[n]);
    else out.push(...selectSections(r, sel));
  } else if (lower.endsWith('.txt')) {
    const text = data.toString('utf8');
    if (sel === 'all') out.push(text);
    else out.push(...selectSections(parseTextReport(text), sel));
  } else if (lower.endsWith('.jsonl')) {
    const lines = data.toString('utf8').split('\n');
    lines.forEach((line, i) => {
      if (!line.trim()) return;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch (e) {
        throw xtError('XT_INVALID', `${name}:${i + 1}: not valid JSON: ${(e as Error).message}`);
      }
      const o = v as { text?: unknown; report?: unknown };
      const t = typeof v === 'string' ? v : typeof o?.text === 'string' ? o.text : typeof o?.report === 'string' ? o.report : undefined;
      if (t === undefined) throw xtError('XT_INVALID', `${name}:${i + 1}: expected a string or an object with a "text" string`);
      if (sel === 'all') out.push(t);
      else out.push(...selectSections(parseTextReport(t), sel));
    });
  } else {
    stats.skipped++;
    return;
  }
  stats.files++;
  stats.texts += out.length - before;
}

function walk(dir: string, files: string[]): void {
  for (const ent of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const p = path.join(dir, ent.name);
    if (ent.isDirectory()) walk(p, files);
    else if (ent.isFile()) files.push(p);
  }
}

/** All training texts under `p` (a file or a directory), with counts of what was read. */
export function readCorpus(p: string, opts: CorpusOptions = {}): { texts: string[]; stats: CorpusStats } {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    throw xtError('XT_IO', `corpus: no such file or directory: ${p}`);
  }
  const files: string[] = [];
  if (st.isDirectory()) walk(p, files);
  else files.push(p);
  const texts: string[] = [];
  const stats: CorpusStats = { files: 0, texts: 0, skipped: 0 };
  for (const f of files) {
    let data: Buffer;
    try {
      data = fs.readFileSync(f);
    } catch (e) {
      throw xtError('XT_IO', `corpus: cannot read ${f}: ${(e as Error).message}`);
    }
    textsOf(f, data, opts, texts, stats);
  }
  const nonEmpty = texts.filter((t) => t.trim() !== '');
  stats.texts = nonEmpty.length;
  return { texts: nonEmpty, stats };
}
