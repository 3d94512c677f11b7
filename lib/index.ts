/** xray-torch: the library entry (`require('xray-torch')` / `import … from 'xray-torch'`). */
export { loadAddon, native, isXtError, xtError, probeCudaAddon } from './native';
export type { XtError, XtErrorCode, TensorResult, RuntimeInfo, NativeAddon } from './native';
export { doctor, formatDoctor, detectBlas } from './runtime/doctor';
export type { DoctorReport } from './runtime/doctor';
export { setThreads } from './runtime/threads';
export * from './data';
export * from './image';
export * from './eval';
export * from './text';
export { ClipModel, loadModel } from './model/clip';
export type {
  ClipConfig, ClipDtype, ClipSaveLayout, WeightsInfo, LoadModelOptions, CreateModelOptions, SaveModelOptions,
  Embeddings as ClipEmbeddings,
} from './model/clip';
export { adaptClip, loadInferenceModel } from './eval/model';
export type { ClipInferenceModel, ClipLike, LoadOptions as LoadInferenceModelOptions } from './eval/model';
export { train } from './train/trainer';
export type { TrainOptions, TrainHandle, TrainSummary, StepEvent, EpochEvent } from './train/trainer';
export { convertWeights } from './model/convert';
export type { ConvertResult } from './model/convert';
export { contrastiveLoss, groupIdsFromTexts } from './loss';
export type { ContrastiveLossOptions, ContrastiveLossResult } from './loss';
export type { LossImpl, LossDevice, LossComputeDtype } from './native';
export { readSafetensors, writeSafetensors, SafetensorsFile } from './io/safetensors';
export type { SafetensorsDtype, SafetensorsArray, SafeTensor, SafeTensorInput } from './io/safetensors';
export * as dist from './distributed';
export type { DistBackend, DistInfo, DistInitOptions, DistReduceOp } from './native';
