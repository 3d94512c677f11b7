/** The contract every benchmark module in bench/ follows (see bench/README.md). */
export interface BenchRow {
  /** What was measured, e.g. "ViT-B/32 encode, batch 32". */
  metric: string;
  /** Our figure. */
  ours: number;
  /** The baseline's figure measured in the same run (Python/PyTorch, composed ATen, ...), if any. */
  baseline?: number;
  /** Unit of ours/baseline, e.g. "images/s", "ms", "GFLOP/s". */
  unit: string;
  /** true when a larger figure is better (throughput); false for times. Used to compute the ratio. */
  higherIsBetter: boolean;
  /** Target ratio from the issue, if any (e.g. 3 for "≥ 3× faster"). */
  target?: number;
}

export interface BenchResult {
  title: string;
  /** What the baseline is, in words. */
  baseline?: string;
  rows: BenchRow[];
  notes?: string[];
}

export interface BenchModule {
  /** Short name used on the command line: `npm run bench -- <name>`. */
  name: string;
  run(): Promise<BenchResult>;
}

/** ours/baseline for throughput, baseline/ours for times: > 1 means we are faster. */
export function speedRatio(r: BenchRow): number | undefined {
  if (r.baseline === undefined || r.baseline === 0 || r.ours === 0) return undefined;
  return r.higherIsBetter ? r.ours / r.baseline : r.baseline / r.ours;
}
