/** `xray-torch classify IMAGE…`: zero-shot probabilities per label for each image. */
import type { CommandModule } from 'yargs';
import { xtError } from '../errors';
import { classify } from '../eval/inference';
import { textTable } from '../eval/report';
import {
  batchOptions, batchSize, loadCliModel, modelOptions, promptOptions, promptSettings, resizeOptions, type ImageArgs, type ModelArgs, type PromptArgs,
} from './eval-args';

interface Args extends ModelArgs, PromptArgs, ImageArgs {
  images: string[];
  labels: string;
  json?: boolean;
}

export const classifyCommand: CommandModule<object, Args> = {
  command: 'classify <images..>',
  describe: 'Zero-shot probabilities per label for chest X-ray images (JPEG, PNG, TIFF, DICOM)',
  builder: (y) =>
    y
      .positional('images', { type: 'string', array: true, describe: 'image files' })
      .options(modelOptions)
      .options(promptOptions('chexpert5'))
      .options(resizeOptions)
      .options(batchOptions(16))
      .option('json', { type: 'boolean', describe: 'print JSON: [{"image", "labels": {name: p}}]' }) as never,
  handler: async (a) => {
    if (!a.images || a.images.length === 0) throw xtError('XT_INVALID', 'name at least one image');
    const batch = batchSize(a);
    const prompts = promptSettings(a);
    const model = await loadCliModel(a);
    try {
      const res = await classify(model, a.images, a.labels, { ...prompts, resize: a.resize, batchSize: batch });
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
