/**
 * Test hooks live in the testing addon only: the production xray_torch.node (what npm install, prebuilds and
 * the loader give users) exports none of them, and xray_torch_testing.node is exactly the production exports
 * plus `testing`.
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import { loadAddon } from '../../lib/native';
import { HOOK_NAMES, hooks, productionAddonPath, testingAddonPath } from '../helpers/native-testing';

interface Exports {
  keys: string[];
  dist: string[];
  modules: string[];
  modelMethods: string[];
}

/** What a .node file exports, read in a child process that loads nothing else. */
function exportsOf(file: string): Exports {
  const script = `
    const a = require(${JSON.stringify(file)});
    const methods = (o) => { const s = new Set(); for (let p = o; p && p !== Object.prototype; p = Object.getPrototypeOf(p))
      for (const k of Object.getOwnPropertyNames(p)) s.add(k); return [...s]; };
    a.clipCreate('tiny', { seed: 1 }).then((m) => {
      const out = { keys: Object.keys(a), dist: a.dist ? Object.keys(a.dist) : [], modules: a.modules, modelMethods: methods(m) };
      m.dispose();
      process.stdout.write(JSON.stringify(out));
    }, (e) => { console.error(e); process.exit(1); });`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 120000 });
  assert.equal(r.status, 0, `loading ${file}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Exports;
}

describe('test hooks (binding/testing/) are in the testing addon only', function () {
  this.timeout(180000);
  let prod: Exports;

  before(() => {
    assert.ok(fs.existsSync(productionAddonPath), `the production addon ${productionAddonPath} is not built`);
    prod = exportsOf(productionAddonPath);
  });

  it('the production addon exports none of them', () => {
    // today's hook names, and those they had when the production addon still carried them
    const hookNames = [...HOOK_NAMES, 'testing', 'testContrastiveStep', 'testReducer', '_testGradients'];
    for (const name of hookNames) {
      assert.ok(!prod.keys.includes(name), `production export ${name}`);
      assert.ok(!prod.dist.includes(name), `production export dist.${name}`);
      assert.ok(!prod.modelMethods.includes(name), `production ClipModelNative.${name}`);
    }
    assert.deepEqual(prod.modules.filter((m) => m.startsWith('testing')), []);
    // what stays is the user-facing API: benchMatmul (doctor), contrastiveLoss, dist collectives, ...
    for (const name of ['benchMatmul', 'contrastiveLoss', 'readSafetensors', 'clipLoad', 'dist']) {
      assert.ok(prod.keys.includes(name), `production export ${name} is missing`);
    }
    assert.ok(prod.modelMethods.includes('encodeImages'));
  });

  it('the testing addon is the production addon plus exports.testing', () => {
    const l = loadAddon();
    assert.equal(l.path, testingAddonPath, 'test/helpers/native-testing switches the loader to the testing addon');
    const test = exportsOf(testingAddonPath);
    assert.deepEqual(test.keys.filter((k) => k !== 'testing').sort(), [...prod.keys].sort());
    assert.ok(test.keys.includes('testing'));
    assert.deepEqual(test.dist.sort(), [...prod.dist].sort());
    assert.deepEqual(test.modelMethods.sort(), [...prod.modelMethods].sort());
    assert.deepEqual(test.modules.filter((m) => !m.startsWith('testing')), prod.modules);
    const t = hooks() as unknown as Record<string, unknown>;
    assert.deepEqual(Object.keys(t).sort(), [...HOOK_NAMES].sort());
    for (const name of HOOK_NAMES) assert.equal(typeof t[name], 'function', name);
  });
});
