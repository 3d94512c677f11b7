/**
 * Open-I (Indiana University chest X-ray collection), read as downloaded:
 *   reports: NLMCXR_reports.tgz extracted → <root>/ecgen-radiology/*.xml (or XML files in root)
 *   images:  NLMCXR_png.tgz extracted → PNGs named after each report's parentImage id
 *            (`CXR1_1_IM-0001-3001.png`) in <root>, <root>/NLMCXR_png, <root>/png or <root>/images.
 * Parsing by lib/text/reports (`parseOpenIXml`): sections from `AbstractText Label=…` (lowercased); labels from MeSH `major` terms (first segment), mapped to
 * classes. No official split: a hash split by report id.
 */
import * as fs from 'fs';
import * as path from 'path';
import { hashSplit } from '../splits';
import { parseOpenIXml, selectText } from '../../text/reports';
import { xtError } from '../../errors';
import type { BadLog } from '../skip-log';
import type { LabelValue, ReaderOptions, StudyRecord } from '../types';
import { isDir, splitFilter } from './common';

/** MeSH major term (first segment) → class. Terms not listed here are not labelled. */
export const OPENI_LABEL_MAP: Record<string, string> = {
  normal: 'No Finding',
  Cardiomegaly: 'Cardiomegaly',
  Opacity: 'Lung Opacity',
  'Airspace Disease': 'Lung Opacity',
  Density: 'Lung Opacity',
  'Pulmonary Atelectasis': 'Atelectasis',
  'Pleural Effusion': 'Pleural Effusion',
  Pneumothorax: 'Pneumothorax',
  'Pulmonary Edema': 'Edema',
  'Pulmonary Congestion': 'Edema',
  Consolidation: 'Consolidation',
  Pneumonia: 'Pneumonia',
  Nodule: 'Nodule',
  Mass: 'Nodule',
  Emphysema: 'Emphysema',
  'Pulmonary Emphysema': 'Emphysema',
  'Fractures, Bone': 'Fracture',
  'Catheters, Indwelling': 'Support Devices',
  'Implanted Medical Device': 'Support Devices',
  'Surgical Instruments': 'Support Devices',
  'Tube, Inserted': 'Support Devices',
  'Medical Device': 'Support Devices',
  'Calcified Granuloma': 'Calcified Granuloma',
  Granuloma: 'Calcified Granuloma',
  'Hernia, Hiatal': 'Hiatal Hernia',
};

export const OPENI_LABELS = [...new Set(Object.values(OPENI_LABEL_MAP))];

export interface OpenIOptions extends ReaderOptions {
  /** Folder of the XML reports (default: found under root). */
  reports?: string;
  /** Folder of the PNGs (default: found under root). */
  images?: string;
}

function findXmlDir(root: string): string | undefined {
  for (const d of [path.join(root, 'ecgen-radiology'), path.join(root, 'reports'), root]) {
    if (isDir(d) && fs.readdirSync(d).some((f) => f.toLowerCase().endsWith('.xml'))) return d;
  }
  return undefined;
}

function findPngDir(root: string): string | undefined {
  for (const d of [path.join(root, 'NLMCXR_png'), path.join(root, 'png'), path.join(root, 'images'), root]) {
    if (isDir(d) && fs.readdirSync(d).some((f) => /\.png$/i.test(f))) return d;
  }
  return undefined;
}

export function isOpenI(root: string): boolean {
  return !!findXmlDir(root);
}

export async function* readOpenI(root: string, opts: OpenIOptions, bad: BadLog): AsyncGenerator<StudyRecord> {
  const xmlDir = opts.reports ?? findXmlDir(root);
  if (!xmlDir || !isDir(xmlDir)) throw xtError('XT_IO', `Open-I: no folder of XML reports under ${root}`);
  const pngDir = opts.images ?? findPngDir(root);
  const pngs = new Map<string, string>();
  if (pngDir) {
    for (const f of await fs.promises.readdir(pngDir)) if (/\.png$/i.test(f)) pngs.set(f.replace(/\.png$/i, ''), path.join(pngDir, f));
  }
  const keepSplit = splitFilter(opts.splits);
  const limit = opts.limit ?? Infinity;
  const files = (await fs.promises.readdir(xmlDir))
    .filter((f) => f.toLowerCase().endsWith('.xml'))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  let emitted = 0;
  for (const f of files) {
    if (emitted >= limit) return;
    const file = path.join(xmlDir, f);
    let x: ReturnType<typeof parseOpenIXml>;
    try {
      x = parseOpenIXml(await fs.promises.readFile(file, 'utf8'));
    } catch (e) {
      bad.add(file, `unreadable report: ${(e as Error).message}`);
      continue;
    }
    const id = x.uid || f.replace(/\.xml$/i, '');
    if (!x.imageIds.length) {
      bad.add(file, 'missing images: the report lists no parentImage');
      continue;
    }
    const images: string[] = [];
    for (const im of x.imageIds) {
      const p = pngs.get(im);
      if (p) images.push(p);
      else bad.add(path.join(pngDir ?? root, `${im}.png`), `missing image: ${im}.png (listed in ${file})`);
    }
    if (!images.length) continue;
    const split = hashSplit(id, opts.splitSeed ?? 0);
    if (keepSplit && !keepSplit(split)) continue;
    const labels: Record<string, LabelValue> = {};
    for (const n of OPENI_LABELS) labels[n] = 0;
    for (const term of x.meshMajor) {
      const cls = OPENI_LABEL_MAP[term.split('/')[0].trim()];
      if (cls) labels[cls] = 1;
    }
    const body = selectText(x, 'both', { bodyFallback: false }).trim();
    const rec: StudyRecord = { id, images, labels, split, sections: x.sections };
    if (body) rec.report = body;
    emitted++;
    yield rec;
  }
}
