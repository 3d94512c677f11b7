/**
 * Radiology-style reports written from a synthetic case: FINDINGS (a sentence per positive finding in
 * one of several phrasings with side and size, negations such as "No pneumothorax." for most negative
 * findings, normal sentences) and IMPRESSION (the positives in short, or a normal impression).
 */
import { Rng } from '../rng';
import type { SynthCase, Device } from './case';

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

const sideWord = (s: 'right' | 'left' | 'bilateral') => s;

function effusionSentence(r: Rng, c: SynthCase): string {
  const size = c.effusionSize;
  if (c.effusionSide === 'bilateral')
    return r.pick([
      `${cap(size)} bilateral pleural effusions.`,
      `There are ${size} bilateral pleural effusions.`,
      `Bilateral pleural effusions, ${size}, with blunting of both costophrenic angles.`,
      `${cap(size)} pleural effusions on both sides.`,
    ]);
  const s = sideWord(c.effusionSide);
  return r.pick([
    `${cap(size)} ${s} pleural effusion.`,
    `There is a ${size} ${s} pleural effusion.`,
    `${cap(size)} ${s} pleural effusion with blunting of the costophrenic angle.`,
    `A ${size} pleural effusion is present on the ${s}.`,
  ]);
}

const DEVICE_TEXT: Record<Device, string[]> = {
  ett: ['Endotracheal tube terminates above the carina.', 'The endotracheal tube is in standard position.'],
  ngt: ['Nasogastric tube courses below the diaphragm into the stomach.', 'An enteric tube extends into the stomach.'],
  cvc: ['Central venous catheter tip projects over the SVC.', 'A central line ends in the superior vena cava.'],
  pacemaker: ['Left chest wall pacemaker with a lead in the right ventricle.', 'A cardiac pacemaker is present.'],
  'chest tube': ['A chest tube is in place.', 'Pleural drain in position.'],
};

const POSITIVE: Record<string, (r: Rng, c: SynthCase) => string> = {
  Cardiomegaly: (r) =>
    r.pick([
      'Cardiomegaly.',
      'The heart is enlarged.',
      'Moderate cardiomegaly.',
      'Marked enlargement of the cardiac silhouette, consistent with cardiomegaly.',
      'The cardiac silhouette is enlarged.',
      'Cardiomegaly is present.',
    ]),
  'Pleural Effusion': effusionSentence,
  Pneumothorax: (r, c) =>
    r.pick([
      `${cap(c.pneumothoraxSize)} ${c.pneumothoraxSide} pneumothorax.`,
      `There is a ${c.pneumothoraxSize} ${c.pneumothoraxSide} pneumothorax.`,
      `${cap(c.pneumothoraxSide)} pneumothorax with a visible pleural line.`,
      `A ${c.pneumothoraxSize} pneumothorax is seen on the ${c.pneumothoraxSide}.`,
    ]),
  Consolidation: (r, c) => {
    const where = `${c.consolidationSide} ${c.consolidationZone} lobe`;
    return r.pick([
      `Consolidation in the ${where}.`,
      `Focal consolidation in the ${where}, concerning for pneumonia.`,
      `There is ${c.consolidationSide} ${c.consolidationZone} lobe consolidation with air bronchograms.`,
      `Dense airspace consolidation in the ${where}.`,
    ]);
  },
  Edema: (r, c) =>
    r.pick([
      `${cap(c.edemaSeverity)} pulmonary edema.`,
      'Pulmonary edema.',
      'Perihilar haziness and interstitial markings consistent with pulmonary edema.',
      'There is interstitial pulmonary edema with Kerley B lines.',
      'Findings consistent with edema.',
    ]),
  Nodule: (r, c) => {
    const n = c.nodules;
    if (n.length > 1) return r.pick(['Multiple pulmonary nodules.', 'There are two pulmonary nodules.', 'Two nodules are seen in the lungs.']);
    return r.pick([
      `A ${n[0].side} ${n[0].zone} lung nodule.`,
      `There is a pulmonary nodule in the ${n[0].side} ${n[0].zone} lung.`,
      `Nodule in the ${n[0].side} lung.`,
      `Well-defined ${n[0].side} ${n[0].zone} zone nodule.`,
    ]);
  },
  'Support Devices': (r, c) => {
    const parts = c.devices.map((d) => r.pick(DEVICE_TEXT[d]));
    if (r.chance(0.4)) parts.push(r.pick(['Support devices in place.', 'Lines and tubes as described.']));
    return parts.join(' ');
  },
};

const NEGATIVE: Record<string, string[]> = {
  Cardiomegaly: ['No cardiomegaly.', 'Heart size is normal.', 'The cardiac silhouette is within normal limits.', 'Normal heart size.'],
  'Pleural Effusion': ['No pleural effusion.', 'No pleural effusions.', 'No effusion.', 'The costophrenic angles are sharp.'],
  Pneumothorax: ['No pneumothorax.', 'There is no pneumothorax.', 'No evidence of pneumothorax.'],
  Consolidation: ['No focal consolidation.', 'No consolidation.', 'There is no focal airspace consolidation.'],
  Edema: ['No pulmonary edema.', 'No edema.', 'No evidence of pulmonary edema.'],
  Nodule: ['No pulmonary nodules.', 'No nodule.', 'No suspicious pulmonary nodule.'],
  'Support Devices': ['No support devices.', 'No lines or tubes.'],
};

const NORMAL_SENTENCES = [
  'The lungs are clear.',
  'Lungs are well expanded and clear.',
  'The mediastinal contours are normal.',
  'No acute osseous abnormality.',
  'The hila are unremarkable.',
];

const IMPRESSION_SHORT: Record<string, (c: SynthCase) => string> = {
  Cardiomegaly: () => 'cardiomegaly',
  'Pleural Effusion': (c) => (c.effusionSide === 'bilateral' ? 'bilateral pleural effusions' : `${c.effusionSide} pleural effusion`),
  Pneumothorax: (c) => `${c.pneumothoraxSide} pneumothorax`,
  Consolidation: (c) => `${c.consolidationSide} ${c.consolidationZone} lobe consolidation`,
  Edema: () => 'pulmonary edema',
  Nodule: (c) => (c.nodules.length > 1 ? 'pulmonary nodules' : 'pulmonary nodule'),
  'Support Devices': () => 'support devices in place',
};

export interface SynthReport {
  findings: string;
  impression: string;
  text: string;
}

/** The report of case (seed, index). */
export function writeReport(c: SynthCase, seed: number, index: number): SynthReport {
  const r = new Rng(seed, index, 0x7e97);
  const order = ['Support Devices', 'Cardiomegaly', 'Edema', 'Consolidation', 'Nodule', 'Pleural Effusion', 'Pneumothorax'];
  const sentences: string[] = [];
  for (const f of order) {
    if (c.findings.has(f as never)) sentences.push(POSITIVE[f](r, c));
    else if (r.chance(0.7)) sentences.push(r.pick(NEGATIVE[f]));
  }
  const clear = !c.findings.has('Consolidation') && !c.findings.has('Edema') && !c.findings.has('Nodule');
  if (clear && r.chance(0.6)) sentences.splice(r.int(sentences.length + 1), 0, r.pick(NORMAL_SENTENCES.slice(0, 2)));
  if (r.chance(0.4)) sentences.push(r.pick(NORMAL_SENTENCES.slice(2)));
  const pos = order.filter((f) => c.findings.has(f as never));
  let impression: string;
  if (!pos.length)
    impression = r.pick(['No acute cardiopulmonary process.', 'Normal chest radiograph.', 'No acute cardiopulmonary abnormality.']);
  else {
    const items = pos.filter((f) => f !== 'Support Devices' || pos.length === 1).map((f) => IMPRESSION_SHORT[f](c));
    const joined = items.length > 1 ? `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}` : items[0];
    impression = `${cap(joined)}.`;
  }
  const findings = sentences.join(' ');
  return { findings, impression, text: `${findings} ${impression}` };
}
