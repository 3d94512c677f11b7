/** `xray-torch eval`: zero-shot multi-label evaluation of a model on a dataset split. */
import * as fs from 'fs';
import type { CommandModule } from 'yargs';
import { xtError } from '../errors';
import { DATASET_FORMATS, type DatasetFormat } from '../data/readers';
import { resolveLabels } from '../eval/labelsets';
import { loadPromptFile } from '../eval/prompts';
import { loadInferenceModel } from '../eval/model';
import { runZeroShotEval, predictionsCsv } from '../eval/pipeline';
import type { Uncertain } from '../eval/score';
import { bootstrapArg, outputOptions, parseThresholdArg, writeOutputs, type OutputArgs } from './eval-args';

interface Args extends OutputArgs {
  model: string;
  data: string;
  format: string;
  split: string;
  'val-split': string;
  labels?: string;
  scoring: 'paired' | 'cosine';
  templates: string;
  prompts?: string;
  temperature?: number;
  resize: 'crop' | 'pad';
  'batch-size': number;
  views?: string;
  limit?: number;
  uncertain: Uncertain;
  threshold?: string;
  radiologists?: string[];
  'predictions-out'?: string;
  device?: string;
  tokenizer?: string;
  resamples?: number;
  seed?: number;
}

export const evalCommand: CommandModule<object, Args> = {
  command: 'eval',
  describe: 'Zero-shot multi-label classification of a dataset split, scored against its labels (AUROC, AUPRC, F1, MCC, CIs)',
  builder: (y) =>
    y
      .option('model', { type: 'string', demandOption: true, describe: 'model directory (xray-torch checkpoint, OpenAI or HF CLIP)' })
      .option('data', { type: 'string', demandOption: true, describe: 'dataset root or manifest (.jsonl/.csv)' })
      .option('format', { type: 'string', default: 'auto', describe: `dataset format: auto|${DATASET_FORMATS.join('|')}` })
      .option('split', { type: 'string', default: 'test', describe: 'split to evaluate' })
      .option('val-split', { type: 'string', default: 'valid', describe: 'split thresholds are chosen on (--threshold max-mcc|youden)' })
      .option('labels', { type: 'string', describe: 'labels: a set (chexpert, chexpert5, mimic, chestx14, padchest, openi), "A,B", or a file (default: the dataset\'s set)' })
      .option('scoring', { choices: ['paired', 'cosine'] as const, default: 'paired' as const, describe: 'paired: softmax over (label, no label) prompts; cosine: plain similarity' })
      .option('templates', { type: 'string', default: 'chexzero', describe: 'prompt templates: chexzero ("{}" / "no {}") or report (several, averaged)' })
      .option('prompts', { type: 'string', describe: 'prompt file (JSON: templates, per-label phrases or prompts)' })
      .option('temperature', { type: 'number', describe: 'paired-mode softmax scale (default: the model\'s logit scale)' })
      .option('resize', { choices: ['crop', 'pad'] as const, default: 'crop' as const, describe: 'image geometry: centre crop (CLIP) or pad to square (CheXzero)' })
      .option('batch-size', { type: 'number', default: 32, describe: 'images per forward pass' })
      .option('views', { type: 'string', describe: 'keep only these views, e.g. "PA,AP"' })
      .option('limit', { type: 'number', describe: 'evaluate at most N studies' })
      .option('uncertain', { choices: ['ignore', 'zero', 'one'] as const, default: 'ignore' as const, describe: 'uncertain (-1) labels' })
      .option('threshold', { type: 'string', describe: 'decision threshold: a number (default 0.5), max-mcc or youden (on --val-split), or a JSON file {label: t}' })
      .option('radiologists', { type: 'string', array: true, describe: "readers' decision CSVs, scored on the same studies beside the model" })
      .option('predictions-out', { type: 'string', describe: 'write the probabilities as CSV (id + one column per label)' })
      .option('tokenizer', { type: 'string', describe: 'tokenizer file or folder when none sits beside the weights' })
      .options(outputOptions)
      .example('$0 eval --model ckpt/ --data CheXpert-v1.0 --split test --labels chexpert5 --radiologists bc4.csv bc6.csv bc8.csv --html report.html', '') as never,
  handler: async (a) => {
    if (!(a.format === 'auto' || (DATASET_FORMATS as string[]).includes(a.format))) {
      throw xtError('XT_INVALID', `--format ${a.format}: expected auto|${DATASET_FORMATS.join('|')}`);
    }
    if (!Number.isInteger(a['batch-size']) || a['batch-size'] < 1) throw xtError('XT_INVALID', '--batch-size must be a positive integer');
    const threshold = parseThresholdArg(a.threshold);
    const labels = a.labels ? resolveLabels(a.labels) : undefined;
    const prompts = a.prompts ? loadPromptFile(a.prompts) : undefined;
    const model = await loadInferenceModel(a.model, { device: a.device, tokenizer: a.tokenizer });
    const tty = process.stderr.isTTY;
    try {
      const r = await runZeroShotEval(model, {
        data: a.data, format: a.format as DatasetFormat | 'auto', split: a.split, valSplit: a['val-split'], labels,
        scoring: a.scoring, templates: a.templates, prompts, temperature: a.temperature, resize: a.resize,
        batchSize: a['batch-size'], views: a.views ? a.views.split(',').map((v) => v.trim()).filter(Boolean) : undefined,
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
