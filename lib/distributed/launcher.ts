/**
 * The local launcher behind `xray-torch train --nproc N …`: starts N worker processes of the same
 * command (without --nproc) on this machine with torchrun's variables set (MASTER_ADDR=127.0.0.1,
 * a free MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK, LOCAL_WORLD_SIZE), prefixes their output
 * lines with `[rank r]`, forwards SIGINT/SIGTERM, and when any worker fails (non-zero exit or a
 * signal) stops the others (SIGTERM, then SIGKILL after a grace period) and exits non-zero with a
 * message naming the rank and its exit code or signal.
 *
 * Workers run in their own process group, so a Ctrl-C in the terminal reaches the launcher only and
 * each worker gets exactly one forwarded SIGINT (the train CLI treats a second one as "abort without
 * saving"). Should the launcher itself die (SIGKILL), workers notice through `watchLauncher()` and
 * stop (SIGTERM to themselves: save and exit).
 */
import { spawn, ChildProcess } from 'child_process';
import * as net from 'net';
import * as os from 'os';
import * as readline from 'readline';
import { xtError } from '../errors';

export interface LaunchOptions {
  /** Number of worker processes (>= 1). */
  nproc: number;
  /** Executable of every worker (default: this Node binary). */
  command?: string;
  /** Arguments of every worker. */
  args: string[];
  /** Base environment (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Rendezvous port (default: MASTER_PORT from env, else a free port on 127.0.0.1). */
  masterPort?: number;
  /** After a failure or a forwarded signal: SIGKILL whatever still runs after this (default 5000 ms). */
  graceMs?: number;
  /** Where prefixed output goes (default: process.stdout / process.stderr). */
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  /** Forward SIGINT/SIGTERM received by this process to the workers (default true). */
  forwardSignals?: boolean;
}

export interface WorkerExit {
  rank: number;
  pid: number | undefined;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Spawn error, if the worker could not start. */
  error?: string;
}

export interface LaunchResult {
  /** 0 when every worker exited 0; else the failed worker's code (128 + signal number for a signal). */
  exitCode: number;
  workers: WorkerExit[];
  /** The first failure, when there was one. */
  failed?: WorkerExit;
  /** The signal this launcher received and forwarded, when it did. */
  interrupted?: NodeJS.Signals;
  /** The clear one-line explanation written to stderr on failure. */
  message?: string;
}

/** A TCP port that is free on 127.0.0.1 right now. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

/**
 * Split `--nproc N` / `--nproc=N` out of an argument list. `nproc` is undefined when absent;
 * a bad value raises XT_INVALID.
 */
export function extractNproc(argv: string[]): { nproc?: number; rest: string[] } {
  const rest: string[] = [];
  let nproc: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    let value: string | undefined;
    if (a === '--nproc') {
      value = argv[i + 1];
      if (value === undefined) throw xtError('XT_INVALID', '--nproc needs a value: the number of worker processes');
      i++;
    } else if (a.startsWith('--nproc=')) {
      value = a.slice('--nproc='.length);
    } else {
      rest.push(a);
      continue;
    }
    if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 1024) {
      throw xtError('XT_INVALID', `--nproc must be an integer from 1 to 1024, got ${JSON.stringify(value)}`);
    }
    nproc = Number(value);
  }
  return { nproc, rest };
}

function signalNumber(sig: NodeJS.Signals): number {
  return (os.constants.signals as Record<string, number>)[sig] ?? 1;
}

function describeExit(w: WorkerExit): string {
  if (w.error) return `could not start: ${w.error}`;
  if (w.signal) return `was killed by ${w.signal}`;
  return `exited with code ${w.code}`;
}

function pipeLines(stream: NodeJS.ReadableStream | null, prefix: string, out: NodeJS.WritableStream): Promise<void> {
  if (!stream) return Promise.resolve();
  return new Promise((resolve) => {
    const rl = readline.createInterface({ input: stream, crlfDelay: Infinity });
    rl.on('line', (line) => out.write(`${prefix}${line}\n`));
    rl.on('close', () => resolve());
    stream.on('error', () => resolve());
  });
}

/** Run N workers to completion (see the module comment). Never rejects for a worker failure. */
export async function launch(opts: LaunchOptions): Promise<LaunchResult> {
  const n = opts.nproc;
  if (!Number.isInteger(n) || n < 1) throw xtError('XT_INVALID', `nproc must be a positive integer, got ${n}`);
  const baseEnv = opts.env ?? process.env;
  const out = opts.stdout ?? process.stdout;
  const err = opts.stderr ?? process.stderr;
  const grace = opts.graceMs ?? 5000;
  let port = opts.masterPort;
  if (port === undefined && baseEnv.MASTER_PORT && /^\d+$/.test(baseEnv.MASTER_PORT)) port = Number(baseEnv.MASTER_PORT);
  if (port === undefined) port = await freePort();
  const threads = Math.max(1, Math.floor((os.cpus().length || 1) / n));
  const command = opts.command ?? process.execPath;

  const children: (ChildProcess | undefined)[] = [];
  const exits: (WorkerExit | undefined)[] = new Array(n).fill(undefined);
  const drains: Promise<void>[] = [];
  let failed: WorkerExit | undefined;
  let interrupted: NodeJS.Signals | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  let message: string | undefined;

  const alive = () => children.filter((c, r) => c && !exits[r]) as ChildProcess[];
  const stopOthers = () => {
    for (const c of alive()) c.kill('SIGTERM');
    if (!killTimer) {
      killTimer = setTimeout(() => {
        for (const c of alive()) c.kill('SIGKILL');
      }, grace);
      killTimer.unref();
    }
  };

  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((r) => (resolveDone = r));
  const onExit = (w: WorkerExit) => {
    if (exits[w.rank]) return;
    exits[w.rank] = w;
    const bad = w.error !== undefined || w.signal !== null || w.code !== 0;
    if (bad && !failed && !interrupted) {
      failed = w;
      const others = alive().length;
      message = `xray-torch: worker rank ${w.rank}${w.pid ? ` (pid ${w.pid})` : ''} ${describeExit(w)}` +
        (others ? `; stopping the other ${others} worker${others === 1 ? '' : 's'}` : '');
      err.write(`${message}\n`);
      stopOthers();
    }
    if (exits.every((e) => e)) resolveDone();
  };

  const forward = (sig: NodeJS.Signals) => {
    if (!interrupted) {
      interrupted = sig;
      err.write(`xray-torch: received ${sig}; stopping ${alive().length} worker(s)\n`);
    }
    for (const c of alive()) c.kill(sig);
    if (!killTimer) {
      killTimer = setTimeout(() => {
        for (const c of alive()) c.kill('SIGKILL');
      }, grace);
      killTimer.unref();
    }
  };
  const onSigint = () => forward('SIGINT');
  const onSigterm = () => forward('SIGTERM');
  const onSighup = () => forward('SIGHUP');
  if (opts.forwardSignals !== false) {
    process.on('SIGINT', onSigint);
    process.on('SIGTERM', onSigterm);
    process.on('SIGHUP', onSighup);
  }

  try {
    for (let r = 0; r < n; r++) {
      const env: NodeJS.ProcessEnv = {
        ...baseEnv,
        MASTER_ADDR: '127.0.0.1',
        MASTER_PORT: String(port),
        WORLD_SIZE: String(n),
        RANK: String(r),
        LOCAL_RANK: String(r),
        LOCAL_WORLD_SIZE: String(n),
        GROUP_RANK: '0',
        XRAY_TORCH_LAUNCHER_PID: String(process.pid),
      };
      // Share the cores instead of oversubscribing them (torchrun sets OMP_NUM_THREADS likewise).
      if (!baseEnv.XRAY_TORCH_THREADS) env.XRAY_TORCH_THREADS = String(threads);
      if (!baseEnv.OMP_NUM_THREADS) env.OMP_NUM_THREADS = String(threads);
      let child: ChildProcess;
      try {
        // detached: a process group of its own (see the module comment); still waited for.
        child = spawn(command, opts.args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      } catch (e) {
        onExit({ rank: r, pid: undefined, code: null, signal: null, error: (e as Error).message });
        continue;
      }
      children[r] = child;
      const prefix = `[rank ${r}] `;
      drains.push(pipeLines(child.stdout, prefix, out), pipeLines(child.stderr, prefix, err));
      child.once('error', (e) => onExit({ rank: r, pid: child.pid, code: null, signal: null, error: e.message }));
      child.once('exit', (code, signal) => onExit({ rank: r, pid: child.pid, code, signal }));
      if (failed || interrupted) break;
    }
    // Ranks never started (a spawn failed midway) count as exited.
    for (let r = 0; r < n; r++) {
      if (!children[r] && !exits[r]) exits[r] = { rank: r, pid: undefined, code: null, signal: 'SIGTERM', error: 'not started' };
    }
    if (exits.every((e) => e)) resolveDone();
    await done;
    // Let the output pipes drain (bounded: a grandchild may hold them open).
    await Promise.race([Promise.all(drains), new Promise((r) => setTimeout(r, 2000).unref())]);
  } finally {
    if (killTimer) clearTimeout(killTimer);
    process.removeListener('SIGINT', onSigint);
    process.removeListener('SIGTERM', onSigterm);
    process.removeListener('SIGHUP', onSighup);
  }

  const workers = exits as WorkerExit[];
  let exitCode = 0;
  if (failed) {
    exitCode = failed.signal ? 128 + signalNumber(failed.signal) : failed.code && failed.code > 0 ? failed.code : 1;
    message = `xray-torch: the job failed: worker rank ${failed.rank} ${describeExit(failed)} (launcher exit code ${exitCode})`;
    err.write(`${message}\n`);
  } else if (interrupted) {
    exitCode = 128 + signalNumber(interrupted);
    message = `xray-torch: stopped by ${interrupted}`;
  }
  return { exitCode, workers, failed, interrupted, message };
}

/**
 * For the train CLI: when `argv` (the arguments after the program, e.g. process.argv.slice(2))
 * holds `--nproc N`, act as the launcher: run N copies of this same command without --nproc,
 * set process.exitCode, and resolve true (the caller should then return / exit with that code).
 * Resolves false when there is no --nproc (this process is a worker or a single process).
 */
export async function maybeLaunch(argv: string[] = process.argv.slice(2)): Promise<boolean> {
  const { nproc, rest } = extractNproc(argv);
  if (nproc === undefined) return false;
  if (process.env.WORLD_SIZE || process.env.RANK) {
    throw xtError('XT_INVALID', `--nproc starts local workers itself, but this process already has RANK/WORLD_SIZE ` +
      `(RANK=${process.env.RANK ?? ''}, WORLD_SIZE=${process.env.WORLD_SIZE ?? ''}) from a launcher: drop --nproc`);
  }
  const script = process.argv[1];
  if (!script) throw xtError('XT_INTERNAL', 'maybeLaunch: cannot tell which script to run (process.argv[1] is empty)');
  const result = await launch({ nproc, args: [...process.execArgv, script, ...rest] });
  process.exitCode = result.exitCode;
  return true;
}

/**
 * In a worker started by `launch()` (XRAY_TORCH_LAUNCHER_PID set): poll the parent process; when the
 * launcher is gone (this process was re-parented), send SIGTERM to this process once (the train CLI
 * then finishes the step, saves and exits) and exit 143 if it is still alive `graceMs` later.
 * Returns a function that stops watching; a no-op outside a launched worker.
 */
export function watchLauncher(env: NodeJS.ProcessEnv = process.env, intervalMs = 1000, graceMs = 60000): () => void {
  const pid = Number(env.XRAY_TORCH_LAUNCHER_PID);
  if (!Number.isInteger(pid) || pid <= 0 || process.ppid !== pid) return () => undefined;
  const timer = setInterval(() => {
    if (process.ppid === pid) return;
    clearInterval(timer);
    process.stderr.write(`xray-torch: the launcher (pid ${pid}) is gone; stopping this worker\n`);
    setTimeout(() => process.exit(143), graceMs).unref();
    process.kill(process.pid, 'SIGTERM');
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
