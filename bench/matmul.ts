/** Foundation benchmark: fp32 GEMM throughput through the addon (checks that OpenBLAS and threads are used). */
import { native } from '../lib/native';
import type { BenchModule, BenchResult } from './types';

export const bench: BenchModule = {
  name: 'matmul',
  async run(): Promise<BenchResult> {
    const n = native();
    const threads = n.runtimeInfo().intraOpThreads;
    const rows = [];
    for (const size of [256, 1024, 2048]) {
      const iters = size >= 2048 ? 5 : size >= 1024 ? 30 : 400;
      const r = await n.benchMatmul(size, iters);
      rows.push({ metric: `fp32 matmul ${size}², ${threads} threads`, ours: Math.round(r.gflops * 10) / 10, unit: 'GFLOP/s', higherIsBetter: true });
    }
    n.setThreads(1);
    const one = await n.benchMatmul(1024, 20);
    n.setThreads(threads);
    rows.push({ metric: 'fp32 matmul 1024², 1 thread', ours: Math.round(one.gflops * 10) / 10, unit: 'GFLOP/s', higherIsBetter: true });
    return { title: 'BLAS through the addon (doctor\'s figure)', rows };
  },
};
