import { strict as assert } from 'assert';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CheckpointStore } from '../../../lib/train/checkpoints';

const storeJs = path.resolve(__dirname, '..', '..', '..', 'lib', 'train', 'checkpoints.js');

describe('CheckpointStore', () => {
  let out: string;
  beforeEach(() => {
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'xt-ckpt-'));
  });
  afterEach(() => fs.rmSync(out, { recursive: true, force: true }));

  const writeStep = (step: number) => async (dir: string) => {
    fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify({ step }));
  };

  it('keeps the last N and the best by score', async () => {
    const s = new CheckpointStore(out, 2);
    await s.save(1, writeStep(1), { value: 0.5, metric: 'auroc' });
    await s.save(2, writeStep(2), { value: 0.9, metric: 'auroc' });
    await s.save(3, writeStep(3), { value: 0.6, metric: 'auroc' });
    await s.save(4, writeStep(4), { value: 0.7, metric: 'auroc' });
    const idx = s.readIndex();
    assert.equal(idx.latest, 'step-00000004');
    assert.deepEqual(idx.best, { name: 'step-00000002', score: 0.9, metric: 'auroc' });
    assert.deepEqual(idx.kept, ['step-00000002', 'step-00000003', 'step-00000004']);
    const dirs = fs.readdirSync(s.dir).filter((f) => f.startsWith('step-')).sort();
    assert.deepEqual(dirs, ['step-00000002', 'step-00000003', 'step-00000004']);
    assert.equal(JSON.parse(fs.readFileSync(path.join(s.latest()!, 'state.json'), 'utf8')).step, 4);
  });

  it('a kill at any instant of a save leaves the previous checkpoint loadable', async function () {
    this.timeout(60000);
    const s = new CheckpointStore(out, 2);
    await s.save(1, async (dir) => {
      fs.writeFileSync(path.join(dir, 'model.bin'), Buffer.alloc(1 << 20, 1));
      fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify({ step: 1 }));
    });
    // A child saves step 2 slowly (many chunks); kill it at several instants.
    const script = `
      const fs = require('fs'), path = require('path');
      const { CheckpointStore } = require(${JSON.stringify(storeJs)});
      const s = new CheckpointStore(${JSON.stringify(out)}, 2);
      s.save(2, async (dir) => {
        const fd = fs.openSync(path.join(dir, 'model.bin'), 'w');
        for (let i = 0; i < 64; i++) { fs.writeSync(fd, Buffer.alloc(1 << 16, 2)); await new Promise(r => setTimeout(r, 2)); }
        fs.closeSync(fd);
        fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify({ step: 2 }));
      }).then(() => process.stdout.write('saved'));`;
    for (const delay of [5, 40, 80, 120, 160]) {
      const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      let outText = '';
      child.stdout.on('data', (d) => (outText += d));
      await new Promise((r) => setTimeout(r, delay));
      child.kill('SIGKILL');
      await new Promise((r) => child.on('exit', r));
      const latest = s.latest();
      assert.ok(latest, 'an index must exist');
      const state = JSON.parse(fs.readFileSync(path.join(latest!, 'state.json'), 'utf8'));
      const size = fs.statSync(path.join(latest!, 'model.bin')).size;
      // either the old checkpoint, or (if the child finished first) the complete new one
      if (state.step === 1) assert.equal(size, 1 << 20);
      else {
        assert.equal(state.step, 2);
        assert.equal(size, 64 << 16);
        assert.equal(outText, 'saved');
      }
    }
    // the next save clears temp folders left by killed writers
    await s.save(3, writeStep(3));
    assert.deepEqual(fs.readdirSync(s.dir).filter((f) => f.startsWith('.')), []);
  });
});
