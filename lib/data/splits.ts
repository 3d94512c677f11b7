/** A deterministic split by key hash, for datasets that ship no official split (by patient, so no leakage). */
import { hashString } from './rng';

export interface SplitFractions {
  train: number;
  valid: number;
  test: number;
}

export const DEFAULT_FRACTIONS: SplitFractions = { train: 0.8, valid: 0.1, test: 0.1 };

/** `train` / `valid` / `test` for a key (e.g. a patient id), stable for a given seed. */
export function hashSplit(key: string, seed = 0, f: SplitFractions = DEFAULT_FRACTIONS): string {
  const u = hashString(key, seed) / 4294967296;
  const total = f.train + f.valid + f.test;
  if (u < f.train / total) return 'train';
  if (u < (f.train + f.valid) / total) return 'valid';
  return 'test';
}
