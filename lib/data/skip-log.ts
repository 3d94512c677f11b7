/** Counting skipped inputs: how many, why, and the first few by name. */
import type { BadExample } from './types';

export interface BadSummary {
  count: number;
  /** Count per reason class (the reason text up to its first ':'). */
  byReason: Record<string, number>;
  examples: BadExample[];
}

export class BadLog {
  count = 0;
  readonly byReason: Record<string, number> = {};
  readonly examples: BadExample[] = [];

  constructor(
    readonly maxExamples = 20,
    private readonly sink?: (b: BadExample) => void,
  ) {}

  add(path: string, reason: string): void {
    this.count++;
    const key = reason.split(':')[0].trim() || reason;
    this.byReason[key] = (this.byReason[key] ?? 0) + 1;
    const b = { path, reason };
    if (this.examples.length < this.maxExamples) this.examples.push(b);
    this.sink?.(b);
  }

  summary(): BadSummary {
    return { count: this.count, byReason: { ...this.byReason }, examples: this.examples.slice() };
  }

  /** One line per reason class, for the end-of-run summary. */
  format(): string {
    if (this.count === 0) return 'no bad samples';
    const parts = Object.entries(this.byReason)
      .sort((a, b) => b[1] - a[1])
      .map(([r, n]) => `${n} × ${r}`);
    return `${this.count} bad sample(s) skipped: ${parts.join('; ')}`;
  }
}
