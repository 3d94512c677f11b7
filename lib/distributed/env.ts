/**
 * Where this process sits in a distributed job, read from the environment the way PyTorch jobs
 * are launched:
 *   - torchrun style (also `xray-torch train --nproc N`, Kubeflow's PyTorchJob, any launcher that
 *     exports them): MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK, LOCAL_WORLD_SIZE;
 *   - Slurm, inside an `srun` step: SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID,
 *     SLURM_NTASKS_PER_NODE (or SLURM_STEP_TASKS_PER_NODE / SLURM_TASKS_PER_NODE), SLURM_NODEID;
 *     MASTER_ADDR defaults to the first host of SLURM_STEP_NODELIST / SLURM_JOB_NODELIST and
 *     MASTER_PORT to 15000 + SLURM_JOB_ID % 20000 (the same on every task of the job);
 *   - otherwise a single process.
 * torchrun-style variables win over Slurm's when both are present (e.g. torchrun inside srun).
 * Inconsistent values raise XT_INVALID naming the variable.
 */
import { xtError } from '../errors';

export type DistSource = 'single' | 'torchrun' | 'kubeflow' | 'slurm';

export interface DistEnv {
  worldSize: number;
  rank: number;
  localRank: number;
  localWorldSize: number;
  /** Host of rank 0 (the TCPStore rendezvous). */
  masterAddr: string;
  masterPort: number;
  /** Which convention supplied the values. */
  source: DistSource;
  /** Index of this node when the launcher says (GROUP_RANK, SLURM_NODEID). */
  nodeRank?: number;
  /**
   * Set under torchrun when its agent already hosts the TCPStore on MASTER_ADDR:MASTER_PORT
   * (TORCHELASTIC_USE_AGENT_STORE=True): every rank connects as a client, under this key prefix.
   */
  agentStorePrefix?: string;
}

export const DEFAULT_MASTER_PORT = 29500;

type Env = Record<string, string | undefined>;

function present(env: Env, name: string): boolean {
  const v = env[name];
  return v !== undefined && v.trim() !== '';
}

/** A non-negative decimal integer from variable `name`, at least `min`. */
export function envInt(env: Env, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = (env[name] ?? '').trim();
  const expected = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer in ${min}..${max}`;
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= min && n <= max)) {
    throw xtError('XT_INVALID', `${name}=${JSON.stringify(env[name] ?? '')} is not valid: expected ${expected}`);
  }
  return n;
}

/**
 * Expand a Slurm host list (`scontrol show hostnames` semantics): `gpu[01-04,07],cpu3` ->
 * gpu01 gpu02 gpu03 gpu04 gpu07 cpu3. Zero padding follows the range's first bound; several
 * bracket groups in one name multiply (`r[1-2]n[1-2]` -> r1n1 r1n2 r2n1 r2n2).
 */
export function parseHostList(list: string): string[] {
  const s = list.trim();
  if (!s) return [];
  // Split on commas outside brackets.
  const names: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '[') depth++;
    if (ch === ']') depth--;
    if (depth < 0) throw xtError('XT_INVALID', `host list ${JSON.stringify(list)}: unbalanced ']'`);
    if (ch === ',' && depth === 0) {
      names.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  if (depth !== 0) throw xtError('XT_INVALID', `host list ${JSON.stringify(list)}: unbalanced '['`);
  names.push(cur);
  const out: string[] = [];
  for (const name of names) {
    const n = name.trim();
    if (!n) throw xtError('XT_INVALID', `host list ${JSON.stringify(list)}: empty host name`);
    out.push(...expandHost(n, list));
  }
  return out;
}

function expandHost(name: string, list: string): string[] {
  const open = name.indexOf('[');
  if (open < 0) return [name];
  const close = name.indexOf(']', open);
  const prefix = name.slice(0, open);
  const body = name.slice(open + 1, close);
  const rest = expandHost(name.slice(close + 1), list);
  const items: string[] = [];
  for (const part of body.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw xtError('XT_INVALID', `host list ${JSON.stringify(list)}: bad range ${JSON.stringify(part)}`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw xtError('XT_INVALID', `host list ${JSON.stringify(list)}: descending range ${JSON.stringify(part)}`);
    if (b - a > 100000) throw xtError('XT_INVALID', `host list ${JSON.stringify(list)}: range ${part} is too large`);
    const width = m[1].length;
    for (let i = a; i <= b; i++) items.push(String(i).padStart(width, '0'));
  }
  const out: string[] = [];
  for (const it of items) for (const r of rest) out.push(prefix + it + r);
  return out;
}

/** Slurm's tasks-per-node form: `2(x3),1` -> [2, 2, 2, 1]. */
export function parseTasksPerNode(s: string): number[] {
  const out: number[] = [];
  for (const part of s.split(',')) {
    const m = /^\s*(\d+)(?:\(x(\d+)\))?\s*$/.exec(part);
    if (!m) throw xtError('XT_INVALID', `tasks per node ${JSON.stringify(s)}: cannot read ${JSON.stringify(part)}`);
    const reps = m[2] === undefined ? 1 : Number(m[2]);
    for (let i = 0; i < reps; i++) out.push(Number(m[1]));
  }
  return out;
}

function masterPortFrom(env: Env, dflt: number): number {
  return present(env, 'MASTER_PORT') ? envInt(env, 'MASTER_PORT', 1, 65535) : dflt;
}

function fromTorchrun(env: Env): DistEnv {
  if (!present(env, 'WORLD_SIZE') || !present(env, 'RANK')) {
    const has = present(env, 'WORLD_SIZE') ? 'WORLD_SIZE' : 'RANK';
    const lacks = has === 'WORLD_SIZE' ? 'RANK' : 'WORLD_SIZE';
    throw xtError('XT_INVALID', `${has} is set but ${lacks} is not: a distributed launch sets both (torchrun, Kubeflow and --nproc do)`);
  }
  const worldSize = envInt(env, 'WORLD_SIZE', 1);
  const rank = envInt(env, 'RANK', 0);
  if (rank >= worldSize) throw xtError('XT_INVALID', `RANK=${rank} must be less than WORLD_SIZE=${worldSize}`);
  const hasLocal = present(env, 'LOCAL_RANK');
  const localRank = hasLocal ? envInt(env, 'LOCAL_RANK', 0) : 0;
  let localWorldSize: number;
  if (present(env, 'LOCAL_WORLD_SIZE')) {
    localWorldSize = envInt(env, 'LOCAL_WORLD_SIZE', 1);
    if (localWorldSize > worldSize) {
      throw xtError('XT_INVALID', `LOCAL_WORLD_SIZE=${localWorldSize} exceeds WORLD_SIZE=${worldSize}`);
    }
  } else {
    // Older launchers (torch.distributed.launch) set LOCAL_RANK only; Kubeflow runs one process per pod.
    localWorldSize = hasLocal ? Math.max(localRank + 1, 1) : 1;
  }
  if (localRank >= localWorldSize) {
    throw xtError('XT_INVALID', `LOCAL_RANK=${localRank} must be less than LOCAL_WORLD_SIZE=${localWorldSize}`);
  }
  let masterAddr = (env.MASTER_ADDR ?? '').trim();
  if (!masterAddr) {
    if (worldSize > 1) {
      throw xtError('XT_INVALID', `MASTER_ADDR is not set (WORLD_SIZE=${worldSize}): set it to the host name or address of rank 0`);
    }
    masterAddr = '127.0.0.1';
  }
  const kubeflow = present(env, 'KUBERNETES_SERVICE_HOST') && !hasLocal;
  const out: DistEnv = {
    worldSize,
    rank,
    localRank,
    localWorldSize,
    masterAddr,
    masterPort: masterPortFrom(env, DEFAULT_MASTER_PORT),
    source: kubeflow ? 'kubeflow' : 'torchrun',
  };
  if (present(env, 'GROUP_RANK')) out.nodeRank = envInt(env, 'GROUP_RANK', 0);
  if ((env.TORCHELASTIC_USE_AGENT_STORE ?? '').trim() === 'True') {
    const attempt = present(env, 'TORCHELASTIC_RESTART_COUNT') ? envInt(env, 'TORCHELASTIC_RESTART_COUNT', 0) : 0;
    out.agentStorePrefix = `/worker/attempt_${attempt}`;
  }
  return out;
}

/** True inside an `srun` job step (the batch script itself also has SLURM_PROCID=0, but no step id). */
function inSlurmStep(env: Env): boolean {
  return present(env, 'SLURM_PROCID') && present(env, 'SLURM_NTASKS') &&
    (present(env, 'SLURM_STEP_ID') || present(env, 'SLURM_STEPID'));
}

function fromSlurm(env: Env): DistEnv {
  const worldSize = envInt(env, 'SLURM_NTASKS', 1);
  const rank = envInt(env, 'SLURM_PROCID', 0);
  if (rank >= worldSize) throw xtError('XT_INVALID', `SLURM_PROCID=${rank} must be less than SLURM_NTASKS=${worldSize}`);
  const localRank = present(env, 'SLURM_LOCALID') ? envInt(env, 'SLURM_LOCALID', 0) : 0;
  const nodeRank = present(env, 'SLURM_NODEID') ? envInt(env, 'SLURM_NODEID', 0) : undefined;
  let localWorldSize: number | undefined;
  if (present(env, 'SLURM_NTASKS_PER_NODE')) {
    // Usually "4"; some versions repeat the per-node form.
    localWorldSize = parseTasksPerNode(env.SLURM_NTASKS_PER_NODE as string)[0];
  } else {
    const tpn = env.SLURM_STEP_TASKS_PER_NODE ?? env.SLURM_TASKS_PER_NODE;
    if (tpn && tpn.trim()) {
      const counts = parseTasksPerNode(tpn);
      localWorldSize = counts[Math.min(nodeRank ?? 0, counts.length - 1)];
    }
  }
  if (localWorldSize === undefined) localWorldSize = localRank + 1;
  if (localWorldSize < 1 || localWorldSize > worldSize) {
    throw xtError('XT_INVALID', `tasks per node (${localWorldSize}) must be in 1..SLURM_NTASKS=${worldSize}`);
  }
  if (localRank >= localWorldSize) {
    throw xtError('XT_INVALID', `SLURM_LOCALID=${localRank} must be less than the tasks per node (${localWorldSize})`);
  }
  let masterAddr = (env.MASTER_ADDR ?? '').trim();
  if (!masterAddr) {
    const listVar = ['SLURM_STEP_NODELIST', 'SLURM_JOB_NODELIST', 'SLURM_NODELIST'].find((k) => present(env, k));
    if (!listVar) {
      if (worldSize > 1) {
        throw xtError('XT_INVALID', 'MASTER_ADDR is not set and Slurm gave no node list (SLURM_JOB_NODELIST): set MASTER_ADDR to the host of task 0');
      }
      masterAddr = '127.0.0.1';
    } else {
      const hosts = parseHostList(env[listVar] as string);
      if (!hosts.length) throw xtError('XT_INVALID', `${listVar} is empty: set MASTER_ADDR`);
      masterAddr = hosts[0];
    }
  }
  let dfltPort = DEFAULT_MASTER_PORT;
  if (present(env, 'SLURM_JOB_ID') && /^\d+$/.test((env.SLURM_JOB_ID as string).trim())) {
    dfltPort = 15000 + (Number(env.SLURM_JOB_ID) % 20000);
  }
  return {
    worldSize,
    rank,
    localRank,
    localWorldSize,
    masterAddr,
    masterPort: masterPortFrom(env, dfltPort),
    source: 'slurm',
    ...(nodeRank !== undefined ? { nodeRank } : {}),
  };
}

/** Read the distributed settings of this process from `env` (default: process.env). */
export function readDistEnv(env: Env = process.env): DistEnv {
  if (present(env, 'WORLD_SIZE') || present(env, 'RANK')) return fromTorchrun(env);
  if (inSlurmStep(env)) return fromSlurm(env);
  return {
    worldSize: 1,
    rank: 0,
    localRank: 0,
    localWorldSize: 1,
    masterAddr: (env.MASTER_ADDR ?? '').trim() || '127.0.0.1',
    masterPort: masterPortFrom(env, DEFAULT_MASTER_PORT),
    source: 'single',
  };
}

/** One line for logs: "rank 1 of 8 (local 1 of 4, node 0) via slurm, rendezvous gpu01:29500". */
export function describeDistEnv(d: DistEnv): string {
  const node = d.nodeRank !== undefined ? `, node ${d.nodeRank}` : '';
  return `rank ${d.rank} of ${d.worldSize} (local ${d.localRank} of ${d.localWorldSize}${node}) via ${d.source}, ` +
    `rendezvous ${d.masterAddr}:${d.masterPort}`;
}
