/** What a training run reports: its events, its handle and its summary. */
import type { EventEmitter } from 'events';
import type { ResolvedOptions } from './options';

export interface StepEvent {
  step: number;
  totalSteps: number;
  epoch: number;
  /** The loss of this step, or with `syncEvery` > 1 the mean over the steps since the last read; null on
   * the steps in between (read later). */
  loss: number | null;
  lr: number;
  gradNorm: number | null;
  logitScale: number;
  imagesPerSec: number;
  skipped: boolean;
}

export interface EpochEvent {
  epoch: number;
  step: number;
  trainLoss: number;
  validLoss?: number;
  validAuroc?: number | null;
  skippedSamples: number;
}

export interface TrainSummary {
  out: string;
  modelDir: string;
  steps: number;
  epochs: number;
  stoppedEarly: boolean;
  finalLoss: number | null;
  validLoss?: number;
  validAuroc?: number | null;
  best: { checkpoint: string; score: number; metric: string } | null;
  seconds: number;
  pairsPerSec: number;
  options: ResolvedOptions;
}

export interface TrainHandle extends EventEmitter {
  readonly done: Promise<TrainSummary>;
  /** Finish the current step, save a checkpoint, and resolve `done`. */
  cancel(): void;
  on(event: 'step', l: (e: StepEvent) => void): this;
  on(event: 'epoch', l: (e: EpochEvent) => void): this;
  on(event: 'checkpoint', l: (e: { path: string; step: number }) => void): this;
  on(event: 'log', l: (msg: string) => void): this;
  on(event: string, l: (...a: any[]) => void): this; // eslint-disable-line @typescript-eslint/no-explicit-any
}
