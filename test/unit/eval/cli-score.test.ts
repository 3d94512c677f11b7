import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { repoRoot, requireShared } from '../../helpers/shared';

const BIN = path.join(repoRoot, 'bin', 'xray-torch.js');

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('cli: xray-torch score', function () {
  let dir: string;
  before(function () {
    dir = requireShared(this as unknown as Mocha.Context, 'data', 'chexpert-test');
  });

  it('--json prints the decisions shape with the readers\' mean MCC 0.530; files by name', () => {
    const t = fs.mkdtempSync(path.join(os.tmpdir(), 'xt-cli-score-'));
    const r = cli(['score', '--labels', path.join(dir, 'groundtruth.csv'),
      '--decisions', ...['bc4', 'bc6', 'bc8'].map((b) => path.join(dir, 'radiologists', `${b}.csv`)),
      '--tasks', 'Atelectasis,Cardiomegaly,Consolidation,Edema,Pleural Effusion', '--json', '--resamples', '100',
      '--csv', path.join(t, 'r.csv'), '--html', path.join(t, 'r.html')]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(j).sort(), ['decisions', 'mean', 'rows', 'tasks']);
    assert.equal(j.decisions.length, 3);
    assert.deepEqual(Object.keys(j.decisions[0]).sort(), ['file', 'mean', 'tasks']);
    assert.ok('f1' in j.decisions[0].tasks.Edema && 'mcc' in j.decisions[0].tasks.Edema);
    assert.equal(j.mean.mcc.toFixed(3), '0.530');
    assert.equal(j.mean.mcc_ci.length, 2);
    assert.ok(fs.readFileSync(path.join(t, 'r.csv'), 'utf8').startsWith('source,label,'));
    assert.match(fs.readFileSync(path.join(t, 'r.html'), 'utf8'), /<circle class="reader"/);
  });

  it('prints a table without --json; bad input exits 1 with a coded message', () => {
    const ok = cli(['score', '--labels', path.join(dir, 'groundtruth.csv'), '--decisions', path.join(dir, 'radiologists', 'bc4.csv'),
      '--tasks', 'chexpert5', '--resamples', '0']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /Pleural Effusion\s+0\.810\s+0\.759/);
    const bad = cli(['score', '--labels', path.join(dir, 'groundtruth.csv'), '--decisions', path.join(dir, 'radiologists', 'bc4.csv'),
      '--tasks', 'Edema,Nope']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /no column "Nope".*\[XT_INVALID\]/);
    const none = cli(['score', '--labels', path.join(dir, 'groundtruth.csv')]);
    assert.notEqual(none.code, 0);
    assert.match(none.stderr, /--predictions/);
  });
});
