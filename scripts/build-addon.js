#!/usr/bin/env node
// Builds the native addon with cmake-js into build/ (incremental). Options:
//   --clean        rebuild from scratch
//   --debug        Debug configuration
//   --out DIR      build folder (default build)
//   --production   the production addon only (XT_TESTING=OFF); also XRAY_TORCH_PRODUCTION=1. npm install
//                  (scripts/install.js) and prebuilds (scripts/prebuild.js) build this way. Without it,
//                  as in a checkout, build/Release also gets xray_torch_testing.node: the same objects plus
//                  the test/benchmark hooks of binding/testing/ (CMake -DXT_TESTING=ON).
// Every other argument is passed to cmake-js (e.g. --CDXT_MODULES="core;loss").
'use strict';
const { spawnSync } = require('child_process');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const clean = args.includes('--clean');
const production = args.includes('--production') || process.env.XRAY_TORCH_PRODUCTION === '1';
const rest = args.filter((a) => a !== '--clean' && a !== '--production');
const testing = production ? 'OFF' : 'ON';
if (!rest.some((a) => /^--CDXT_TESTING=/.test(a))) rest.push(`--CDXT_TESTING=${testing}`);
let cmakeJs;
try {
  cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
} catch {
  console.error('xray-torch: cmake-js is not installed; run `npm install` (or `bash scripts/setup`) first.');
  process.exit(1);
}
const jobs = String(Math.max(1, Math.min(os.cpus().length, Number(process.env.XRAY_TORCH_BUILD_JOBS) || os.cpus().length)));
const cmd = [cmakeJs, clean ? 'rebuild' : 'build', '--parallel', jobs, ...rest];
// Use the headers of the running Node.js when it ships them (no download needed; offline-safe).
const env = { ...process.env };
if (!env.npm_config_nodedir) {
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  if (require('fs').existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) env.npm_config_nodedir = prefix;
}
// `cmake-js build` configures only a build folder that has no CMakeCache.txt yet, so a change of
// XT_TESTING (a production build after a checkout build, or back) is configured first, in place:
// the objects are shared, so switching costs a link, not a rebuild.
const outIdx = rest.findIndex((a) => a === '--out' || a === '-O');
const outDir = path.resolve(root, outIdx >= 0 && rest[outIdx + 1] ? rest[outIdx + 1] : 'build');
const cacheFile = path.join(outDir, 'CMakeCache.txt');
let r = { status: 0 };
if (!clean && require('fs').existsSync(cacheFile)) {
  const m = /^XT_TESTING:BOOL=(\w+)$/m.exec(require('fs').readFileSync(cacheFile, 'utf8'));
  const wanted = (rest.find((a) => /^--CDXT_TESTING=/.test(a)) || '').split('=')[1];
  if (!m || m[1].toUpperCase() !== wanted.toUpperCase()) {
    const conf = [cmakeJs, 'configure', ...rest];
    console.log(`[build-addon] cmake-js ${conf.slice(1).join(' ')}`);
    r = spawnSync(process.execPath, conf, { cwd: root, stdio: 'inherit', env });
  }
}
if (r.status === 0) {
  console.log(`[build-addon] cmake-js ${cmd.slice(1).join(' ')}`);
  r = spawnSync(process.execPath, cmd, { cwd: root, stdio: 'inherit', env });
}
if (r.status !== 0) {
  console.error(
    '\n[build-addon] the native build failed. Check that LibTorch is installed (Debian: `bash scripts/setup`),\n' +
      'or set LIBTORCH=/path/to/libtorch (or Torch_DIR) and try again.');
  process.exit(r.status || 1);
}
