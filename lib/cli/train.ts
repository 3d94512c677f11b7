import type { Argv, CommandModule, Options as YargsOption } from 'yargs';
import { train, type TrainOptions, type TrainSummary } from '../train/trainer';
import { TRAIN_OPTIONS, defaultText, toTrainOptions, type TrainArgs, type TrainOptionSpec } from '../train/options';
import { maybeLaunch } from '../distributed/launcher';

export { toTrainOptions };
export type { TrainArgs };

/** The yargs definition of one entry of the option table (lib/train/options.ts): its type, choices and help,
 * with the default shown but not set, so that `train()` sees what was given and resolves the rest for the
 * run (the precision for the device, the lr for scratch or fine-tuning, …). `over`: a command's own default
 * or help (the demo's). */
export function yargsOption(s: TrainOptionSpec, over: { defaultText?: string; help?: string } = {}): YargsOption {
  const d = over.defaultText ?? defaultText(s);
  return {
    type: s.type === 'integer' ? 'number' : s.type === 'list' ? 'string' : s.type,
    describe: over.help ?? s.help,
    ...(s.choices ? { choices: [...s.choices] } : {}),
    ...(d ? { defaultDescription: d } : {}),
  };
}

/** The training options every command that trains shares (train, ablation): the whole table. */
export function trainOptions<T>(y: Argv<T>): Argv<T & TrainArgs> {
  let a = y as Argv<unknown>;
  for (const s of TRAIN_OPTIONS) a = a.option(s.flag, { ...yargsOption(s), ...(s.flag === 'out' ? { demandOption: true } : {}) });
  return a.check((argv) => {
    const r = argv as unknown as TrainArgs;
    if (r.resume === undefined && (!r.data || !r.model)) throw new Error('--data and --model are required (or --resume)');
    return true;
  }) as unknown as Argv<T & TrainArgs>;
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
    const s = await runTrainCli(toTrainOptions(argv), !!argv.quiet);
    if (argv.json) process.stdout.write(JSON.stringify(s) + '\n');
    else if (!argv.quiet) process.stdout.write(formatSummary(s) + '\n');
  },
};
