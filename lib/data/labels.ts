/** Label values as datasets write them, the uncertain-label policy, and the canonical class lists. */
import type { LabelValue, UncertainPolicy } from './types';

/** The 14 CheXpert observations, in CheXpert's own column order. */
export const CHEXPERT_LABELS = [
  'No Finding',
  'Enlarged Cardiomediastinum',
  'Cardiomegaly',
  'Lung Opacity',
  'Lung Lesion',
  'Edema',
  'Consolidation',
  'Pneumonia',
  'Atelectasis',
  'Pneumothorax',
  'Pleural Effusion',
  'Pleural Other',
  'Fracture',
  'Support Devices',
] as const;

/** The 14 NIH ChestX-ray14 findings (spelled as in `Finding Labels`), plus `No Finding`. */
export const NIH_LABELS = [
  'Atelectasis',
  'Cardiomegaly',
  'Effusion',
  'Infiltration',
  'Mass',
  'Nodule',
  'Pneumonia',
  'Pneumothorax',
  'Consolidation',
  'Edema',
  'Emphysema',
  'Fibrosis',
  'Pleural_Thickening',
  'Hernia',
  'No Finding',
] as const;

/**
 * Parse one label cell: `1`, `1.0`, `0`, `0.0`, `-1`, `-1.0` (and `True`/`False`); blank or `nan` is
 * null. Anything else returns `undefined` (the caller reports the field as malformed).
 */
export function parseLabelCell(s: string | undefined): LabelValue | undefined {
  if (s === undefined) return null;
  const t = s.trim();
  if (t === '' || t.toLowerCase() === 'nan' || t.toLowerCase() === 'none') return null;
  switch (t) {
    case '1':
    case '1.0':
    case 'True':
    case 'true':
      return 1;
    case '0':
    case '0.0':
    case '-0.0':
    case 'False':
    case 'false':
      return 0;
    case '-1':
    case '-1.0':
      return -1;
  }
  return undefined;
}

/** Apply the uncertain policy to one value. */
export function applyUncertain(v: LabelValue, policy: UncertainPolicy = 'keep'): LabelValue {
  if (v !== -1) return v;
  switch (policy) {
    case 'ignore':
      return null;
    case 'zero':
      return 0;
    case 'one':
      return 1;
    default:
      return -1;
  }
}

export const UNCERTAIN_POLICIES: UncertainPolicy[] = ['keep', 'ignore', 'zero', 'one'];

/**
 * Canonical split names: `validate`, `val`, `validation`, `dev` become `valid`; `training`/`testing`
 * become `train`/`test`. Records keep both: `split` (canonical: what `--split`, `--val-split` and
 * train's validation split match) and `datasetSplit` (the dataset's own spelling, what `data check`
 * prints) where the two differ.
 */
export function canonicalSplit(s: string): string {
  const t = s.trim().toLowerCase();
  if (t === 'validate' || t === 'val' || t === 'validation' || t === 'dev') return 'valid';
  if (t === 'training') return 'train';
  if (t === 'testing') return 'test';
  return t;
}

/** A record's split fields from the dataset's own name: `{ split: 'valid', datasetSplit: 'validate' }`. */
export function splitFields(own: string): { split: string; datasetSplit?: string } {
  const t = own.trim();
  const split = canonicalSplit(t);
  return split === t ? { split } : { split, datasetSplit: t };
}
