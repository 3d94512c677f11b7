/**
 * The shipped package: `npm run prebuild` + `npm pack`, installed into an empty folder, loads its
 * prebuilt addon with no compiler step and serves both `require` and `import` users and the CLI.
 */
import { strict as assert } from 'assert';
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { repoRoot } from '../helpers/shared';

function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

describe('packed tarball', function () {
  this.timeout(600000);
  let tmp: string;
  let app: string;
  let hadPrebuilds: boolean;
  const prebuildDir = path.join(repoRoot, 'prebuilds');

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xray-torch-pack-'));
    hadPrebuilds = fs.existsSync(prebuildDir);
    sh(process.execPath, [path.join(repoRoot, 'scripts', 'prebuild.js')], repoRoot);
    const out = sh('npm', ['pack', '--pack-destination', tmp, '--json'], repoRoot);
    const tgz = path.join(tmp, JSON.parse(out)[0].filename);
    app = path.join(tmp, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    // No compiler may run: a build attempt would fail with these, and leave a build/ folder.
    const env = { ...process.env, CC: '/bin/false', CXX: '/bin/false' };
    sh('npm', ['install', tgz, '--prefer-offline', '--no-audit', '--no-fund'], app, env);
  });

  after(() => {
    if (!hadPrebuilds) fs.rmSync(prebuildDir, { recursive: true, force: true });
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('ships the prebuild and the compiled library, not the sources of tests', () => {
    const pkg = path.join(app, 'node_modules', 'xray-torch');
    const pre = fs.readdirSync(path.join(pkg, 'prebuilds', `${process.platform}-${process.arch}`));
    assert.ok(pre.some((f) => /^xray-torch\.torch\d+_\d+\.cpu\..*node$/.test(f)), pre.join(','));
    assert.ok(fs.existsSync(path.join(pkg, 'dist', 'lib', 'index.js')));
    assert.ok(fs.existsSync(path.join(pkg, 'dist', 'lib', 'index.d.ts')));
    assert.ok(!fs.existsSync(path.join(pkg, 'dist', 'test')));
    assert.ok(!fs.existsSync(path.join(pkg, 'build')), 'the install must not have compiled anything');
  });

  it('loads from its prebuild through require()', () => {
    const out = execFileSync(process.execPath, ['-e',
      "const x=require('xray-torch');const l=x.loadAddon();" +
      'process.stdout.write(JSON.stringify({p:l.path,v:l.addon.runtimeInfo().torchVersion}))'], { cwd: app, encoding: 'utf8' });
    const j = JSON.parse(out);
    assert.match(j.p, /node_modules\/xray-torch\/prebuilds\//);
    assert.match(j.v, /^\d+\.\d+/);
  });

  it('serves ESM import users', () => {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e',
      "import { loadAddon, isXtError } from 'xray-torch'; process.stdout.write(typeof loadAddon + typeof isXtError)"],
    { cwd: app, encoding: 'utf8' });
    assert.equal(out, 'functionfunction');
  });

  it('runs `npx xray-torch doctor --json` from the install', () => {
    const out = sh('npx', ['--no-install', 'xray-torch', 'doctor', '--json'], app);
    const j = JSON.parse(out);
    assert.match(j.addon.path, /prebuilds/);
    assert.match(j.addon.reason, /prebuilt CPU variant/);
  });
});
