/** The pixels of a loader batch as the native step, the evaluation loss and the image encoder take them:
 * the batch's own 8-bit grey array and shape, passed through untouched (normalised natively). */
import type { Batch } from '../image/loader';

export function batchPixels(b: Batch): { pixels: Batch['images']; shape: number[] } {
  return { pixels: b.images, shape: b.pixelShape };
}
