/** `xray-torch convert SRC DST --to hf|openai|xray-torch`: rewrite CLIP weights in another layout. */
import type { CommandModule } from 'yargs';
import { xtError } from '../errors';
import type { ClipDtype, ClipSaveLayout } from '../native';
import { ClipModel } from '../model/clip';

interface Args {
  src: string;
  dst: string;
  to: ClipSaveLayout;
  dtype?: ClipDtype;
}

const DTYPES: ClipDtype[] = ['float32', 'float16', 'bfloat16'];

/** Convert `src` (any supported format) to `dst`; returns what was done, for messages and tests. */
export async function convertWeights(src: string, dst: string, to: ClipSaveLayout, dtype?: ClipDtype):
  Promise<{ from: string; storageDtype: string; file: string; dtype: ClipDtype }> {
  const info = await ClipModel.inspect(src);
  // Keep the source precision unless told otherwise (fp16 stays fp16); anything else becomes fp32.
  const target: ClipDtype = dtype ?? (DTYPES.includes(info.storageDtype as ClipDtype) ? (info.storageDtype as ClipDtype) : 'float32');
  if (!DTYPES.includes(target)) throw xtError('XT_INVALID', `--dtype must be one of ${DTYPES.join(', ')}`);
  const model = await ClipModel.load(src, { dtype: target });
  try {
    const file = await model.save(dst, { layout: to, dtype: target });
    return { from: info.format, storageDtype: info.storageDtype, file, dtype: target };
  } finally {
    model.dispose();
  }
}

export const convertCommand: CommandModule<object, Args> = {
  command: 'convert <src> <dst>',
  describe: 'Convert CLIP weights (OpenAI, TorchScript, Hugging Face, open_clip, xray-torch) to the hf, openai or xray-torch layout',
  builder: (y) =>
    y
      .positional('src', { type: 'string', demandOption: true, describe: 'weights: a file or a folder' })
      .positional('dst', { type: 'string', demandOption: true, describe: 'output folder (or FILE.safetensors for openai/xray-torch)' })
      .option('to', { choices: ['hf', 'openai', 'xray-torch'] as const, demandOption: true, describe: 'output layout' })
      .option('dtype', { choices: DTYPES, describe: 'storage dtype (default: the source\'s)' }) as never,
  handler: async (a) => {
    const r = await convertWeights(a.src, a.dst, a.to, a.dtype);
    process.stdout.write(`converted ${a.src} (${r.from}, ${r.storageDtype}) -> ${r.file} (${a.to}, ${r.dtype})\n`);
  },
};
