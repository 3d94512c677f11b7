/** `xray-torch score`: score a model's probabilities, or readers' binary decisions, against a labels CSV. */
import type { CommandModule } from 'yargs';
import { scoreFiles } from '../eval/score';
import { resolveLabels } from '../eval/labelsets';
import {
  bootstrapArg, labelScoringOptions, outputOptions, parseThresholdArg, writeOutputs, type LabelScoringArgs, type OutputArgs,
} from './eval-args';

interface Args extends OutputArgs, LabelScoringArgs {
  labels: string;
  predictions?: string;
  decisions?: string[];
  tasks?: string;
  id?: string;
  'val-labels'?: string;
  'val-predictions'?: string;
}

export const scoreCommand: CommandModule<object, Args> = {
  command: 'score',
  describe: 'Score predictions (probabilities) or decisions (0/1) CSVs against a labels CSV: rows matched by id, columns by name',
  builder: (y) =>
    y
      .option('labels', { type: 'string', demandOption: true, describe: 'ground-truth CSV (id column + one column per label)' })
      .option('predictions', { type: 'string', describe: "a model's probabilities CSV (several rows per id are averaged)" })
      .option('decisions', { type: 'string', array: true, describe: "readers' binary decision CSVs (one row per id)" })
      .option('tasks', { type: 'string', describe: 'labels to score: "A,B", a label set (chexpert5, …) or a file (default: the shared label columns)' })
      .option('id', { type: 'string', describe: 'id column (default: Study, study_id, id, Path, … whichever the file has)' })
      .options(labelScoringOptions('--val-labels/--val-predictions; predictions only'))
      .option('val-labels', { type: 'string', describe: 'validation labels CSV, to choose thresholds on' })
      .option('val-predictions', { type: 'string', describe: 'validation predictions CSV, to choose thresholds on' })
      .options(outputOptions)
      .check((a) => {
        if (!a.predictions && !(a.decisions && a.decisions.length)) throw new Error('give --predictions CSV or --decisions CSV…');
        return true;
      })
      .example('$0 score --labels groundtruth.csv --decisions bc4.csv bc6.csv bc8.csv --tasks chexpert5 --json', '') as never,
  handler: async (a) => {
    const policy = parseThresholdArg(a.threshold);
    const { report, data } = await scoreFiles({
      labels: a.labels,
      predictions: a.predictions,
      decisions: a.decisions,
      tasks: a.tasks ? resolveLabels(a.tasks).map((l) => l.name) : undefined,
      id: a.id,
      uncertain: a.uncertain,
      policy,
      validation: a['val-labels'] && a['val-predictions'] ? { labels: a['val-labels'], predictions: a['val-predictions'] } : undefined,
      bootstrap: bootstrapArg(a.resamples, a.seed, undefined),
      onWarning: (m) => process.stderr.write(`warning: ${m}\n`),
    });
    await writeOutputs({ title: `xray-torch score: ${a.labels}`, report, data }, a);
  },
};
