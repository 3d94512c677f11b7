import { native } from '../native';

/** Intra-op CPU threads for every native call from now on (default: all cores, or XRAY_TORCH_THREADS). */
export function setThreads(n: number): void {
  native().setThreads(n);
}
