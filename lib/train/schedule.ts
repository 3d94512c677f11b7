/** Learning-rate schedule: linear warmup, then cosine decay to `minLr` (open_clip's `cosine_lr`). */
export interface LrSchedule {
  baseLr: number;
  warmupSteps: number;
  totalSteps: number;
  minLr?: number;
}

export function lrAt(s: LrSchedule, step: number): number {
  const minLr = s.minLr ?? 0;
  if (s.warmupSteps > 0 && step < s.warmupSteps) return (s.baseLr * (step + 1)) / s.warmupSteps;
  const decaySteps = Math.max(1, s.totalSteps - s.warmupSteps);
  const e = Math.min(1, Math.max(0, (step - s.warmupSteps) / decaySteps));
  return minLr + 0.5 * (1 + Math.cos(Math.PI * e)) * (s.baseLr - minLr);
}
