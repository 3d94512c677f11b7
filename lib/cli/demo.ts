import type { CommandModule } from 'yargs';
import { runDemo } from '../train/demo';

interface Args {
  out: string;
  n?: number;
  seed: number;
  epochs?: number;
  'batch-size'?: number;
  ablation: boolean;
  quiet: boolean;
}

export const demoCommand: CommandModule<object, Args> = {
  command: 'demo',
  describe: 'The embedded demo: synthetic data → train a tiny CLIP from scratch (sentence sampling + relaxed loss) → zero-shot eval → report',
  builder: (y) => y
    .option('out', { type: 'string', default: 'xray-torch-demo', describe: 'output folder (data/, model/, report.html, report.json)' })
    .option('n', { type: 'number', describe: 'synthetic studies to generate (default 2400)' })
    .option('seed', { type: 'number', default: 0 })
    .option('epochs', { type: 'number', describe: 'training epochs (default 20)' })
    .option('batch-size', { type: 'number', describe: 'batch size (default 64)' })
    .option('ablation', { type: 'boolean', default: false, describe: 'also train the baseline (full report, plain CLIP loss) and print both' })
    .option('quiet', { type: 'boolean', default: false })
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
