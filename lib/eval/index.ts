/** Evaluation and inference: the public API (re-exported from the package entry). */
import * as metrics from './metrics';

export { metrics };
export {
  auroc, auprc, rocCurve, confusionAt, f1, mcc, sensitivity, specificity, precision, chooseThreshold, resolveThresholds,
  evaluate as computeMetrics, poolReaders, macroMean, mulberry32,
} from './metrics';
export type {
  Confusion, ThresholdPolicy, BootstrapOptions, LabelScores, LabelResult, MeanResult, EvalResult, Interval, RocCurve,
} from './metrics';
export { scoreFiles as score, scoreData, readTable, alignTable, groundTruthFromTable } from './score';
export type { ScoreReport, ScoreData, ScoreFilesOptions, GroundTruth, PredictionsReport, DecisionsReport } from './score';
export { IdMatcher, normalizeId } from './study-ids';
export { LABEL_SETS, CHEXPERT_COMPETITION, getLabelSet, resolveLabels, labelText } from './labelsets';
export type { LabelSpec, LabelSet } from './labelsets';
export { buildPrompts, loadPromptFile, parsePromptFile, TEMPLATE_PRESETS } from './prompts';
export type { LabelPrompts, PromptTemplates, PromptFile } from './prompts';
export { ZeroShotClassifier, TextEmbeddingCache, scoreStream } from './zeroshot';
export type { ZeroShotEncoder, ZeroShotMode, Embeddings, ImageBatch, Pixels, StudyScores } from './zeroshot';
export { classify, embedImages, embedTexts, zeroShotClassifier, preprocessImage, preprocessBatch } from './inference';
export type { InferenceModel, ImageInput, ClassifyOptions, EmbedOptions, ZeroShotSettings } from './inference';
export { runZeroShotEval, predictionsCsv } from './pipeline';
export type { ZeroShotEvalOptions, ZeroShotEvalResult } from './pipeline';
export { formatTerminal, reportCsv, htmlReport, rocSvg, rocPanels, svgToPng } from './report';
export type { ReportInput } from './report';
export { encodeNpy, decodeNpy, writeNpy } from './npy';
export { createServer } from '../serve/server';
export type { ServeOptions, XrayServer } from '../serve/server';
