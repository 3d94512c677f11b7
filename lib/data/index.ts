/** The data layer's public API (re-exported from the package entry). */
export type { StudyRecord, LabelValue, UncertainPolicy, ReaderOptions, BadExample } from './types';
export { openDataset, streamDataset, detectFormat, DATASET_FORMATS } from './readers/index';
export type { Dataset, DatasetFormat, OpenOptions } from './readers/index';
export { resolveChexpertPath } from './readers/chexpert';
export { parsePythonStringList, PADCHEST_LABELS } from './readers/padchest';
export { OPENI_LABELS, OPENI_LABEL_MAP } from './readers/openi';
export { loadReport } from './readers/mimic';
export { CHEXPERT_LABELS, NIH_LABELS, applyUncertain, parseLabelCell, canonicalSplit } from './labels';
export { parseCsv, readCsvRows, readCsvRecords, CsvParser } from './csv';
export { readText, readLines, openTextStream } from './text-files';
export { BadLog } from './skip-log';
export type { BadSummary } from './skip-log';
// image decoding by the per-file rule, batches and the DataLoader: lib/image (they may load the addon)
export {
  decodeGreySharp,
  decodeGreyBufferSharp,
  greyToCHW,
  floatGreyToCHW,
  normalizeLut,
  padToSquare,
  CLIP_MEAN,
  CLIP_STD,
} from './images';
export type { GreyImage, DecodeOptions, NormalizeOptions, ResizeMode } from './images';
export { decodeDicom, isDicomBuffer } from './dicom';
export type { DicomImage } from './dicom';
export { sampleAugment, applyAugment, identityAugment } from './augment';
export type { AugmentOptions, AugmentParams } from './augment';
export { Rng, permutation, hashString, mixSeed } from './rng';
export { hashSplit } from './splits';
export { generateSynthetic, synthRow, synthImage, SYNTH_LABELS, SYNTH_FINDINGS } from './synth';
export type { SynthOptions, SynthResult, SynthRow } from './synth';
export { checkDataset, formatCheckReport } from './check';
export type { CheckReport, CheckOptions, LabelCounts } from './check';
