import type { Argv, CommandModule } from 'yargs';
import { train, DEFAULT_POSITIVE_CLIP, type TrainOptions, type TrainSummary } from '../train/trainer';
import { maybeLaunch } from '../distributed/launcher';

export interface TrainArgs {
  data?: string;
  format?: string;
  reports?: string;
  model?: string;
  'image-size'?: number;
  tokenizer?: string;
  'vocab-size'?: number;
  'context-length'?: number;
  sections?: string;
  sentences?: number;
  'full-report'?: boolean;
  'full-report-prob'?: number;
  'positive-clip'?: number;
  'multi-positive'?: boolean;
  'batch-size'?: number;
  epochs?: number;
  steps?: number;
  lr?: number;
  wd?: number;
  warmup?: number;
  'grad-clip'?: number;
  accum?: number;
  'lock-image'?: boolean;
  'lock-text'?: boolean;
  precision?: string;
  device?: string;
  seed?: number;
  augment?: boolean;
  out: string;
  resume?: string;
  keep?: number;
  'save-every'?: number;
  validate?: boolean;
  'skip-nonfinite'?: boolean;
  'sync-every'?: number;
  tf32?: boolean;
  'on-bad-sample'?: string;
  quiet?: boolean;
  json?: boolean;
  nproc?: number;
  'dist-backend'?: string;
}

/** The training options every command that trains shares (train, demo, ablation). */
export function trainOptions<T>(y: Argv<T>): Argv<T & TrainArgs> {
  return y
    .option('data', { type: 'string', describe: 'dataset root or manifest (mimic, chexpert, nih, padchest, openi, manifest)' })
    .option('format', { type: 'string', default: 'auto', describe: 'dataset layout (auto-detected)' })
    .option('reports', { type: 'string', describe: 'MIMIC: reports root (mimic-cxr-reports)' })
    .option('model', { type: 'string', describe: 'pre-trained weights (OpenAI/open_clip/HF/ours) or scratch:PRESET (tiny, small, ViT-B-32, ViT-B-16, ViT-L-14)' })
    .option('image-size', { type: 'number', describe: 'input resolution of a scratch model' })
    .option('tokenizer', { type: 'string', describe: 'tokenizer file/folder (default: the model\'s; scratch models train one)' })
    .option('vocab-size', { type: 'number', describe: 'scratch: BPE vocabulary size (default 2048)' })
    .option('context-length', { type: 'number', describe: 'scratch: text context length (default 48)' })
    .option('sections', { type: 'string', default: 'findings,impression', describe: 'report sections to draw sentences from' })
    .option('sentences', { type: 'number', default: 1, describe: 'sentences sampled per report and epoch (the paper: 1)' })
    .option('full-report', { type: 'boolean', default: false, describe: 'baseline: train on the whole selected text' })
    .option('full-report-prob', { type: 'number', default: 0, describe: 'probability of the whole text instead of sampled sentences' })
    .option('positive-clip', { type: 'number', default: DEFAULT_POSITIVE_CLIP, describe: 'positive-pair relaxation c: s_ii <- min(s_ii, c); 1 = plain CLIP' })
    .option('multi-positive', { type: 'boolean', default: false, describe: 'samples with the same sampled text are positives of each other' })
    .option('batch-size', { type: 'number', default: 32 })
    .option('epochs', { type: 'number', describe: 'epochs (default 1 unless --steps)' })
    .option('steps', { type: 'number', describe: 'optimizer steps (instead of --epochs)' })
    .option('lr', { type: 'number', describe: 'peak learning rate (default 1e-5 fine-tuning, 5e-4 scratch)' })
    .option('wd', { type: 'number', default: 0.2, describe: 'AdamW weight decay (not on biases, norms, embeddings, logit scale)' })
    .option('warmup', { type: 'number', describe: 'warmup steps (default 5% of the steps), then cosine decay' })
    .option('grad-clip', { type: 'number', default: 1, describe: 'max gradient norm (0 = off)' })
    .option('accum', { type: 'number', default: 1, describe: 'gradient accumulation: micro-batches per step' })
    .option('lock-image', { type: 'boolean', default: false, describe: 'freeze the image tower' })
    .option('lock-text', { type: 'boolean', default: false, describe: 'freeze the text tower' })
    .option('precision', { type: 'string', default: 'fp32', choices: ['fp32', 'bf16', 'fp16'], describe: 'fp32 on CPU; bf16/fp16 autocast on CUDA' })
    .option('seed', { type: 'number', default: 0 })
    .option('augment', { type: 'boolean', default: true, describe: 'training augmentation (--no-augment to disable)' })
    .option('out', { type: 'string', demandOption: true, describe: 'output folder (model, checkpoints/, metrics.jsonl, summary.json)' })
    .option('resume', { type: 'string', describe: 'continue a run from its latest checkpoint: --resume (the run in --out) or --resume DIR' })
    .check((a) => {
      const r = a as unknown as TrainArgs;
      if (r.resume === undefined && (!r.data || !r.model)) throw new Error('--data and --model are required (or --resume)');
      return true;
    })
    .option('keep', { type: 'number', default: 3, describe: 'checkpoints to keep (plus the best)' })
    .option('save-every', { type: 'number', default: 0, describe: 'also checkpoint every N steps' })
    .option('validate', { type: 'boolean', default: true, describe: 'validation loss + zero-shot AUROC each epoch' })
    .option('skip-nonfinite', { type: 'boolean', default: false, describe: 'skip steps with a non-finite loss instead of stopping' })
    .option('sync-every', { type: 'number', describe: 'read the loss from the device every N steps (default 10 on CUDA, 1 on CPU)' })
    .option('tf32', { type: 'boolean', describe: 'TF32 matmuls/convolutions on CUDA (default on; --no-tf32 for full fp32)' })
    .option('on-bad-sample', { type: 'string', default: 'skip', choices: ['skip', 'fail'] })
    .option('quiet', { type: 'boolean', default: false })
    .option('json', { type: 'boolean', default: false, describe: 'JSON lines on stderr, the summary as JSON on stdout' })
    .option('nproc', { type: 'number', describe: 'start N local data-parallel worker processes' })
    .option('dist-backend', { type: 'string', default: 'auto', choices: ['auto', 'gloo', 'nccl'], describe: 'data-parallel backend (auto: NCCL on CUDA, else Gloo)' }) as Argv<T & TrainArgs>;
}

export function toTrainOptions(a: TrainArgs): TrainOptions {
  const progress = a.quiet ? 'quiet' : a.json ? 'json' : 'auto';
  if (a.resume !== undefined) {
    // a resumed run is the saved run: its options come from the checkpoint
    return { data: a.data as string, model: a.model as string, out: a.out, resume: a.resume === '' ? true : a.resume, progress,
      distBackend: (a['dist-backend'] ?? 'auto') as TrainOptions['distBackend'] };
  }
  const sections = (a.sections ?? 'findings,impression').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  return {
    data: a.data as string,
    format: (a.format ?? 'auto') as TrainOptions['format'],
    reports: a.reports,
    model: a.model as string,
    imageSize: a['image-size'],
    tokenizer: a.tokenizer,
    vocabSize: a['vocab-size'],
    contextLength: a['context-length'],
    sections: sections.length === 2 && sections.includes('findings') && sections.includes('impression') ? 'both' : sections,
    sentences: a.sentences,
    fullReport: a['full-report'],
    fullReportProb: a['full-report-prob'],
    positiveClip: a['positive-clip'],
    multiPositive: a['multi-positive'],
    batchSize: a['batch-size'],
    epochs: a.epochs,
    steps: a.steps,
    lr: a.lr,
    weightDecay: a.wd,
    warmup: a.warmup,
    gradClip: a['grad-clip'],
    accumSteps: a.accum,
    lockImage: a['lock-image'],
    lockText: a['lock-text'],
    precision: a.precision as TrainOptions['precision'],
    device: a.device,
    seed: a.seed,
    augment: a.augment,
    out: a.out,
    resume: a.resume === undefined ? undefined : a.resume === '' ? true : a.resume,
    keep: a.keep,
    saveEvery: a['save-every'],
    validate: a.validate,
    skipNonfinite: a['skip-nonfinite'],
    syncEvery: a['sync-every'],
    tf32: a.tf32,
    onBadSample: a['on-bad-sample'] as TrainOptions['onBadSample'],
    progress,
    distBackend: (a['dist-backend'] ?? 'auto') as TrainOptions['distBackend'],
  };
}

/** Run training with SIGINT/SIGTERM handled: finish the step, save, exit 0. */
export async function runTrainCli(opts: TrainOptions, quiet = false): Promise<TrainSummary> {
  const run = train(opts);
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      process.stderr.write(`\nxray-torch: second ${sig}: exiting without saving\n`);
      process.exit(130);
    }
    if (!quiet) process.stderr.write(`\nxray-torch: ${sig}: finishing the current step and saving (again to abort)\n`);
    run.cancel();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await run.done;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export function formatSummary(s: TrainSummary): string {
  const f = (x: number | null | undefined, d = 4) => (x === undefined || x === null || Number.isNaN(x) ? 'n/a' : x.toFixed(d));
  return [
    `${s.stoppedEarly ? 'stopped (saved)' : 'done'}: ${s.steps} steps, ${s.epochs} epoch(s) in ${s.seconds.toFixed(1)} s (${s.pairsPerSec.toFixed(1)} pairs/s)`,
    `final train loss ${f(s.finalLoss)}, valid loss ${f(s.validLoss)}, valid zero-shot macro AUROC ${f(s.validAuroc, 3)}`,
    `model: ${s.modelDir}` + (s.best ? `  (best checkpoint: ${s.best.checkpoint}, ${s.best.metric} ${s.best.score.toFixed(4)})` : ''),
  ].join('\n');
}

export const trainCommand: CommandModule<object, TrainArgs> = {
  command: 'train',
  describe: 'Fine-tune (or train from scratch) CLIP on images + reports: sentence sampling + relaxed contrastive loss',
  builder: (y) => trainOptions(y)
    .example('$0 train --data demo/manifest.jsonl --model scratch:tiny --epochs 10 --out runs/demo', 'train a small model from scratch')
    .example('$0 train --data /data/mimic-cxr-jpg --reports /data/mimic-cxr-reports --model ViT-B-32.pt --batch-size 64 --epochs 5 --out runs/mimic', 'fine-tune OpenAI CLIP on MIMIC-CXR')
    .example('$0 train --resume --out runs/mimic', 'continue an interrupted run') as never,
  handler: async (argv) => {
    if (await maybeLaunch(process.argv.slice(2))) return;
    const s = await runTrainCli(toTrainOptions(argv), argv.quiet);
    if (argv.json) process.stdout.write(JSON.stringify(s) + '\n');
    else if (!argv.quiet) process.stdout.write(formatSummary(s) + '\n');
  },
};
