/**
 * Tokenizer speed, side by side in one run: our ClipTokenizer against OpenAI's simple_tokenizer
 * algorithm in Python (bench/python/simple_tokenizer_bench.py) on every Open-I report text (all
 * non-empty COMPARISON / INDICATION / FINDINGS / IMPRESSION sections of the 3,955 reports), with an
 * exact comparison of the ids. Python runs with ftfy when it can import it (as OpenAI's code does),
 * and always once without (a stricter baseline).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ClipTokenizer } from '../lib/text/clip-tokenizer';
import { parseOpenIXml } from '../lib/text/reports';
import { readTarFile } from '../lib/util/tar';
import { sharedPath } from '../test/helpers/shared';
import type { BenchModule, BenchResult, BenchRow } from './types';

interface PyResult {
  ftfy: boolean;
  texts: number;
  tokens: number;
  load_s: number;
  cold_s: number;
  warm_s: number;
  tokenize77_s: number;
  cold_cpu_s: number;
  warm_cpu_s: number;
  tokenize77_cpu_s: number;
  python: string;
  error?: string;
}

function openITexts(): string[] {
  const texts: string[] = [];
  for (const e of readTarFile(sharedPath('data', 'openi', 'NLMCXR_reports.tgz'))) {
    if (!e.name.endsWith('.xml')) continue;
    const r = parseOpenIXml(e.data.toString('utf8'));
    for (const name of r.order) texts.push(r.sections[name]);
  }
  return texts;
}

function runPython(bpe: string, textsFile: string, idsOut: string, ftfy: boolean): PyResult | undefined {
  const script = path.resolve(__dirname, '..', '..', 'bench', 'python', 'simple_tokenizer_bench.py');
  const args = [script, '--bpe', bpe, '--texts', textsFile, '--ids-out', idsOut, '--repeat', '3'];
  if (!ftfy) args.push('--no-ftfy');
  const r = spawnSync('/usr/bin/python3', args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  const last = (r.stdout || '').trim().split('\n').pop() || '{}';
  const res = JSON.parse(last) as PyResult;
  if (r.status !== 0 || res.error) {
    if (ftfy) return undefined;
    throw new Error(`python baseline failed (${r.status}): ${res.error ?? r.stderr}`);
  }
  return res;
}

/** Wall-clock and process CPU seconds of f (CPU covers all of Node's threads, GC included). */
function timed(f: () => void): { wall: number; cpu: number } {
  const c = process.cpuUsage();
  const t = process.hrtime.bigint();
  f();
  const wall = Number(process.hrtime.bigint() - t) / 1e9;
  const u = process.cpuUsage(c);
  return { wall, cpu: (u.user + u.system) / 1e6 };
}

export const bench: BenchModule = {
  name: 'tokenizer',
  async run(): Promise<BenchResult> {
    const bpe = sharedPath('clip', 'bpe_simple_vocab_16e6.txt.gz');
    const texts = openITexts();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xt-tokbench-'));
    const textsFile = path.join(dir, 'texts.jsonl');
    fs.writeFileSync(textsFile, texts.map((t) => JSON.stringify(t)).join('\n') + '\n');

    // Python first (both variants), then ours, all in this one run.
    const pyIds = path.join(dir, 'ids.jsonl');
    const pyFtfy = runPython(bpe, textsFile, pyIds + '.ftfy', true);
    const pyPlain = runPython(bpe, textsFile, pyIds, false) as PyResult;

    let tok!: ClipTokenizer;
    const load = timed(() => {
      tok = ClipTokenizer.fromFile(bpe);
    });
    let ours: number[][] = [];
    const cold = timed(() => {
      ours = texts.map((t) => tok.encode(t));
    });
    const warm = { wall: Infinity, cpu: Infinity };
    for (let k = 0; k < 3; k++) {
      const w = timed(() => texts.forEach((t) => tok.encode(t)));
      warm.wall = Math.min(warm.wall, w.wall);
      warm.cpu = Math.min(warm.cpu, w.cpu);
    }
    const tok77 = timed(() => tok.tokenize(texts, 77));

    // Exact comparison with every Python run.
    const mismatches: string[] = [];
    for (const f of [pyIds, ...(pyFtfy ? [pyIds + '.ftfy'] : [])]) {
      const rows = fs.readFileSync(f, 'utf8').trim().split('\n');
      let bad = rows.length === texts.length ? 0 : Math.abs(rows.length - texts.length);
      rows.forEach((line, i) => {
        const py = JSON.parse(line) as number[];
        const o = ours[i];
        if (!o || py.length !== o.length || py.some((v, k) => v !== o[k])) bad++;
      });
      mismatches.push(`${path.basename(f)}: ${bad} of ${texts.length} texts differ`);
      if (bad) throw new Error(`token ids differ from the Python baseline: ${mismatches.join('; ')}`);
    }
    fs.rmSync(dir, { recursive: true, force: true });

    const nTok = ours.reduce((a, r) => a + r.length, 0);
    const ms = (sec: number): number => Math.round(sec * 1e4) / 10;
    const rows: BenchRow[] = [];
    const base = pyFtfy ?? pyPlain;
    const label = pyFtfy ? 'Python with ftfy' : 'Python without ftfy';
    const row = (metric: string, ours: number, py: number, target?: number): void => {
      rows.push({ metric, ours: ms(ours), baseline: ms(py), unit: 'ms', higherIsBetter: false, ...(target ? { target } : {}) });
    };
    row(`encode all ${texts.length} texts, cold cache, wall (vs ${label})`, cold.wall, base.cold_s, 10);
    row(`encode all texts, warm cache, wall (vs ${label})`, warm.wall, base.warm_s, 10);
    row(`encode all texts, cold cache, CPU time (vs ${label})`, cold.cpu, base.cold_cpu_s, 10);
    row(`encode all texts, warm cache, CPU time (vs ${label})`, warm.cpu, base.warm_cpu_s, 10);
    row(`tokenize [${texts.length}, 77], warm, wall (vs ${label})`, tok77.wall, base.tokenize77_s);
    if (pyFtfy) {
      row('encode all texts, cold cache, wall (vs Python without ftfy)', cold.wall, pyPlain.cold_s);
      row('encode all texts, warm cache, wall (vs Python without ftfy)', warm.wall, pyPlain.warm_s);
      row('encode all texts, cold cache, CPU time (vs Python without ftfy)', cold.cpu, pyPlain.cold_cpu_s);
      row('encode all texts, warm cache, CPU time (vs Python without ftfy)', warm.cpu, pyPlain.warm_cpu_s);
    }
    row('load bpe_simple_vocab_16e6.txt.gz, wall', load.wall, pyPlain.load_s);
    return {
      title: 'CLIP tokenizer on all Open-I report texts (issue 5)',
      baseline: `OpenAI simple_tokenizer algorithm, Python ${pyPlain.python} + regex (bench/python/simple_tokenizer_bench.py)${pyFtfy ? '; ftfy imported' : '; ftfy not importable'}`,
      rows,
      notes: [
        `${texts.length} texts, ${nTok} BPE ids; ids identical to Python's (${mismatches.join('; ')}).`,
      ],
    };
  },
};

if (require.main === module) {
  bench
    .run()
    .then((r) => process.stdout.write(JSON.stringify(r, null, 2) + '\n'))
    .catch((e) => {
      process.stderr.write(`${(e as Error).stack}\n`);
      process.exit(1);
    });
}
