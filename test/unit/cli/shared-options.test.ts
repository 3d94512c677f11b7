/**
 * eval, classify, serve, embed and score take their shared options from one builder (lib/cli/eval-args.ts):
 * each shared option reads the same in every command's --help (issue 15, "one implementation per job").
 */
import { strict as assert } from 'assert';
import { execFileSync } from 'child_process';
import * as path from 'path';
import { repoRoot } from '../../helpers/shared';

const cli = path.join(repoRoot, 'bin', 'xray-torch.js');

/** Option name → its help text (wrapped lines joined, white space collapsed). */
function helpOptions(command: string): Map<string, string> {
  const text = execFileSync(process.execPath, [cli, command, '--help'], { encoding: 'utf8' });
  const out = new Map<string, string>();
  let current: string | undefined;
  for (const line of text.split('\n')) {
    const m = /^ {2}--([\w-]+)\s*(.*)$/.exec(line);
    if (m) {
      current = m[1];
      out.set(current, m[2]);
    } else if (current && /^ {4,}\S/.test(line)) out.set(current, `${out.get(current)} ${line.trim()}`);
    else current = undefined;
  }
  for (const [k, v] of out) out.set(k, v.replace(/\s+/g, ' ').trim());
  return out;
}

/** What may differ per command: the default value, and where thresholds are chosen. */
const perCommand = (s: string) => s.replace(/\[default: [^\]]*\]/g, '').replace(/\(chosen on [^)]*\)/g, '').replace(/\s+/g, ' ').trim();

describe('CLI options shared by eval, classify, serve, embed and score', function () {
  this.timeout(60000);
  const commands = ['eval', 'classify', 'serve', 'embed', 'score'];
  const help = new Map(commands.map((c) => [c, helpOptions(c)]));

  const shared: Record<string, string[]> = {
    model: ['eval', 'classify', 'serve', 'embed'],
    tokenizer: ['eval', 'classify', 'serve', 'embed'],
    scoring: ['eval', 'classify', 'serve'],
    templates: ['eval', 'classify', 'serve'],
    prompts: ['eval', 'classify', 'serve'],
    temperature: ['eval', 'classify', 'serve'],
    resize: ['eval', 'classify', 'serve', 'embed'],
    'batch-size': ['eval', 'classify', 'embed'],
    uncertain: ['eval', 'score'],
    threshold: ['eval', 'score'],
    json: ['eval', 'score'],
    resamples: ['eval', 'score'],
  };

  for (const [name, users] of Object.entries(shared)) {
    it(`--${name} reads the same in ${users.join(', ')}`, () => {
      const texts = users.map((c) => {
        const t = help.get(c)!.get(name);
        assert.ok(t, `${c} --help lists no --${name}`);
        return perCommand(t);
      });
      for (let i = 1; i < users.length; i++) assert.equal(texts[i], texts[0], `--${name}: ${users[i]} differs from ${users[0]}`);
    });
  }

  it('keeps the per-command defaults', () => {
    const def = (c: string, o: string) => /\[default: ([^\]]*)\]/.exec(help.get(c)!.get(o) ?? '')?.[1];
    assert.deepEqual(['eval', 'classify', 'embed'].map((c) => def(c, 'batch-size')), ['32', '16', '16']);
    assert.deepEqual(['classify', 'serve'].map((c) => def(c, 'labels')), ['"chexpert5"', '"chexpert5"']);
    assert.equal(def('eval', 'labels'), undefined);
    assert.equal(def('eval', 'val-split'), '"valid"');
  });
});
