/**
 * The image layer's public API (re-exported from the package entry): decoding by the per-file rule (the native
 * decoder for 8-bit JPEG and grey PNG, sharp for the rest; see decode.ts), 8-bit grey batches for the encoders,
 * normalised float tensors for callers that want them, and the streaming DataLoader.
 */
export { decodeGrey, decodeGreyBuffer, setImageBackend, imageBackend } from './decode';
export type { ImageBackend } from './decode';
export { decodeImage, decodeGreyBatch, loadImageTensor, loadImageBatch } from './batch';
export type { ImageInput, PreprocessOptions } from './batch';
export { DataLoader, formatEpochSummary } from './loader';
export type { LoaderOptions, Batch, EpochSummary } from './loader';
