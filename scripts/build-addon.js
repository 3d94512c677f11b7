#!/usr/bin/env node
// Builds the native addon with cmake-js into build/ (incremental). Options:
//   --clean        rebuild from scratch
//   --debug        Debug configuration
//   --out DIR      build folder (default build)
// Every other argument is passed to cmake-js (e.g. --CDXT_MODULES="core;loss").
'use strict';
const { spawnSync } = require('child_process');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const clean = args.includes('--clean');
const rest = args.filter((a) => a !== '--clean');
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
console.log(`[build-addon] cmake-js ${cmd.slice(1).join(' ')}`);
const r = spawnSync(process.execPath, cmd, { cwd: root, stdio: 'inherit', env });
if (r.status !== 0) {
  console.error(
    '\n[build-addon] the native build failed. Check that LibTorch is installed (Debian: `bash scripts/setup`),\n' +
      'or set LIBTORCH=/path/to/libtorch (or Torch_DIR) and try again.');
  process.exit(r.status || 1);
}
