/**
 * `npm run bench [-- name…] [-- --no-record]`: runs the benchmarks in bench/ (every compiled
 * module exporting `bench: BenchModule`) and appends a dated section per run to bench/RESULTS.md.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { BenchModule } from './types';
import { formatResult } from './util';

const srcDir = path.resolve(__dirname, '..', '..', 'bench');

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const record = !args.includes('--no-record');
  const wanted = args.filter((a) => !a.startsWith('--'));
  const mods: BenchModule[] = [];
  for (const f of fs.readdirSync(__dirname).filter((f) => f.endsWith('.js') && !['run.js', 'types.js', 'util.js'].includes(f)).sort()) {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const m = require(path.join(__dirname, f)) as { bench?: BenchModule };
    if (m.bench && (!wanted.length || wanted.includes(m.bench.name))) mods.push(m.bench);
  }
  if (!mods.length) throw new Error(`no benchmark matches ${wanted.join(', ')}`);
  for (const m of mods) {
    process.stderr.write(`[bench] ${m.name}…\n`);
    const r = await m.run();
    const text = formatResult(r, `npm run bench -- ${m.name}`);
    process.stdout.write(text + '\n');
    if (record) fs.appendFileSync(path.join(srcDir, 'RESULTS.md'), '\n' + text);
  }
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`bench: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
