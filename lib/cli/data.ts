/** `xray-torch data check --format … --root PATH [--json]`: validate a dataset as downloaded. */
import type { Argv, CommandModule } from 'yargs';
import { checkDataset, formatCheckReport } from '../data/check';
import { decodeGrey } from '../image/decode';
import { DATASET_FORMATS, type DatasetFormat } from '../data/readers/index';
import { UNCERTAIN_POLICIES } from '../data/labels';
import type { UncertainPolicy } from '../data/types';

interface CheckArgs {
  format: DatasetFormat | 'auto';
  root: string;
  json?: boolean;
  reports?: string;
  images?: string;
  groundtruth?: string;
  labeler?: 'chexpert' | 'negbio';
  uncertain?: UncertainPolicy;
  views?: string[];
  limit?: number;
  concurrency?: number;
  'on-bad-sample'?: 'skip' | 'fail';
}

const checkCommand: CommandModule<object, CheckArgs> = {
  command: 'check',
  describe: 'Read every record and decode every image; report studies, images, reports, labels, splits and bad files',
  builder: (y) =>
    y
      .option('format', {
        choices: ['auto', ...DATASET_FORMATS] as const,
        default: 'auto' as const,
        describe: 'dataset layout',
      })
      .option('root', { type: 'string', demandOption: true, describe: 'dataset folder (manifest: the file or its folder)' })
      .option('json', { type: 'boolean', describe: 'print one JSON object' })
      .option('reports', { type: 'string', describe: 'MIMIC: reports root (holding files/); Open-I: XML folder' })
      .option('images', { type: 'string', describe: 'Open-I: PNG folder' })
      .option('groundtruth', { type: 'string', describe: 'CheXpert: test labels file keyed by Study' })
      .option('labeler', { choices: ['chexpert', 'negbio'] as const, describe: 'MIMIC label file' })
      .option('uncertain', { choices: UNCERTAIN_POLICIES, describe: 'uncertain labels: keep as -1, ignore (null), zero or one' })
      .option('views', { type: 'string', array: true, describe: 'keep only these views (PA AP LATERAL …)' })
      .option('limit', { type: 'number', describe: 'check only the first N studies' })
      .option('concurrency', { type: 'number', default: 4, describe: 'images decoding at once' })
      .option('on-bad-sample', { choices: ['skip', 'fail'] as const, default: 'skip' as const, describe: 'count bad rows/files, or stop at the first' }) as unknown as Argv<CheckArgs>,
  handler: async (a) => {
    const tty = !a.json && process.stderr.isTTY;
    let last = 0;
    const r = await checkDataset(a.format, a.root, {
      reports: a.reports,
      images: a.images,
      groundtruth: a.groundtruth,
      labeler: a.labeler,
      uncertain: a.uncertain,
      views: a.views,
      limit: a.limit,
      concurrency: a.concurrency,
      decode: decodeGrey,
      onBadSample: a['on-bad-sample'],
      onProgress: tty
        ? (done, total) => {
            const now = Date.now();
            if (now - last > 500 || done === total) {
              last = now;
              process.stderr.write(`\rdecoding images ${done}/${total}${done === total ? '\n' : ''}`);
            }
          }
        : undefined,
    });
    if (a.json) {
      const { format, studies, images, reports, labels, splits, bad } = r;
      process.stdout.write(JSON.stringify({ format, studies, images, reports, labels, splits, bad, root: r.root }) + '\n');
    } else process.stdout.write(formatCheckReport(r) + '\n');
  },
};

export const dataCommand: CommandModule = {
  command: 'data <command>',
  describe: 'Dataset tools (check)',
  builder: (y) => y.command(checkCommand as unknown as CommandModule).demandCommand(1),
  handler: () => {},
};
