import * as path from 'path';
import type { CommandModule } from 'yargs';
import { trainOptions, toTrainOptions, type TrainArgs } from './train';
import { defaultFor, optionSpec } from '../train/options';
import { trainAndEvaluate, ablationTable } from '../train/demo';

interface Args extends TrainArgs {
  split: string;
}

export const ablationCommand: CommandModule<object, Args> = {
  command: 'ablation',
  describe: 'Baseline (full report, plain CLIP loss) against the method (sentence sampling + relaxed loss) on the same data and seed',
  builder: (y) => trainOptions(y)
    .option('split', { type: 'string', default: 'test', describe: 'split both arms are evaluated on' })
    .example('$0 ablation --data demo/data/manifest.jsonl --model scratch:tiny --epochs 8 --out runs/ablation', 'the paper\'s table on your data') as never,
  handler: async (a) => {
    const base = toTrainOptions(a);
    const log = a.quiet ? () => undefined : (m: string) => process.stderr.write(m + '\n');
    const baseline = await trainAndEvaluate('baseline (full report, c=1)',
      { ...base, out: path.join(a.out, 'baseline'), fullReport: true, positiveClip: 1, multiPositive: false }, a.split, log);
    const given = <T>(key: 'sentences' | 'positiveClip', v: T | undefined): T =>
      v ?? (defaultFor(optionSpec(key), { scratch: false, cuda: false, steps: 0 }) as T);
    const method = await trainAndEvaluate(`method (${given('sentences', base.sentences)} sent., c=${given('positiveClip', base.positiveClip)})`,
      { ...base, out: path.join(a.out, 'method'), fullReport: false }, a.split, log);
    process.stdout.write(ablationTable([baseline, method]) + '\n');
  },
};
