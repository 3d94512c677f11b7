#!/usr/bin/env node
// prebuildify drives node-gyp (`node-gyp rebuild --target=… --devdir=… --arch=… --release`).
// This shim stands in for node-gyp and builds with cmake-js instead, into build/Release.
// The build is incremental unless XRAY_TORCH_CLEAN=1.
'use strict';
const { spawnSync } = require('child_process');
const path = require('path');

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const out = [];
for (const a of args) {
  if (a.startsWith('--arch=')) out.push('--arch', a.slice(7));
  else if (a === '--debug') out.push('--debug');
}
if (process.env.XRAY_TORCH_CLEAN === '1') out.push('--clean');
if (process.env.XRAY_TORCH_CMAKE_ARGS) out.push(...process.env.XRAY_TORCH_CMAKE_ARGS.split(' ').filter(Boolean));
const r = spawnSync(process.execPath, [path.join(__dirname, 'build-addon.js'), ...out], { cwd: root, stdio: 'inherit' });
process.exit(r.status === null ? 1 : r.status);
