/**
 * A distributed worker for test/native/dist.test.ts, started the way `xray-torch train` is:
 *   node dist/test/helpers/dist-worker.js --nproc 2 <mode>
 * acts as the launcher (maybeLaunch) and re-runs itself without --nproc as 2 workers, which read
 * torchrun's variables, join the Gloo group and run <mode>. Each worker prints one line
 * `RESULT <json>` (the launcher prefixes it with `[rank r]`).
 * Modes: step | reducer | die (rank 1 SIGKILLs itself) | exit3 (rank 1 exits 3) | peergone | hang.
 */
import { maybeLaunch } from '../../lib/distributed/launcher';
import { initDistributed, distNative } from '../../lib/distributed';
import { hooks } from './native-testing';
import {
  STEP, stepBatch, rowsOf, REDUCER_SHAPES, reducerCoeffs, reducerUnused, REDUCER_BUCKETS,
} from './dist-data';

async function worker(mode: string): Promise<void> {
  const { info } = await initDistributed({ backend: 'gloo', timeoutSec: 30 });
  const d = distNative();
  const { rank, worldSize } = info;
  const print = (o: unknown) => process.stdout.write(`RESULT ${JSON.stringify(o)}\n`);
  const plain = (t: { data: ArrayLike<number>; shape: number[] } | null) =>
    t ? { data: Array.from(t.data), shape: t.shape } : null;

  if (mode === 'step') {
    const { x, t, wi, wt } = stepBatch();
    const rows = STEP.global / worldSize;
    const common = {
      x: rowsOf(x, rank, worldSize, STEP.inDim),
      t: rowsOf(t, rank, worldSize, STEP.inDim),
      rows, inDim: STEP.inDim, wi, wt, outDim: STEP.outDim, logitScale: STEP.logitScale,
    };
    const overlapped = await hooks().distContrastiveStep({ ...common, op: 'mean' });
    const after = await hooks().distContrastiveStep({ ...common, op: 'mean', prepare: false });
    const out = (r: typeof overlapped) => ({
      loss: r.loss, gathered: plain(r.gathered), gradWi: plain(r.gradWi), gradWt: plain(r.gradWt),
      gradLogitScale: r.gradLogitScale, stats: r.stats,
    });
    print({ rank, info, overlapped: out(overlapped), after: out(after) });
  } else if (mode === 'reducer') {
    const r = await hooks().distReducer({
      shapes: REDUCER_SHAPES, coeffs: reducerCoeffs(rank), unused: reducerUnused(rank), op: 'sum',
      bucketBytes: REDUCER_BUCKETS.bucketBytes, firstBucketBytes: REDUCER_BUCKETS.firstBucketBytes,
    });
    const gathered = await d.allGather(new BigInt64Array([BigInt(rank * 10 + 1), BigInt(rank * 10 + 2)]), [2]);
    const mean = await d.allReduce([rank + 1, 10 * rank], 'mean');
    print({ rank, grads: r.grads.map(plain), stats: r.stats, gathered: Array.from(gathered.data, Number), mean: Array.from(mean) });
  } else if (mode === 'die' || mode === 'exit3') {
    await d.barrier();
    process.stdout.write('READY\n');
    if (rank === 1) {
      if (mode === 'die') process.kill(process.pid, 'SIGKILL');
      else process.exit(3);
    }
    // Rank 0 idles: only the launcher can end it.
    await new Promise(() => setInterval(() => undefined, 1000));
  } else if (mode === 'peergone') {
    // Rank 1 leaves (exit 0) right after a barrier; rank 0's next collective must fail, not hang.
    await d.barrier();
    if (rank === 1) process.exit(0);
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, 300));
    try {
      await d.barrier();
      await d.allReduce([1]);
      print({ rank, failed: false, ms: Date.now() - t0 });
    } catch (e) {
      const err = e as Error & { code?: string };
      print({ rank, failed: true, code: err.code, message: err.message, ms: Date.now() - t0 });
    }
    process.exit(0);
  } else if (mode === 'hang') {
    await d.barrier();
    process.stdout.write('READY\n');
    await new Promise(() => setInterval(() => undefined, 1000));
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  await d.shutdown();
}

async function main(): Promise<void> {
  if (await maybeLaunch(process.argv.slice(2))) return;
  await worker(process.argv[2] ?? '');
}

main().catch((e: Error & { code?: string }) => {
  process.stderr.write(`worker error [${e.code ?? ''}]: ${e.message}\n`);
  process.exit(1);
});
