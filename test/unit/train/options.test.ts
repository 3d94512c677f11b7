/**
 * The one table of training options (lib/train/options.ts): the CLI's parsing and `train()`'s resolution
 * (issue 15 defect 1: `--precision` on CUDA), the defaults each context gets (defect 2: one source), the
 * native session's options, `train --help` and the README's table against the table.
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import yargs from 'yargs';
import {
  TRAIN_OPTIONS, completeSavedOptions, defaultSessionOptions, defaultText, optionsTableMarkdown, resolveTrainOptions,
  sessionOptions, toTrainOptions, type ResolvedOptions, type TrainArgs,
} from '../../../lib/train/options';
import { trainOptions } from '../../../lib/cli/train';
import { repoRoot } from '../../helpers/shared';

const cli = path.join(repoRoot, 'bin', 'xray-torch.js');

/** CLI arguments as `xray-torch train` parses them (the same yargs builder), then resolved for a device. */
function resolveCli(args: string[], device: string, batchesPerEpoch = 10): ResolvedOptions {
  const argv = trainOptions(yargs(args).exitProcess(false).strict()).parseSync() as unknown as TrainArgs;
  return resolveTrainOptions(toTrainOptions(argv), { device, batchesPerEpoch: () => batchesPerEpoch });
}

const base = ['--data', 'd/manifest.jsonl', '--model', 'ViT-B-32.pt', '--out', 'runs/x'];

describe('training options: one table', () => {
  it('--precision: bf16 on CUDA and fp32 on the CPU when not given; a given one wins (defect 1)', () => {
    assert.equal(resolveCli(base, 'cuda:0').precision, 'bf16');
    assert.equal(resolveCli(base, 'cpu').precision, 'fp32');
    assert.equal(resolveCli([...base, '--precision', 'fp32'], 'cuda:0').precision, 'fp32');
    assert.equal(resolveCli([...base, '--precision', 'fp16'], 'cuda:1').precision, 'fp16');
    // the same for the other device-dependent default
    assert.equal(resolveCli(base, 'cuda:0').syncEvery, 10);
    assert.equal(resolveCli(base, 'cpu').syncEvery, 1);
  });

  it('the CLI passes on only what was given: defaults are the resolution\'s', () => {
    const argv = trainOptions(yargs([...base, '--lr', '3e-5', '--no-augment', '--sections', 'impression']).exitProcess(false)).parseSync();
    const o = toTrainOptions(argv as unknown as TrainArgs);
    assert.deepEqual(o, { progress: 'auto', data: 'd/manifest.jsonl', model: 'ViT-B-32.pt', out: 'runs/x', lr: 3e-5, augment: false, sections: ['impression'] });
  });

  it('defaults per run: fine-tuning or scratch, CPU or CUDA, the number of steps (defect 2)', () => {
    const ft = resolveCli(base, 'cpu', 40);
    assert.equal(ft.lr, 1e-5);
    assert.equal(ft.gradClip, 1);
    assert.equal(ft.contextLength, 77);
    assert.deepEqual([ft.steps, ft.epochs, ft.warmup], [40, 1, 2]);
    assert.deepEqual([ft.beta1, ft.beta2, ft.eps, ft.weightDecay, ft.positiveClip], [0.9, 0.98, 1e-6, 0.2, 0.8]);
    assert.equal(ft.sections, 'both');
    assert.equal(ft.out, path.resolve('runs/x'));
    const sc = resolveCli(['--data', 'd', '--model', 'scratch:tiny', '--out', 'o', '--epochs', '3'], 'cpu', 40);
    assert.equal(sc.lr, 5e-4);
    assert.equal(sc.contextLength, 48);
    assert.deepEqual([sc.steps, sc.epochs, sc.warmup], [120, 3, 6]);
    // the session gets every native option, from the resolved run
    assert.deepEqual(sessionOptions(sc), {
      positiveClip: 0.8, multiPositive: false, lr: 5e-4, weightDecay: 0.2, beta1: 0.9, beta2: 0.98, eps: 1e-6, gradClip: 1,
      accumSteps: 1, lockImage: false, lockText: false, precision: 'fp32', skipNonfinite: false, syncEvery: 1,
      gradCheckpointing: false, patchDropout: 0, seed: 0,
    });
  });

  it('defaultSessionOptions: the table\'s defaults under given values, for code that drives a session', () => {
    assert.deepEqual(defaultSessionOptions({ lr: 1e-3, gradClip: 0 }, { cuda: true }), {
      positiveClip: 0.8, multiPositive: false, lr: 1e-3, weightDecay: 0.2, beta1: 0.9, beta2: 0.98, eps: 1e-6, gradClip: 0,
      accumSteps: 1, lockImage: false, lockText: false, precision: 'bf16', skipNonfinite: false, syncEvery: 10,
      gradCheckpointing: false, patchDropout: 0, seed: 0,
    });
    assert.throws(() => defaultSessionOptions({ beta2: 1 }), /beta2 must be a number in \[0, 1\)/);
    assert.throws(() => defaultSessionOptions({ nope: 1 } as never), /no training session option "nope"/);
  });

  it('validates every value against its range, naming the option', () => {
    const r = (o: Record<string, unknown>) => resolveTrainOptions({ data: 'd', model: 'm', out: 'o', ...o }, { device: 'cpu', batchesPerEpoch: () => 5 });
    assert.throws(() => r({ positiveClip: 2 }), (e: Error & { code?: string }) => e.code === 'XT_INVALID' && /positiveClip must be a number in \[-1, 1\]/.test(e.message));
    assert.throws(() => r({ batchSize: 0 }), /batchSize must be an integer >= 1/);
    assert.throws(() => r({ syncEvery: 0 }), /syncEvery must be an integer in \[1, 100000\]/);
    assert.throws(() => r({ precision: 'fp8' }), /precision must be one of fp32, bf16, fp16/);
    assert.throws(() => r({ eps: 0 }), /eps must be a number in \(0, 1\]/);
    assert.throws(() => r({ augment: 'yes' }), /augment must be true or false/);
    assert.throws(() => r({ steps: 3, epochs: 1 }), /either steps or epochs/);
    assert.throws(() => r({ out: '' }), /`out`/);
    assert.throws(() => r({ patchDropout: 1 }), /patchDropout must be a number in \[0, 1\)/);
    assert.throws(() => r({ batchSize: 4, accumSteps: 8 }), (e: Error & { code?: string }) =>
      e.code === 'XT_INVALID' && /accumSteps \(--accum\) 8 is larger than the batch size 4/.test(e.message));
  });

  it('a resumed run keeps its saved options and takes defaults only for options it predates', () => {
    const saved = resolveCli(base, 'cpu') as unknown as Record<string, unknown>;
    delete saved.beta1;
    delete saved.eps;
    saved.lr = 2e-5;
    const r = completeSavedOptions(saved as unknown as ResolvedOptions, 'cpu');
    assert.deepEqual([r.beta1, r.eps, r.lr], [0.9, 1e-6, 2e-5]);
  });

  it('README: the train option table is the one the table generates', () => {
    const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    const m = /<!-- train-options:begin[^>]*-->\n([\s\S]*?)\n<!-- train-options:end -->/.exec(readme);
    assert.ok(m, 'README.md has the train-options region');
    assert.equal(m[1], optionsTableMarkdown(), 'README.md is stale: run `node scripts/options-table --write`');
    for (const s of TRAIN_OPTIONS) assert.ok(m[1].includes(`\`--${s.flag}`), s.flag);
  });

  /** `xray-torch CMD --help` split into option blocks: flag -> the block's text, whitespace collapsed. */
  function helpOptions(cmd: string): Map<string, string> {
    const r = spawnSync(process.execPath, [cli, cmd, '--help'], { encoding: 'utf8', env: { ...process.env, XRAY_TORCH_DEVICE: 'cpu' } });
    assert.equal(r.status, 0, r.stderr);
    const out = new Map<string, string>();
    let cur: string | undefined;
    let inOptions = false;
    for (const line of r.stdout.split('\n')) {
      if (/^\S/.test(line)) {
        inOptions = line === 'Options:'; // a section header: Options:, Examples:, …
        cur = undefined;
        continue;
      }
      if (!inOptions) continue;
      const m = /^ {2,6}(?:-\w, +)?--([a-z0-9-]+)/.exec(line); // (continuation lines sit at the help column)
      if (m) {
        cur = m[1];
        out.set(cur, '');
      }
      if (cur) out.set(cur, `${out.get(cur)} ${line}`.replace(/\s+/g, ' ').trim());
    }
    assert.ok(out.size > 0, `no options in ${cmd} --help:\n${r.stdout}`);
    return out;
  }

  // the program's own options (lib/cli/main.ts, yargs): on every command, not training options
  const GLOBAL = ['help', 'version', 'threads', 'device'];

  it('train --help lists every table entry with its help and default, and nothing else', () => {
    const help = helpOptions('train');
    for (const s of TRAIN_OPTIONS) {
      const block = help.get(s.flag);
      assert.ok(block, `--${s.flag} is not in train --help`);
      assert.ok(block.includes(s.help), `--${s.flag}: help "${s.help}" not in "${block}"`);
      const d = defaultText(s);
      if (d) assert.ok(block.includes(`[default: ${d}]`), `--${s.flag}: default "${d}" not in "${block}"`);
      else assert.ok(!block.includes('[default:'), `--${s.flag} shows a default the table does not have: "${block}"`);
      if (s.choices) assert.ok(block.includes(`[choices: ${s.choices.map((c) => `"${c}"`).join(', ')}]`), `--${s.flag}: choices`);
    }
    const extra = [...help.keys()].filter((f) => !GLOBAL.includes(f) && !TRAIN_OPTIONS.some((s) => s.flag === f));
    assert.deepEqual(extra, [], 'options in train --help that are not in the table');
  });

  it('ablation shares the whole table; demo the options it takes from it', () => {
    const ab = helpOptions('ablation');
    for (const s of TRAIN_OPTIONS) assert.ok(ab.get(s.flag)?.includes(s.help), `ablation --${s.flag}`);
    const demo = helpOptions('demo');
    for (const flag of ['seed', 'quiet']) {
      const s = TRAIN_OPTIONS.find((x) => x.flag === flag)!;
      assert.ok(demo.get(flag)?.includes(s.help), `demo --${flag}`);
    }
    assert.ok(demo.get('epochs')?.includes('[default: 20]'));
    assert.ok(demo.get('batch-size')?.includes('[default: 64]'));
  });
});
