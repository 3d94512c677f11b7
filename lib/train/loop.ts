/**
 * The epoch loop: batches from the loader, one native step each (both encoders, the loss, backward, clipping,
 * AdamW), step events and metrics, periodic checkpoints, and at each epoch end the validation and a checkpoint.
 * Cancellation finishes the current step and saves.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { EventEmitter } from 'events';
import { xtError, isXtError } from '../errors';
import type { TrainStepResult } from '../native';
import { DataLoader } from '../image/loader';
import { lrAt } from './schedule';
import { CheckpointStore } from './checkpoints';
import type { Progress } from './progress';
import type { EpochEvent, StepEvent } from './events';
import type { BuiltModel, PreparedRun, SavedState } from './setup';
import { batchPixels } from './batch-input';
import { runValidation } from './validation';

export interface LoopContext {
  run: PreparedRun;
  built: BuiltModel;
  em: EventEmitter;
  ctl: { cancelled: boolean };
  metrics: { write(event: string, data: Record<string, unknown>): void };
  progress: Progress;
  log: (m: string) => void;
}

export interface LoopResult {
  step: number;
  epoch: number;
  losses: number[];
  lastEpoch?: EpochEvent;
  stoppedEarly: boolean;
  /** Image–text pairs trained on by this process, and the seconds the loop took. */
  pairs: number;
  seconds: number;
  store: CheckpointStore;
}

export async function runEpochs(c: LoopContext): Promise<LoopResult> {
  const { run, built, em, ctl, metrics, progress, log } = c;
  const { opts, saved, resumeDir, trainRecords, validRecords, lead, denv } = run;
  const { model, tokenizer, session, sampler, trainReport } = built;
  const world = denv.worldSize;
  const ctx = model.config.contextLength;

  const loader = new DataLoader(trainRecords, {
    batchSize: opts.batchSize, imageSize: model.config.imageResolution, seed: opts.seed, shuffle: true, dropLast: true,
    augment: opts.augment, onBadSample: opts.onBadSample, concurrency: opts.concurrency, prefetch: 2,
    labelNames: [], requireReport: false, ...(world > 1 ? { shard: { rank: denv.rank, world } } : {}),
    onBad: (b) => log(`skipped ${b.path}: ${b.reason}`),
  });
  const perEpoch = Math.max(1, loader.batchesPerEpoch);
  const store = new CheckpointStore(opts.out, opts.keep);
  const schedule = { baseLr: opts.lr, warmupSteps: opts.warmup, totalSteps: opts.steps };

  let step = saved?.step ?? 0;
  let epoch = saved?.epoch ?? 0;
  let position = saved?.position ?? 0;
  let batchIndex = saved?.batchIndex ?? 0;
  const losses: number[] = saved?.losses ?? [];
  let lastEpoch: EpochEvent | undefined = saved?.lastEpoch;
  let stoppedEarly = false;
  let lastSavedStep = saved?.step ?? -1;

  const stateFor = (): SavedState => ({
    version: 1, step, epoch, position, batchIndex, options: opts,
    rng: Buffer.from(session.rngState()).toString('base64'), losses, lastEpoch,
  });
  const saveCheckpoint = async (score?: { value: number; metric: string }) => {
    if (!lead) {
      lastSavedStep = step;
      return '';
    }
    const p = await store.save(step, async (tmp) => {
      await model.save(tmp);
      await session.saveOptimizer(path.join(tmp, 'optimizer.pt'));
      fs.writeFileSync(path.join(tmp, 'state.json'), JSON.stringify(stateFor(), null, 2));
    }, score);
    lastSavedStep = step;
    metrics.write('checkpoint', { step, path: p, ...(score ? { score: score.value, metric: score.metric } : {}) });
    em.emit('checkpoint', { path: p, step });
    return p;
  };

  const endOfEpoch = async (ep: number, epochLosses: number[], skipped: number, final = false): Promise<EpochEvent> => {
    const ev: EpochEvent = {
      epoch: ep, step,
      trainLoss: epochLosses.length ? epochLosses.reduce((a, b) => a + b, 0) / epochLosses.length : NaN,
      skippedSamples: skipped,
    };
    if (opts.validate && validRecords.length > 0 && lead) {
      const v = await runValidation({
        model, tokenizer, sampler, records: validRecords, format: run.dataset.format, labelNames: run.dataset.labelNames,
        labels: opts.labels, batchSize: opts.batchSize, positiveClip: opts.positiveClip, multiPositive: opts.multiPositive,
        concurrency: opts.concurrency, log,
      });
      ev.validLoss = v.loss;
      ev.validAuroc = v.auroc;
    }
    metrics.write('epoch', { ...ev, final });
    em.emit('epoch', ev);
    log(`epoch ${ep}${final ? ' (end)' : ''}: train loss ${ev.trainLoss.toFixed(4)}` +
      (ev.validLoss !== undefined ? `, valid loss ${ev.validLoss.toFixed(4)}` : '') +
      (ev.validAuroc !== undefined && ev.validAuroc !== null ? `, valid zero-shot macro AUROC ${ev.validAuroc.toFixed(3)}` : ''));
    const score = ev.validAuroc !== undefined && ev.validAuroc !== null
      ? { value: ev.validAuroc, metric: 'valid_auroc' }
      : ev.validLoss !== undefined ? { value: -ev.validLoss, metric: 'neg_valid_loss' } : undefined;
    lastEpoch = ev;
    await saveCheckpoint(score);
    return ev;
  };

  if (!saved) {
    metrics.write('start', { options: opts, trainStudies: trainRecords.length, validStudies: validRecords.length, parameters: model.numParameters, trainable: session.numTrainable });
    log(`train: ${trainRecords.length} studies, ${perEpoch} steps/epoch, ${opts.steps} steps, batch ${opts.batchSize}` +
      `${world > 1 ? ` × ${world} processes (${denv.source})` : ''}, ` +
      `${opts.fullReport ? 'full report' : `${opts.sentences} sentence(s)`}, positive clip ${opts.positiveClip}` +
      `${opts.multiPositive ? ', multi-positive' : ''}, ${(session.numTrainable / 1e6).toFixed(1)}M trainable parameters`);
  } else {
    metrics.write('resume', { step, epoch, from: resumeDir });
    log(`resuming at step ${step} (epoch ${epoch}) from ${resumeDir}`);
  }

  progress.start(opts.steps, step);
  let windowStart = Date.now();
  let windowImages = 0;
  let pairs = 0;
  const runStart = Date.now();
  try {
    outer: while (step < opts.steps && !ctl.cancelled) {
      const epochLosses: number[] = [];
      for await (const batch of loader.iterate(epoch, position, batchIndex)) {
        const drawn = sampler.sampleBatch(batch.indices.map((i, j) => ({ id: batch.records[j].id, report: trainReport(i) })), epoch);
        const ids = tokenizer.tokenize(drawn.map((d) => d.text), ctx);
        const groups = opts.multiPositive ? Int32Array.from(drawn.map((d) => d.groupId)) : null;
        const lr = lrAt(schedule, step);
        // read the loss at the points where it is logged or saved (syncEvery > 1 only reads every N steps)
        const sync = step + 1 >= opts.steps || batch.batchIndex + 1 >= perEpoch || ctl.cancelled ||
          (opts.saveEvery > 0 && (step + 1) % opts.saveEvery === 0);
        const { pixels, shape } = batchPixels(batch);
        let r: TrainStepResult;
        try {
          r = await session.step(pixels, shape, ids, [batch.n, ctx], groups, lr, sync);
        } catch (e) {
          if (isXtError(e) && e.code === 'XT_NONFINITE') {
            metrics.write('nonfinite', { step, epoch });
            throw xtError('XT_NONFINITE', `${e.message}. The last good checkpoint (${store.latest() ?? 'none yet'}) is untouched.`);
          }
          throw e;
        }
        step++;
        position = batch.position;
        batchIndex = batch.batchIndex + 1;
        pairs += batch.n;
        windowImages += batch.n;
        const now = Date.now();
        const ips = windowImages / Math.max(1e-3, (now - windowStart) / 1000);
        if (now - windowStart > 5000) {
          windowStart = now;
          windowImages = 0;
        }
        if (!r.skipped && r.synced && Number.isFinite(r.loss)) {
          for (let k = 0; k < r.steps - r.nonfinite; k++) { // a read after N steps stands for N steps
            losses.push(r.loss);
            epochLosses.push(r.loss);
          }
        }
        if (r.synced && r.nonfinite > 0) log(`${r.nonfinite} of the last ${r.steps} steps had a non-finite loss or gradient; their updates were zeroed (--skip-nonfinite)`);
        const ev: StepEvent = {
          step, totalSteps: opts.steps, epoch, loss: r.synced ? r.loss : null, lr, gradNorm: r.synced ? r.gradNorm : null,
          logitScale: r.logitScale, imagesPerSec: ips, skipped: r.skipped,
        };
        metrics.write('step', { ...ev });
        progress.step(ev);
        em.emit('step', ev);
        if (opts.saveEvery > 0 && step % opts.saveEvery === 0 && step < opts.steps) await saveCheckpoint();
        if (step >= opts.steps) break outer;
        if (ctl.cancelled) {
          stoppedEarly = true;
          break outer;
        }
      }
      // epoch finished
      const summary = loader.summary();
      epoch++;
      position = 0;
      batchIndex = 0;
      lastEpoch = await endOfEpoch(epoch - 1, epochLosses, summary?.skipped ?? 0);
    }
    if (ctl.cancelled && step < opts.steps) stoppedEarly = true;
    if (step >= opts.steps && (lastEpoch === undefined || lastEpoch.step !== step) && !stoppedEarly) {
      // the run ended inside an epoch: validate once more at the end
      lastEpoch = await endOfEpoch(epoch, losses.slice(-perEpoch), 0, true);
    } else if (lastSavedStep !== step) {
      await saveCheckpoint();
    }
  } finally {
    progress.stop();
  }
  return { step, epoch, losses, lastEpoch, stoppedEarly, pairs, seconds: (Date.now() - runStart) / 1000, store };
}
