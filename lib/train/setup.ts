/**
 * A run's setup: the device, a resumed run's saved state, the data, the resolved options, the data-parallel
 * group (`prepareRun`); then the model and its tokenizer, the sentence sampler and the native session
 * (`buildModel`).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { native } from '../native';
import type { DistBackend, TrainSessionNative } from '../native';
import { xtError } from '../errors';
import { ClipModel, loadModel } from '../model/clip';
import { openDataset, type Dataset } from '../data/readers';
import { splitFilter } from '../data/readers/common';
import type { StudyRecord } from '../data/types';
import { SentenceSampler, type PreparedReport } from '../text/sampling';
import { ClipTokenizer } from '../text/clip-tokenizer';
import { trainBpeTokenizer, saveBpeTokenizer } from '../text/bpe-train';
import { resolveDevice } from '../runtime/device';
import { readDistEnv, type DistEnv } from '../distributed/env';
import { initDistributed } from '../distributed';
import { CheckpointStore } from './checkpoints';
import { completeSavedOptions, resolveTrainOptions, sessionOptions, type ResolvedOptions, type TrainOptions } from './options';
import { prepareReport, recordReport } from './report-text';
import type { EpochEvent } from './events';

/** `state.json` of a checkpoint: where the run stood after its last completed step. */
export interface SavedState {
  version: 1;
  step: number;
  epoch: number;
  /** Loader position within `epoch` after the last completed step. */
  position: number;
  batchIndex: number;
  options: ResolvedOptions;
  rng: string;
  losses: number[];
  lastEpoch?: EpochEvent;
}

/** Options a resumed run may not change (it must be the same run). */
const CRITICAL: (keyof ResolvedOptions)[] = ['batchSize', 'seed', 'sentences', 'fullReport', 'positiveClip', 'multiPositive', 'accumSteps', 'augment', 'patchDropout'];

export interface PreparedRun {
  opts: ResolvedOptions;
  denv: DistEnv;
  /** Rank 0: the process that writes checkpoints, logs and the final model. */
  lead: boolean;
  saved?: SavedState;
  resumeDir?: string;
  dataRoot: string;
  dataset: Dataset;
  trainRecords: StudyRecord[];
  /** The validation split's studies with an image. */
  validRecords: StudyRecord[];
}

/** The device of this process: `device`/XRAY_TORCH_DEVICE/auto resolved; under a distributed launch `auto` and
 * `cuda` mean `cuda:$LOCAL_RANK` (one GPU per process). */
function pickDevice(spec: string | undefined, denv: DistEnv): string {
  const choice = resolveDevice(spec);
  if (denv.worldSize > 1 && choice.device.startsWith('cuda') && (choice.requested === 'auto' || choice.requested === 'cuda')) return `cuda:${denv.localRank}`;
  return choice.device;
}

/** The checkpoint folder a resume continues from, and its state; the saved options win over given ones. */
function readResume(o: TrainOptions): { saved: SavedState; resumeDir: string } {
  const base = path.resolve(typeof o.resume === 'string' ? o.resume : o.out);
  let resumeDir: string | undefined;
  for (const c of [base, path.join(base, 'checkpoints')]) {
    if (fs.existsSync(path.join(c, 'state.json'))) resumeDir = c;
    else if (fs.existsSync(path.join(c, 'index.json'))) {
      const latest = new CheckpointStore(path.dirname(c)).latest();
      if (latest) resumeDir = latest;
    }
    if (resumeDir) break;
  }
  if (!resumeDir) throw xtError('XT_IO', `${base}: no checkpoint to resume from (expected checkpoints/index.json or state.json)`);
  const saved = JSON.parse(fs.readFileSync(path.join(resumeDir, 'state.json'), 'utf8')) as SavedState;
  for (const k of CRITICAL) {
    const given = (o as unknown as Record<string, unknown>)[k];
    if (given !== undefined && JSON.stringify(given) !== JSON.stringify(saved.options[k])) {
      throw xtError('XT_INVALID', `--resume: ${k} was ${JSON.stringify(saved.options[k])} in the saved run, got ${JSON.stringify(given)}`);
    }
  }
  return { saved, resumeDir };
}

/** Everything before the model: device, resume, data, options, the data-parallel group. */
export async function prepareRun(o: TrainOptions): Promise<PreparedRun> {
  // first, so that a device that cannot be used fails before any data is read (a resume re-resolves it too)
  const denv = readDistEnv();
  const world = denv.worldSize;
  const device = pickDevice(o?.device, denv);
  const { saved, resumeDir } = o?.resume ? readResume(o) : { saved: undefined, resumeDir: undefined };

  const fmt = saved?.options.format ?? o.format ?? 'auto';
  const dataRoot = saved?.options.data ?? o.data;
  if (typeof dataRoot !== 'string') throw xtError('XT_INVALID', 'train: `data` (a dataset root or manifest) is required');
  const dataset = await openDataset(fmt, dataRoot, { reports: saved?.options.reports ?? o.reports, uncertain: 'keep' });
  const trainSplit = saved?.options.trainSplit ?? o.trainSplit ?? 'train';
  // the dataset's own split names or the canonical ones (MIMIC's `validate` is `valid`)
  const inTrain = splitFilter([trainSplit])!;
  const trainRecords = dataset.records.filter((r) => inTrain(r.split) && recordReport(r) !== undefined && r.images.length > 0);
  if (trainRecords.length === 0) {
    throw xtError('XT_INVALID', `${dataRoot}: no studies with an image and a report in split "${trainSplit}" (format ${dataset.format})`);
  }
  const opts: ResolvedOptions = saved
    ? { ...completeSavedOptions(saved.options, device), out: path.resolve(o.out ?? saved.options.out), device }
    : resolveTrainOptions(o, { device, batchesPerEpoch: (bs) => Math.floor(trainRecords.length / (bs * world)) });
  if (trainRecords.length < opts.batchSize) {
    throw xtError('XT_INVALID', `${dataRoot}: ${trainRecords.length} training studies, fewer than one batch of ${opts.batchSize}`);
  }
  // ---- data parallel: joined when a launcher started several processes (WORLD_SIZE > 1) ----
  if (world > 1) {
    if (Math.floor(trainRecords.length / (world * opts.batchSize)) < 1) {
      throw xtError('XT_INVALID', `${dataRoot}: ${trainRecords.length} training studies, fewer than one global batch of ${world} × ${opts.batchSize}`);
    }
    await initDistributed({ backend: (o.distBackend ?? 'auto') as DistBackend });
  }
  const inValid = splitFilter([opts.validSplit])!;
  const validRecords = dataset.records.filter((r) => inValid(r.split) && r.images.length > 0);
  return { opts, denv, lead: denv.rank === 0, saved, resumeDir, dataRoot, dataset, trainRecords, validRecords };
}

export interface BuiltModel {
  model: ClipModel;
  tokenizer: ClipTokenizer;
  session: TrainSessionNative;
  sampler: SentenceSampler;
  /** The prepared report of training record `i` (prepared once, on first use). */
  trainReport: (i: number) => PreparedReport;
}

/** The model (loaded, created, or a checkpoint's), its tokenizer (a scratch model trains one), the sampler and
 * the native session (with a checkpoint's optimizer and RNG state when resuming). */
export async function buildModel(p: PreparedRun, log: (m: string) => void): Promise<BuiltModel> {
  const { opts, saved, resumeDir, trainRecords, lead } = p;
  const sampler = new SentenceSampler({
    seed: opts.seed, k: opts.sentences, sections: opts.sections, full: opts.fullReport, fullProbability: opts.fullReportProb,
  });
  const prepared = new Map<number, PreparedReport>();
  const trainReport = (i: number) => {
    let r = prepared.get(i);
    if (!r) {
      r = prepareReport(sampler, trainRecords[i]);
      prepared.set(i, r);
    }
    return r;
  };

  let model: ClipModel;
  let tokenizer: ClipTokenizer;
  if (saved && resumeDir) {
    model = await loadModel(resumeDir, { device: opts.device });
    if (!model.tokenizer) throw xtError('XT_IO', `${resumeDir}: the checkpoint has no tokenizer files`);
    tokenizer = model.tokenizer;
  } else if (opts.model.startsWith('scratch:')) {
    const preset = opts.model.slice('scratch:'.length);
    if (opts.tokenizer) tokenizer = ClipTokenizer.fromFile(opts.tokenizer);
    else {
      log(`training a ${opts.vocabSize}-token BPE tokenizer on ${trainRecords.length} reports`);
      const texts = trainRecords.map((_, i) => trainReport(i).sentences.join(' '));
      const trained = trainBpeTokenizer(texts, { vocabSize: opts.vocabSize });
      // every rank trains the same tokenizer (same data); rank 0 keeps it in the run folder
      const tokDir = lead ? path.join(opts.out, 'tokenizer') : fs.mkdtempSync(path.join(os.tmpdir(), `xt-tok-r${p.denv.rank}-`));
      saveBpeTokenizer(trained, tokDir, { contextLength: opts.contextLength, info: { trainedOn: p.dataRoot, studies: trainRecords.length } });
      tokenizer = ClipTokenizer.fromFile(tokDir);
    }
    model = await ClipModel.create(preset, {
      seed: opts.seed, imageSize: opts.imageSize, vocabSize: tokenizer.vocabSize, contextLength: opts.contextLength, device: opts.device,
    });
  } else {
    model = await loadModel(opts.model, { device: opts.device });
    if (opts.tokenizer) model.tokenizer = ClipTokenizer.fromFile(opts.tokenizer);
    if (!model.tokenizer) {
      model.dispose();
      throw xtError('XT_INVALID', `${opts.model}: no tokenizer beside the weights; give one with --tokenizer FILE|DIR`);
    }
    tokenizer = model.tokenizer;
  }
  if (!model.tokenizer) model.tokenizer = tokenizer;
  const tokDir = tokenizerFolder(model, opts);
  if (tokDir) model.tokenizerDir = tokDir;

  let session: TrainSessionNative;
  try {
    session = new (native().TrainSessionNative)(model.native, sessionOptions(opts));
    if (opts.device.startsWith('cuda')) native().setTf32(opts.tf32 !== false);
    if (saved && resumeDir) {
      await session.loadOptimizer(path.join(resumeDir, 'optimizer.pt'));
      session.setRngState(Buffer.from(saved.rng, 'base64'));
    }
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, tokenizer, session, sampler, trainReport };
}

/** Where the tokenizer files of this run live (copied into every checkpoint and the final folder). */
function tokenizerFolder(model: ClipModel, opts: ResolvedOptions): string | undefined {
  const own = path.join(opts.out, 'tokenizer');
  if (fs.existsSync(path.join(own, 'vocab.json'))) return own;
  if (opts.tokenizer) return fs.statSync(opts.tokenizer).isDirectory() ? opts.tokenizer : path.dirname(opts.tokenizer);
  return model.tokenizerDir;
}
