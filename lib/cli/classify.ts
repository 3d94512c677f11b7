/** `xray-torch classify IMAGE…`: zero-shot probabilities per label for each image. */
import type { CommandModule } from 'yargs';
import { xtError } from '../errors';
import { classify } from '../eval/inference';
import { loadInferenceModel } from '../eval/model';
import { loadPromptFile } from '../eval/prompts';
import { textTable } from '../eval/report';

interface Args {
  images: string[];
  model: string;
  labels: string;
  scoring: 'paired' | 'cosine';
  templates: string;
  prompts?: string;
  temperature?: number;
  resize: 'crop' | 'pad';
  'batch-size': number;
  device?: string;
  tokenizer?: string;
  json?: boolean;
}

export const classifyCommand: CommandModule<object, Args> = {
  command: 'classify <images..>',
  describe: 'Zero-shot probabilities per label for chest X-ray images (JPEG, PNG, TIFF, DICOM)',
  builder: (y) =>
    y
      .positional('images', { type: 'string', array: true, describe: 'image files' })
      .option('model', { type: 'string', demandOption: true, describe: 'model directory' })
      .option('labels', { type: 'string', default: 'chexpert5', describe: 'a label set (chexpert, chexpert5, …), "A,B" or a file' })
      .option('scoring', { choices: ['paired', 'cosine'] as const, default: 'paired' as const, describe: 'paired softmax or plain cosine' })
      .option('templates', { type: 'string', default: 'chexzero', describe: 'prompt templates: chexzero or report' })
      .option('prompts', { type: 'string', describe: 'prompt file (JSON)' })
      .option('temperature', { type: 'number', describe: "paired-mode softmax scale (default: the model's logit scale)" })
      .option('resize', { choices: ['crop', 'pad'] as const, default: 'crop' as const, describe: 'image geometry' })
      .option('batch-size', { type: 'number', default: 16, describe: 'images per forward pass' })
      .option('tokenizer', { type: 'string', describe: 'tokenizer file or folder when none sits beside the weights' })
      .option('json', { type: 'boolean', describe: 'print JSON: [{"image", "labels": {name: p}}]' }) as never,
  handler: async (a) => {
    if (!a.images || a.images.length === 0) throw xtError('XT_INVALID', 'name at least one image');
    const prompts = a.prompts ? loadPromptFile(a.prompts) : undefined;
    const model = await loadInferenceModel(a.model, { device: a.device, tokenizer: a.tokenizer });
    try {
      const res = await classify(model, a.images, a.labels, {
        scoring: a.scoring, templates: a.templates, prompts, temperature: a.temperature, resize: a.resize, batchSize: a['batch-size'],
      });
      if (a.json) {
        process.stdout.write(JSON.stringify(res.map((labels, i) => ({ image: a.images[i], labels })), null, 2) + '\n');
        return;
      }
      const names = Object.keys(res[0]);
      const digits = a.scoring === 'cosine' ? 4 : 3;
      process.stdout.write(textTable(['Image', ...names], res.map((r, i) => [a.images[i], ...names.map((n) => r[n].toFixed(digits))])) + '\n');
    } finally {
      model.dispose();
    }
  },
};
