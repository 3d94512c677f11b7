/** `xray-torch embed`: image or text embeddings to a .npy or .json file. */
import * as fs from 'fs';
import type { CommandModule } from 'yargs';
import { xtError } from '../errors';
import { embedImages, embedTexts } from '../eval/inference';
import { writeNpy } from '../eval/npy';
import { batchOptions, batchSize, loadCliModel, modelOptions, resizeOptions, type ImageArgs, type ModelArgs } from './eval-args';

interface Args extends ModelArgs, ImageArgs {
  images?: string[];
  texts?: string[];
  'texts-file'?: string;
  out: string;
  normalize: boolean;
}

export const embedCommand: CommandModule<object, Args> = {
  command: 'embed',
  describe: 'Embed images or texts with a model; write [n, D] float32 to FILE.npy, or JSON to FILE.json',
  builder: (y) =>
    y
      .options(modelOptions)
      .option('images', { type: 'string', array: true, describe: 'image files' })
      .option('texts', { type: 'string', array: true, describe: 'texts' })
      .option('texts-file', { type: 'string', describe: 'a file with one text per line' })
      .option('out', { type: 'string', demandOption: true, describe: 'output: FILE.npy (float32 [n, D]) or FILE.json' })
      .option('normalize', { type: 'boolean', default: true, describe: 'L2-normalise each embedding (--no-normalize for raw)' })
      .options(resizeOptions)
      .options(batchOptions(16))
      .check((a) => {
        const n = [a.images?.length, a.texts?.length, a['texts-file']].filter(Boolean).length;
        if (n !== 1) throw new Error('give exactly one of --images, --texts or --texts-file');
        if (!/\.(npy|json)$/i.test(a.out)) throw new Error('--out must end in .npy or .json');
        return true;
      }) as never,
  handler: async (a) => {
    let texts: string[] | undefined = a.texts;
    if (a['texts-file']) {
      try {
        texts = fs.readFileSync(a['texts-file'], 'utf8').split(/\r?\n/).filter((l) => l.trim());
      } catch (e) {
        throw xtError('XT_IO', `cannot read ${a['texts-file']}: ${(e as Error).message}`);
      }
      if (!texts.length) throw xtError('XT_INVALID', `${a['texts-file']}: no texts`);
    }
    const batch = batchSize(a);
    const model = await loadCliModel(a);
    try {
      const e = a.images
        ? await embedImages(model, a.images, { normalize: a.normalize, batchSize: batch, mode: a.resize })
        : await embedTexts(model, texts!, { normalize: a.normalize, batchSize: batch });
      const inputs = a.images ?? texts!;
      if (/\.npy$/i.test(a.out)) writeNpy(a.out, e.data, e.shape);
      else {
        const d = e.shape[1];
        const rows = inputs.map((_, i) => Array.from(e.data.subarray(i * d, (i + 1) * d)));
        const doc = { kind: a.images ? 'image' : 'text', shape: e.shape, normalized: a.normalize, inputs, embeddings: rows };
        try {
          fs.writeFileSync(a.out, JSON.stringify(doc) + '\n');
        } catch (err) {
          throw xtError('XT_IO', `cannot write ${a.out}: ${(err as Error).message}`);
        }
      }
      process.stderr.write(`wrote ${a.out}: [${e.shape.join(', ')}]\n`);
    } finally {
      model.dispose();
    }
  },
};
