/**
 * Worker of bench/dist.ts (started by the launcher with torchrun's variables): times collectives
 * in native code and prints one `RESULT {json}` line. Does nothing when merely required.
 */
import { initDistributed, distNative } from '../lib/distributed';
// benchCollective is a hook of the testing addon (binding/testing/distributed_hooks.cc)
import { hooks } from '../test/helpers/native-testing';

export interface DistBenchPlan {
  allreduceBytes: number;
  gatherBytes: number;
  reducerBytes: number;
  bucketBytes: number;
  iters: number;
}

async function main(): Promise<void> {
  const plan = JSON.parse(process.argv[2] ?? '{}') as DistBenchPlan;
  const { info } = await initDistributed({ backend: 'gloo', timeoutSec: 60 });
  const d = hooks();
  const allreduce = await d.benchCollective({ kind: 'allreduce', bytes: plan.allreduceBytes, iters: plan.iters });
  const allgather = await d.benchCollective({ kind: 'allgather', bytes: plan.gatherBytes, iters: plan.iters });
  const reducer = await d.benchCollective({
    kind: 'reducer', bytes: plan.reducerBytes, iters: Math.max(1, Math.floor(plan.iters / 2)),
    bucketBytes: plan.bucketBytes, firstBucketBytes: plan.bucketBytes,
  });
  process.stdout.write(`RESULT ${JSON.stringify({
    rank: info.rank, allreduce: allreduce.secondsPerIter, allgather: allgather.secondsPerIter,
    reducer: reducer.secondsPerIter, buckets: reducer.buckets,
  })}\n`);
  await distNative().shutdown();
}

if (require.main === module) {
  main().catch((e: Error) => {
    process.stderr.write(`dist bench worker: ${e.message}\n`);
    process.exit(1);
  });
}
