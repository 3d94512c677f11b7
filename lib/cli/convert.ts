/** `xray-torch convert SRC DST --to hf|openai|xray-torch`: rewrite CLIP weights in another layout. */
import type { CommandModule } from 'yargs';
import type { ClipDtype, ClipSaveLayout } from '../native';
import { CONVERT_DTYPES, convertWeights } from '../model/convert';

interface Args {
  src: string;
  dst: string;
  to: ClipSaveLayout;
  dtype?: ClipDtype;
}

export const convertCommand: CommandModule<object, Args> = {
  command: 'convert <src> <dst>',
  describe: 'Convert CLIP weights (OpenAI, TorchScript, Hugging Face, open_clip, xray-torch) to the hf, openai or xray-torch layout',
  builder: (y) =>
    y
      .positional('src', { type: 'string', demandOption: true, describe: 'weights: a file or a folder' })
      .positional('dst', { type: 'string', demandOption: true, describe: 'output folder (or FILE.safetensors for openai/xray-torch)' })
      .option('to', { choices: ['hf', 'openai', 'xray-torch'] as const, demandOption: true, describe: 'output layout' })
      .option('dtype', { choices: CONVERT_DTYPES, describe: 'storage dtype (default: the source\'s)' }) as never,
  handler: async (a) => {
    const r = await convertWeights(a.src, a.dst, a.to, a.dtype);
    process.stdout.write(`converted ${a.src} (${r.from}, ${r.storageDtype}) -> ${r.file} (${a.to}, ${r.dtype})\n`);
  },
};
