/** xray-torch: the library entry (`require('xray-torch')` / `import … from 'xray-torch'`). */
export { loadAddon, native, isXtError, xtError, probeCudaAddon } from './native';
export type { XtError, XtErrorCode, TensorResult, RuntimeInfo, NativeAddon } from './native';
export { doctor, formatDoctor, detectBlas } from './runtime/doctor';
export type { DoctorReport } from './runtime/doctor';
export { setThreads } from './runtime/threads';
export * from './data';
export * from './eval';
export * from './text';
