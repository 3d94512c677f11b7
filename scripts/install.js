#!/usr/bin/env node
// npm install hook: use a prebuilt addon when one loads; otherwise build from source.
// Never fails the install: when nothing works it says how to fix it, and the loader repeats that.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..');
if (process.env.XRAY_TORCH_SKIP_INSTALL === '1') process.exit(0);

function loads(file) {
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(file)})`], { encoding: 'utf8' });
  return r.status === 0 ? null : (r.stderr || '').trim().split('\n').slice(-1)[0];
}

const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const prebuilds = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.node')) : [];
for (const f of prebuilds.filter((f) => !f.includes('.cuda.')).concat(prebuilds.filter((f) => f.includes('.cuda.')))) {
  const err = loads(path.join(dir, f));
  if (!err) {
    console.log(`xray-torch: using prebuilt addon prebuilds/${process.platform}-${process.arch}/${f}`);
    process.exit(0);
  }
  console.log(`xray-torch: prebuilt ${f} does not load here: ${err}`);
}
const local = path.join(root, 'build', 'Release', 'xray_torch.node');
if (fs.existsSync(local) && !loads(local)) process.exit(0);

if (!fs.existsSync(path.join(root, 'CMakeLists.txt'))) process.exit(0);
console.log('xray-torch: no prebuilt addon loads here; building from source (needs LibTorch, cmake, g++)');
// --production: the addon without the test hooks (binding/testing/ is for a checkout's tests)
const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'build-addon.js'), '--production'], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  console.warn(
    'xray-torch: WARNING: the native addon could not be built. Install LibTorch (Debian: apt-get install ' +
      'libtorch-dev libopenblas0-openmp) or set LIBTORCH, then run `npm rebuild xray-torch`.');
}
