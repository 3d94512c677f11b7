import type { CommandModule } from 'yargs';
import { runDemo, DEMO_DEFAULTS } from '../train/demo';
import { optionSpec } from '../train/options';
import { yargsOption } from './train';

interface Args {
  out: string;
  n?: number;
  seed?: number;
  epochs?: number;
  'batch-size'?: number;
  ablation: boolean;
  quiet?: boolean;
}

export const demoCommand: CommandModule<object, Args> = {
  command: 'demo',
  describe: 'The embedded demo: synthetic data → train a tiny CLIP from scratch (sentence sampling + relaxed loss) → zero-shot eval → report',
  builder: (y) => y
    .option('out', { type: 'string', default: 'xray-torch-demo', describe: 'output folder (data/, model/, report.html, report.json)' })
    .option('n', { type: 'number', describe: 'synthetic studies to generate (default 2400)' })
    // the training options the demo shares, from the table, with the demo's own defaults
    .option('seed', yargsOption(optionSpec('seed')))
    .option('epochs', yargsOption(optionSpec('epochs'), { defaultText: String(DEMO_DEFAULTS.epochs) }))
    .option('batch-size', yargsOption(optionSpec('batchSize'), { defaultText: String(DEMO_DEFAULTS.batchSize) }))
    .option('ablation', { type: 'boolean', default: false, describe: 'also train the baseline (full report, plain CLIP loss) and print both' })
    .option('quiet', yargsOption(optionSpec('quiet')))
    .example('$0 demo', 'about 2 minutes on 2 CPU cores')
    .example('$0 demo --ablation --out demo-ablation', 'baseline vs method on the same data and seed') as never,
  handler: async (a) => {
    const r = await runDemo({
      out: a.out, n: a.n, seed: a.seed, epochs: a.epochs, batchSize: a['batch-size'], ablation: a.ablation,
      progress: a.quiet ? 'quiet' : 'auto', log: a.quiet ? () => undefined : undefined,
    });
    process.stdout.write(r.table + '\n\n');
    process.stdout.write(`report: ${r.reportHtml}\n        ${r.reportJson}\n`);
  },
};
