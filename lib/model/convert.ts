/** Rewrite CLIP weights in another layout (the library side of `xray-torch convert`). */
import { xtError } from '../errors';
import type { ClipDtype, ClipSaveLayout } from '../native';
import { ClipModel } from './clip';

/** Storage dtypes `convertWeights` writes. */
export const CONVERT_DTYPES: readonly ClipDtype[] = ['float32', 'float16', 'bfloat16'];

export interface ConvertResult {
  /** The source's detected format. */
  from: string;
  /** The source's storage dtype. */
  storageDtype: string;
  /** The weight file written. */
  file: string;
  /** The storage dtype written. */
  dtype: ClipDtype;
}

/**
 * Convert `src` (any supported format) to `dst` in the `to` layout (`hf`, `openai`, `xray-torch`).
 * The source precision is kept unless `dtype` says otherwise (fp16 stays fp16; anything else becomes fp32).
 */
export async function convertWeights(src: string, dst: string, to: ClipSaveLayout, dtype?: ClipDtype): Promise<ConvertResult> {
  if (dtype !== undefined && !CONVERT_DTYPES.includes(dtype)) {
    throw xtError('XT_INVALID', `convertWeights: dtype must be one of ${CONVERT_DTYPES.join(', ')}, got ${JSON.stringify(dtype)}`);
  }
  const info = await ClipModel.inspect(src);
  const source = info.storageDtype as ClipDtype;
  const target: ClipDtype = dtype ?? (CONVERT_DTYPES.includes(source) ? source : 'float32');
  const model = await ClipModel.load(src, { dtype: target });
  try {
    const file = await model.save(dst, { layout: to, dtype: target });
    return { from: info.format, storageDtype: info.storageDtype, file, dtype: target };
  } finally {
    model.dispose();
  }
}
