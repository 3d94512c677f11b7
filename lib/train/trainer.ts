/**
 * `train(options)`: fine-tune (or train from scratch) a CLIP on images + reports with the paper's
 * method — sentence sampling from the report and the positive-pair–relaxed contrastive loss.
 *
 *   const run = train({ data: 'demo/manifest.jsonl', model: 'scratch:tiny', out: 'runs/demo', epochs: 5 });
 *   run.on('step', (s) => …);           // step, epoch, loss, lr, images/s, gradNorm, logitScale
 *   const summary = await run.done;     // final metrics, model folder
 *   // run.cancel() or an AbortSignal: finish the current step, save, resolve.
 *
 * A run in parts: the options (options.ts: one table of defaults, ranges and help), the setup (setup.ts:
 * resume, data, model and tokenizer, the native session), the epoch loop (loop.ts) and the validation at each
 * epoch end (validation.ts). Each step is one native call (binding/train): both encoders forward, the fused
 * loss, backward, clipping and AdamW. The data loader decodes the next batches while the step runs, so
 * decoding overlaps compute; the event loop is never blocked.
 */
import { EventEmitter } from 'events';
import * as fs from 'fs';
import * as path from 'path';
import { distNative } from '../distributed';
import { writeFileAtomic } from '../util/atomic';
import { MetricsLog } from './metrics-log';
import { Progress } from './progress';
import { prepareRun, buildModel } from './setup';
import { runEpochs } from './loop';
import type { TrainHandle, TrainSummary } from './events';
import type { TrainOptions } from './options';

export { DEFAULT_POSITIVE_CLIP } from './options';
export type { TrainOptions, ResolvedOptions } from './options';
export type { StepEvent, EpochEvent, TrainSummary, TrainHandle } from './events';

/** Start a training run. */
export function train(options: TrainOptions): TrainHandle {
  const em = new EventEmitter() as TrainHandle;
  const ctl = { cancelled: false };
  (em as { cancel: () => void }).cancel = () => {
    ctl.cancelled = true;
  };
  if (options?.signal) {
    if (options.signal.aborted) ctl.cancelled = true;
    options.signal.addEventListener('abort', () => (ctl.cancelled = true), { once: true });
  }
  const done = runTraining(options, em, ctl);
  done.catch(() => undefined); // rejection is delivered through `done`
  Object.defineProperty(em, 'done', { value: done });
  return em;
}

async function runTraining(o: TrainOptions, em: TrainHandle, ctl: { cancelled: boolean }): Promise<TrainSummary> {
  const t0 = Date.now();
  const log = (m: string) => em.emit('log', m);
  const run = await prepareRun(o);
  const { opts, lead } = run;
  if (lead) fs.mkdirSync(opts.out, { recursive: true });
  const metrics = lead ? new MetricsLog(path.join(opts.out, 'metrics.jsonl')) : { write: () => undefined, close: () => undefined };
  const progress = new Progress(lead ? o.progress ?? 'auto' : 'quiet');
  em.on('log', (m: string) => progress.log(m));

  let built;
  let r;
  try {
    built = await buildModel(run, log);
    // SIGINT/SIGTERM: finish the step, save, exit 0 (the CLI installs the handlers through cancel()).
    r = await runEpochs({ run, built, em, ctl, metrics, progress, log });
  } catch (e) {
    built?.model.dispose();
    metrics.close();
    throw e;
  }
  const { model } = built;

  // ---- final model folder: weights + tokenizer + summary ----
  const modelDir = opts.out;
  if (lead) await model.save(modelDir);
  const idx = lead ? r.store.readIndex() : { best: null };
  const result: TrainSummary = {
    out: opts.out,
    modelDir,
    steps: r.step,
    epochs: r.epoch,
    stoppedEarly: r.stoppedEarly,
    finalLoss: r.losses.length ? r.losses[r.losses.length - 1] : null,
    validLoss: r.lastEpoch?.validLoss,
    validAuroc: r.lastEpoch?.validAuroc,
    best: idx.best ? { checkpoint: path.join(r.store.dir, idx.best.name), score: idx.best.score, metric: idx.best.metric } : null,
    seconds: (Date.now() - t0) / 1000,
    pairsPerSec: r.pairs / Math.max(1e-3, r.seconds),
    options: opts,
  };
  if (lead) writeFileAtomic(path.join(opts.out, 'summary.json'), JSON.stringify(result, null, 2) + '\n');
  metrics.write('end', { ...result, options: undefined });
  metrics.close();
  model.dispose();
  if (run.denv.worldSize > 1) await distNative().shutdown();
  return result;
}
