/**
 * Distributed training: environment (torchrun / Slurm / Kubeflow), the local launcher
 * (`--nproc`), and joining the c10d process group from TypeScript. The data-parallel step itself
 * (all-gather with grad, gradient reducer) is native: binding/dist/dist.h.
 */
import { native } from '../native';
import { xtError } from '../errors';
import type { DistBackend, DistInfo, DistNative } from '../native';
import { readDistEnv, DistEnv } from './env';
import { watchLauncher } from './launcher';

export { readDistEnv, describeDistEnv, parseHostList, parseTasksPerNode, envInt, DEFAULT_MASTER_PORT } from './env';
export type { DistEnv, DistSource } from './env';
export { launch, maybeLaunch, extractNproc, freePort, watchLauncher } from './launcher';
export type { LaunchOptions, LaunchResult, WorkerExit } from './launcher';

export const DIST_BACKENDS: readonly DistBackend[] = ['auto', 'gloo', 'nccl'];

/** Validate a `--dist-backend` value. */
export function parseDistBackend(v: string | undefined): DistBackend {
  const b = (v ?? 'auto').toLowerCase();
  if (!(DIST_BACKENDS as readonly string[]).includes(b)) {
    throw xtError('XT_INVALID', `--dist-backend must be one of ${DIST_BACKENDS.join(', ')}, got ${JSON.stringify(v)}`);
  }
  return b as DistBackend;
}

/** The addon's `dist` module, or XT_INVALID when this build left it out. */
export function distNative(): DistNative['dist'] {
  const a = native() as Partial<DistNative> & { modules?: string[] };
  if (!a.dist) {
    throw xtError('XT_INVALID', `this build of the native addon has no distributed module (modules: ${(a.modules ?? []).join(', ')}); ` +
      'rebuild with binding/dist included');
  }
  return a.dist;
}

export interface InitDistributedOptions {
  backend?: DistBackend;
  /** Rendezvous timeout (default: XRAY_TORCH_DIST_TIMEOUT seconds, else 300). */
  timeoutSec?: number;
  /** The environment to read (default process.env). */
  env?: Record<string, string | undefined>;
}

/** Rendezvous timeout from XRAY_TORCH_DIST_TIMEOUT (seconds), default 300. */
export function distTimeoutSec(env: Record<string, string | undefined> = process.env): number {
  const raw = env.XRAY_TORCH_DIST_TIMEOUT;
  if (raw === undefined || raw.trim() === '') return 300;
  const n = Number(raw);
  if (!(n > 0 && n <= 86400)) {
    throw xtError('XT_INVALID', `XRAY_TORCH_DIST_TIMEOUT=${JSON.stringify(raw)} must be a number of seconds in (0, 86400]`);
  }
  return n;
}

/**
 * Join the process group described by the environment. For a world of one nothing is contacted
 * and the native collectives are identities. Resolves with the group info and the parsed env.
 */
export async function initDistributed(opts: InitDistributedOptions = {}): Promise<{ info: DistInfo; env: DistEnv }> {
  const env = readDistEnv(opts.env ?? process.env);
  if (env.worldSize > 1) watchLauncher(opts.env ?? process.env);
  const info = await distNative().init({
    masterAddr: env.masterAddr,
    masterPort: env.masterPort,
    worldSize: env.worldSize,
    rank: env.rank,
    localRank: env.localRank,
    localWorldSize: env.localWorldSize,
    backend: opts.backend ?? 'auto',
    timeoutSec: opts.timeoutSec ?? distTimeoutSec(opts.env ?? process.env),
    ...(env.agentStorePrefix !== undefined ? { hostStore: false, storePrefix: env.agentStorePrefix } : {}),
  });
  return { info, env };
}
