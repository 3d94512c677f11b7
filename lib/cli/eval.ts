/** `xray-torch eval`: zero-shot multi-label evaluation of a model on a dataset split. */
import * as fs from 'fs';
import type { CommandModule } from 'yargs';
import { xtError } from '../errors';
import { DATASET_FORMATS, type DatasetFormat } from '../data/readers';
import { resolveLabels } from '../eval/labelsets';
import { runZeroShotEval, predictionsCsv } from '../eval/pipeline';
import {
  batchOptions, batchSize, bootstrapArg, labelScoringOptions, loadCliModel, modelOptions, outputOptions, parseThresholdArg,
  promptOptions, promptSettings, resizeOptions, writeOutputs, type ImageArgs, type LabelScoringArgs, type ModelArgs, type OutputArgs, type PromptArgs,
} from './eval-args';

interface Args extends OutputArgs, ModelArgs, PromptArgs, ImageArgs, LabelScoringArgs {
  data: string;
  format: string;
  split: string;
  'val-split': string;
  views?: string;
  limit?: number;
  radiologists?: string[];
  'predictions-out'?: string;
}

export const evalCommand: CommandModule<object, Args> = {
  command: 'eval',
  describe: 'Zero-shot multi-label classification of a dataset split, scored against its labels (AUROC, AUPRC, F1, MCC, CIs)',
  builder: (y) =>
    y
      .options(modelOptions)
      .option('data', { type: 'string', demandOption: true, describe: 'dataset root or manifest (.jsonl/.csv)' })
      .option('format', { type: 'string', default: 'auto', describe: `dataset format: auto|${DATASET_FORMATS.join('|')}` })
      .option('split', { type: 'string', default: 'test', describe: 'split to evaluate (the dataset\'s own name or the canonical one: validate = valid)' })
      .option('val-split', { type: 'string', default: 'valid', describe: 'split thresholds are chosen on (--threshold max-mcc|youden)' })
      .options(promptOptions())
      .options(resizeOptions)
      .options(batchOptions(32))
      .option('views', { type: 'string', describe: 'keep only these views, e.g. "PA,AP"' })
      .option('limit', { type: 'number', describe: 'evaluate at most N studies' })
      .options(labelScoringOptions('--val-split'))
      .option('radiologists', { type: 'string', array: true, describe: "readers' decision CSVs, scored on the same studies beside the model" })
      .option('predictions-out', { type: 'string', describe: 'write the probabilities as CSV (id + one column per label)' })
      .options(outputOptions)
      .example('$0 eval --model ckpt/ --data CheXpert-v1.0 --split test --labels chexpert5 --radiologists bc4.csv bc6.csv bc8.csv --html report.html', '') as never,
  handler: async (a) => {
    if (!(a.format === 'auto' || (DATASET_FORMATS as string[]).includes(a.format))) {
      throw xtError('XT_INVALID', `--format ${a.format}: expected auto|${DATASET_FORMATS.join('|')}`);
    }
    const batch = batchSize(a);
    const threshold = parseThresholdArg(a.threshold);
    const labels = a.labels ? resolveLabels(a.labels) : undefined;
    const prompts = promptSettings(a);
    const model = await loadCliModel(a);
    const tty = process.stderr.isTTY;
    try {
      const r = await runZeroShotEval(model, {
        data: a.data, format: a.format as DatasetFormat | 'auto', split: a.split, valSplit: a['val-split'], labels,
        ...prompts, resize: a.resize,
        batchSize: batch, views: a.views ? a.views.split(',').map((v) => v.trim()).filter(Boolean) : undefined,
        limit: a.limit, uncertain: a.uncertain, threshold, readers: a.radiologists,
        bootstrap: bootstrapArg(a.resamples, a.seed, undefined),
        onProgress: tty ? (n, total) => process.stderr.write(`\r  ${n}/${total} images`) : undefined,
        onWarning: (m) => process.stderr.write(`${tty ? '\n' : ''}warning: ${m}\n`),
      });
      if (tty) process.stderr.write('\n');
      if (a['predictions-out']) {
        try {
          fs.writeFileSync(a['predictions-out'], predictionsCsv(r.predictions));
        } catch (e) {
          throw xtError('XT_IO', `cannot write ${a['predictions-out']}: ${(e as Error).message}`);
        }
      }
      const meta = { model: a.model, ...r.meta };
      await writeOutputs({ title: 'xray-torch zero-shot evaluation', meta, report: r.report, data: r.data }, a, meta);
    } finally {
      model.dispose();
    }
  },
};
