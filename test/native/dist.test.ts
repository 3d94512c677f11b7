/**
 * The distributed layer on real processes: 2 Gloo workers on loopback, started through the
 * `--nproc` launcher (test/helpers/dist-worker.ts), compared with one process at the global batch.
 * Every child run is bounded by a hard timeout; ports are free ports picked at run time.
 */
import { strict as assert } from 'assert';
import { spawn } from 'child_process';
import * as path from 'path';
import { native } from '../../lib/native';
import type { DistNative } from '../../lib/native';
import { freePort } from '../../lib/distributed/launcher';
import { hooks } from '../helpers/native-testing';
import {
  STEP, stepBatch, REDUCER_SHAPES, reducerCoeffs, reducerUnused, REDUCER_BUCKETS,
} from '../helpers/dist-data';

const WORKER = path.join(__dirname, '..', 'helpers', 'dist-worker.js');

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  timedOut: boolean;
}

/** Run the worker script (as launcher) with a hard timeout; `onLine` sees stdout lines as they come. */
function runWorker(args: string[], timeoutMs: number, onLine?: (line: string, child: ReturnType<typeof spawn>) => void): Promise<Run> {
  return new Promise((resolve) => {
    const env = { ...process.env };
    for (const k of ['WORLD_SIZE', 'RANK', 'LOCAL_RANK', 'LOCAL_WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT']) delete env[k];
    env.XRAY_TORCH_THREADS = '1';
    const t0 = Date.now();
    const child = spawn(process.execPath, [WORKER, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let pending = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
      pending += b.toString();
      let i: number;
      while ((i = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, i);
        pending = pending.slice(i + 1);
        onLine?.(line, child);
      }
    });
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0, timedOut });
    });
  });
}

/** The `[rank r] RESULT {...}` lines, by rank. */
function results(run: Run): Record<number, any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const out: Record<number, unknown> = {};
  for (const line of run.stdout.split('\n')) {
    const m = /^\[rank (\d+)\] RESULT (.*)$/.exec(line);
    if (m) out[Number(m[1])] = JSON.parse(m[2]);
  }
  return out;
}

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    assert.ok(err <= tol * (1 + Math.abs(want[i])), `${what}[${i}]: got ${got[i]}, want ${want[i]} (|diff| ${err})`);
  }
}

describe('dist (c10d Gloo, 2 processes on loopback)', function () {
  this.timeout(120000);
  let d: DistNative['dist'];

  before(function () {
    const a = native() as Partial<DistNative> & { modules: string[] };
    if (!a.dist || !a.dist.info().glooCompiled) {
      // eslint-disable-next-line no-console
      console.warn(`    skipped: the addon has no Gloo distributed module (modules: ${a.modules.join(', ')})`);
      this.skip();
    }
    d = a.dist;
  });

  it('all-gather with grad + mean-reduced gradients over 2 ranks equal one process at the global batch', async () => {
    const run = await runWorker(['--nproc', '2', 'step'], 90000);
    assert.equal(run.timedOut, false, 'the launcher did not finish in time');
    assert.equal(run.code, 0, `launcher failed:\n${run.stderr}`);
    const r = results(run);
    assert.ok(r[0] && r[1], `both ranks report:\n${run.stdout}\n${run.stderr}`);

    // One process (no group: the gather is the identity) on the whole global batch.
    const { x, t, wi, wt } = stepBatch();
    const ref = await hooks().distContrastiveStep({
      x, t, rows: STEP.global, inDim: STEP.inDim, wi, wt, outDim: STEP.outDim, logitScale: STEP.logitScale,
    });
    assert.ok(ref.loss > 0 && Number.isFinite(ref.loss));
    for (const rank of [0, 1]) {
      assert.equal(r[rank].info.backend, 'gloo');
      assert.equal(r[rank].info.worldSize, 2);
      for (const variant of ['overlapped', 'after']) {
        const got = r[rank][variant];
        const what = `rank ${rank} ${variant}`;
        // Forward: the gathered embeddings are the global batch's, rank 0's rows first.
        assert.deepEqual(got.gathered.shape, [STEP.global, STEP.outDim]);
        assertClose(got.gathered.data, ref.gathered.data, 1e-6, `${what} gathered`);
        assertClose([got.loss], [ref.loss], 1e-6, `${what} loss`);
        // Backward: parameter gradients equal the single-process ones at batch 2b.
        assertClose(got.gradWi.data, ref.gradWi.data, 2e-5, `${what} gradWi`);
        assertClose(got.gradWt.data, ref.gradWt.data, 2e-5, `${what} gradWt`);
        assertClose([got.gradLogitScale], [ref.gradLogitScale], 2e-5, `${what} gradLogitScale`);
      }
      // With Prepare() the (single) bucket went out from the grad hooks during backward.
      assert.equal(r[rank].overlapped.stats.launchedInBackward, r[rank].overlapped.stats.buckets);
      assert.equal(r[rank].after.stats.launchedInBackward, 0);
      assert.equal(r[rank].after.stats.launchedInFinish, r[rank].after.stats.buckets);
    }
    // The gradient is not trivially shared: a rank's own rows matter (sanity of the fixture).
    assert.ok(Math.abs(ref.gradLogitScale) > 1e-4);
  });

  it('the gradient reducer (sum, 5 buckets, unused parameters) gives the sum of the per-rank gradients', async () => {
    const run = await runWorker(['--nproc', '2', 'reducer'], 90000);
    assert.equal(run.timedOut, false);
    assert.equal(run.code, 0, `launcher failed:\n${run.stderr}`);
    const r = results(run);
    const c0 = reducerCoeffs(0);
    const c1 = reducerCoeffs(1);
    const unused0 = reducerUnused(0);
    const unused1 = reducerUnused(1);
    for (const rank of [0, 1]) {
      const grads = r[rank].grads as ({ data: number[]; shape: number[] } | null)[];
      assert.equal(grads.length, REDUCER_SHAPES.length);
      let off = 0;
      REDUCER_SHAPES.forEach((shape, i) => {
        const n = shape.reduce((a, b) => a * b, 1);
        const inUse0 = !unused0.includes(i);
        const inUse1 = !unused1.includes(i);
        if (!inUse0 && !inUse1) {
          assert.equal(grads[i], null, `param ${i}: no rank had a gradient, so it stays undefined`);
        } else {
          const want = Array.from({ length: n }, (_, k) => (inUse0 ? c0[off + k] : 0) + (inUse1 ? c1[off + k] : 0));
          assert.deepEqual(grads[i]!.shape, shape);
          assertClose(grads[i]!.data, want, 1e-6, `rank ${rank} param ${i}`);
        }
        off += n;
      });
      const st = r[rank].stats;
      assert.equal(st.buckets, REDUCER_BUCKETS.count);
      assert.equal(st.unusedParams, 1);
      assert.equal(st.launchedInBackward + st.launchedInFinish, REDUCER_BUCKETS.count);
      assert.equal(st.replayed, false);
      // Buckets [p5] [p4,p3] [p2] [p1] [p0]: rank 0 lacks p3, so only [p5] leaves during backward;
      // rank 1 sends 4 buckets during backward, [p0] (unused everywhere) after.
      assert.equal(st.launchedInBackward, rank === 0 ? 1 : 4);
      // Plain collectives in the same run.
      assert.deepEqual(r[rank].gathered, [1, 2, 11, 12]);
      assert.deepEqual(r[rank].mean, [1.5, 5]);
    }
  });

  it('rendezvous fails with a clear XT_IO error, in bounded time, when the second rank never comes', async () => {
    const port = await freePort();
    const t0 = Date.now();
    await assert.rejects(
      d.init({ masterAddr: '127.0.0.1', masterPort: port, worldSize: 2, rank: 0, backend: 'gloo', timeoutSec: 2 }),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'XT_IO');
        assert.match(e.message, new RegExp(`rank 1 of 2 did not join 127\\.0\\.0\\.1:${port} within 2 s`));
        return true;
      },
    );
    const ms = Date.now() - t0;
    assert.ok(ms >= 1900 && ms < 15000, `took ${ms} ms`);
    assert.equal(d.info().initialized, false);

    // A non-zero rank whose rank 0 never comes: it cannot reach the store.
    const port2 = await freePort();
    await assert.rejects(
      d.init({ masterAddr: '127.0.0.1', masterPort: port2, worldSize: 2, rank: 1, backend: 'gloo', timeoutSec: 2 }),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'XT_IO');
        assert.match(e.message, new RegExp(`rank 1 of 2 could not reach the rendezvous at 127\\.0\\.0\\.1:${port2} within 2 s`));
        return true;
      },
    );
    assert.equal(d.info().initialized, false);
  });

  it('bad settings are rejected before any network wait', async () => {
    await assert.rejects(d.init({ worldSize: 2, rank: 2 }), /rank must be in 0\.\.1/);
    await assert.rejects(d.init({ worldSize: 2, rank: 0, backend: 'nccl' as const }), (e: Error & { code?: string }) =>
      e.code === 'XT_INVALID' && /nccl/.test(e.message));
    await assert.rejects(d.init({ worldSize: 2, rank: 0, backend: 'mpi' as never }), /backend must be/);
  });

  it('a killed worker makes the launcher stop the other and exit non-zero, naming the rank and signal', async () => {
    const run = await runWorker(['--nproc', '2', 'die'], 60000);
    assert.equal(run.timedOut, false, 'the launcher hung');
    assert.equal(run.code, 128 + 9, `exit code ${run.code}\n${run.stderr}`);
    assert.match(run.stderr, /worker rank 1 \(pid \d+\) was killed by SIGKILL; stopping the other 1 worker/);
    assert.match(run.stderr, /the job failed: worker rank 1 was killed by SIGKILL \(launcher exit code 137\)/);
    assert.equal((run.stdout.match(/READY/g) ?? []).length, 2);
    assert.ok(run.ms < 30000, `took ${run.ms} ms`);
  });

  it('a worker exiting with code 3 makes the launcher exit 3', async () => {
    const run = await runWorker(['--nproc', '2', 'exit3'], 60000);
    assert.equal(run.timedOut, false, 'the launcher hung');
    assert.equal(run.code, 3, run.stderr);
    assert.match(run.stderr, /worker rank 1 \(pid \d+\) exited with code 3/);
  });

  it("a collective fails (XT_IO), it does not hang, when the peer has left", async () => {
    const run = await runWorker(['--nproc', '2', 'peergone'], 60000);
    assert.equal(run.timedOut, false, 'hung');
    assert.equal(run.code, 0, run.stderr);
    const r0 = results(run)[0];
    assert.equal(r0.failed, true, JSON.stringify(r0));
    assert.equal(r0.code, 'XT_IO');
    assert.match(r0.message, /failed on rank 0 of 2: .*another rank may have exited/);
    assert.ok(r0.ms < 20000, `took ${r0.ms} ms`);
  });

  it('SIGTERM to the launcher reaches the workers and the launcher exits 143', async () => {
    let ready = 0;
    const run = await runWorker(['--nproc', '2', 'hang'], 60000, (line, child) => {
      if (/READY$/.test(line) && ++ready === 2) child.kill('SIGTERM');
    });
    assert.equal(run.timedOut, false, 'the launcher hung');
    assert.equal(ready, 2);
    assert.equal(run.code, 143, run.stderr);
    assert.match(run.stderr, /received SIGTERM; stopping 2 worker/);
  });
});
