/** Small helpers shared by the benchmarks (no `bench` export: bench/run.ts skips this module). */
import * as os from 'os';
import type { BenchModule, BenchResult } from './types';
import { speedRatio } from './types';
import { mulberry32 } from '../lib/eval/metrics';

/** Median of a list of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Deterministic pseudo-normal values (already "normalised" CLIP input when used as pixels); Float32Array
 * unless another float array type is given. */
export function pseudoNormal(n: number, seed: number): Float32Array;
export function pseudoNormal<T extends Float32Array | Float64Array>(n: number, seed: number, type: { new (n: number): T }): T;
export function pseudoNormal(n: number, seed: number, type: { new (n: number): Float32Array | Float64Array } = Float32Array): Float32Array | Float64Array {
  const out = new type(n);
  const rnd = mulberry32(seed);
  for (let i = 0; i < n; i++) out[i] = (rnd() + rnd() + rnd() - 1.5) * 2;
  return out;
}

function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${os.cpus().length} cores (${cpu.trim()}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}, Node ${process.version}`;
}

/** One benchmark's result as a RESULTS.md section (table, command, date, machine, notes). */
export function formatResult(r: BenchResult, command: string): string {
  const lines = [`### ${r.title}`, '', `- command: \`${command}\``, `- date: ${new Date().toISOString()}`, `- machine: ${machine()}`];
  if (r.baseline) lines.push(`- baseline: ${r.baseline}`);
  lines.push('', '| metric | ours | baseline | unit | speed ratio | target |', '|---|---|---|---|---|---|');
  for (const row of r.rows) {
    const ratio = speedRatio(row);
    lines.push(`| ${row.metric} | ${row.ours} | ${row.baseline ?? '—'} | ${row.unit} | ${ratio ? ratio.toFixed(2) + '×' : '—'} | ${row.target ? '≥ ' + row.target + '×' : '—'} |`);
  }
  for (const n of r.notes ?? []) lines.push('', n);
  return lines.join('\n') + '\n';
}

/**
 * `node dist/bench/<name>.js`: runs one benchmark on its own and prints its section (not recorded;
 * `npm run bench -- <name>` records). A failure prints the stack and exits 1.
 */
export function runStandalone(bench: BenchModule): void {
  bench
    .run()
    .then((r) => process.stdout.write(formatResult(r, `node dist/bench/${bench.name}.js`) + '\n'))
    .catch((e) => {
      process.stderr.write(`${bench.name} bench: ${(e as Error).stack ?? e}\n`);
      process.exit(1);
    });
}
