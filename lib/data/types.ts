/** The study record every dataset reader yields, and the options they share. */

/** 1 positive, 0 negative, -1 uncertain, null not mentioned / unknown. */
export type LabelValue = 1 | 0 | -1 | null;

/** What to do with uncertain (-1) labels: keep them as -1, mask them (null), or map to 0 or 1. */
export type UncertainPolicy = 'keep' | 'ignore' | 'zero' | 'one';

/** Canonical split names: `validate`/`val`/`validation` become `valid` (see `canonicalSplit`). */
export type SplitName = 'train' | 'valid' | 'test' | string;

export interface StudyRecord {
  /** Stable identifier, unique within the dataset. */
  id: string;
  /** Absolute image paths (one study may hold several views). */
  images: string[];
  /** Full report text (absent when the dataset has none or it is empty). */
  report?: string;
  /** Report sections by lowercase canonical name (`findings`, `impression`, … as lib/text/reports names them). */
  sections?: Record<string, string>;
  /** Where the report is read from when `report` was not loaded up front (MIMIC with `lazyReports`). */
  reportPath?: string;
  labels: Record<string, LabelValue>;
  /** The canonical split (`valid` for MIMIC's `validate`): what split options match. */
  split: SplitName;
  /** The split as the dataset itself names it, where that differs from `split` (MIMIC: `validate`). */
  datasetSplit?: string;
  /** View of the first image (PA, AP, LATERAL, …) where known. */
  view?: string;
  /** View of each image, parallel to `images`, where known. */
  views?: (string | undefined)[];
}

/** One skipped or faulty input, named by file (and line or field where it applies). */
export interface BadExample {
  path: string;
  reason: string;
}

export interface ReaderOptions {
  /** Uncertain-label policy (default `keep`). */
  uncertain?: UncertainPolicy;
  /** Keep only images whose view is in this list (case-insensitive: PA, AP, LATERAL, LL, …). */
  views?: string[];
  /** Keep only these splits. */
  splits?: string[];
  /** Where the bad rows/files found while reading are reported (else they are only counted in `Dataset.bad`). */
  onBad?: (b: BadExample) => void;
  /** Stop after this many records (quick looks at huge datasets). */
  limit?: number;
  /** Seed of the patient-hash split used where a dataset ships no official split (default 0). */
  splitSeed?: number;
}
