/**
 * The library entry imports nothing from the CLI layer (issue 15, defect 3): walking the compiled import
 * graph from dist/lib/index.js (what `require('xray-torch')` runs) and dist/lib/index.d.ts (what a
 * consumer's `tsc` reads) reaches no lib/cli module and no yargs.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import { builtinModules } from 'module';
import * as path from 'path';
import { repoRoot } from '../helpers/shared';

const distLib = path.join(repoRoot, 'dist', 'lib');

/** Module specifiers a compiled file names: require(), import/export … from, import(). */
function specifiers(text: string): string[] {
  const out: string[] = [];
  const patterns = [
    /\brequire\(\s*["']([^"']+)["']\s*\)/g,
    /\b(?:import|export)\s[^;]*?\sfrom\s+["']([^"']+)["']/g,
    /\bimport\s+["']([^"']+)["']/g,
    /\bimport\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const re of patterns) for (const m of text.matchAll(re)) out.push(m[1]);
  return out;
}

/** The file a relative specifier names (`./x` → x.js / x.d.ts or x/index.*). */
function resolveLocal(from: string, spec: string, ext: '.js' | '.d.ts'): string {
  const base = path.resolve(path.dirname(from), spec);
  for (const c of [base + ext, path.join(base, 'index' + ext), base]) if (fs.existsSync(c) && fs.statSync(c).isFile()) return c;
  throw new Error(`${from}: cannot resolve ${spec}`);
}

/** Every local file reached from `entry`, and every package it names (bare specifiers). */
function walk(entry: string, ext: '.js' | '.d.ts'): { files: Set<string>; packages: Map<string, string> } {
  const files = new Set<string>();
  const packages = new Map<string, string>(); // package -> first file naming it
  const todo = [entry];
  while (todo.length) {
    const f = todo.pop()!;
    if (files.has(f)) continue;
    files.add(f);
    for (const s of specifiers(fs.readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\//g, ''))) {
      if (s.startsWith('.')) todo.push(resolveLocal(f, s, ext));
      else {
        const name = s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0];
        if (!packages.has(name)) packages.set(name, path.relative(distLib, f));
      }
    }
  }
  return { files, packages };
}

describe('library entry import graph', () => {
  before(function () {
    if (!fs.existsSync(path.join(distLib, 'index.js'))) throw new Error(`${distLib}/index.js missing: run \`npx tsc -p .\``);
  });

  for (const ext of ['.js', '.d.ts'] as const) {
    it(`dist/lib/index${ext} reaches no lib/cli module and no yargs`, () => {
      const { files, packages } = walk(path.join(distLib, 'index' + ext), ext);
      const rel = [...files].map((f) => path.relative(distLib, f));
      // the walk itself works: it reaches the model, the loss and the data readers
      for (const want of ['model/clip', 'loss', 'data/readers/mimic', 'model/convert']) {
        assert.ok(rel.includes(want + ext), `${want}${ext} not reached: ${rel.join(', ')}`);
      }
      const cli = rel.filter((f) => f.split(path.sep)[0] === 'cli');
      assert.deepEqual(cli, [], `the library entry reaches CLI modules: ${cli.join(', ')}`);
      if (ext === '.js') {
        // yargs is the CLI's; a runtime dependency the library uses (sharp, cli-progress) is fine
        assert.ok(!packages.has('yargs'), `${packages.get('yargs')} requires yargs`);
      } else {
        // a consumer's tsc resolves every package the declarations name: each must be a Node built-in
        // (@types/node) or ship its own types (no @types package of ours is installed with us)
        for (const [p, by] of packages) {
          if (builtinModules.includes(p.replace(/^node:/, ''))) continue;
          const pj = JSON.parse(fs.readFileSync(require.resolve(`${p}/package.json`, { paths: [repoRoot] }), 'utf8'));
          assert.ok(pj.types || pj.typings, `${by} names ${p}, which ships no types (its @types package is not a dependency)`);
        }
      }
    });
  }
});
