#!/usr/bin/env node
// npm run prebuild [-- --cuda] [--clean]
// Builds the addon through prebuildify (with scripts/cmake-js-shim.js standing in for node-gyp)
// and names the result by LibTorch version and device, so CPU and CUDA prebuilds coexist:
//   prebuilds/linux-x64/xray-torch.torch<major>_<minor>.<cpu|cuda>.napi.glibc.node
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const argv = process.argv.slice(2);
const wantCuda = argv.includes('--cuda');
const env = { ...process.env };
if (argv.includes('--clean')) env.XRAY_TORCH_CLEAN = '1';
if (!wantCuda) env.XRAY_TORCH_FORCE_CPU = '1';
// the production addon only (build-addon.js: XT_TESTING=OFF)
env.XRAY_TORCH_PRODUCTION = '1';

// `strip` (binutils >= 2.36) rewrites its file in place, and so would a copy over it: a process that has
// build/Release/xray_torch.node loaded (a test run, a server) would then crash when it touches a page of
// it. Give the path a fresh inode first (copy + rename), so the loaded image keeps its own file.
function detach(file) {
  if (!fs.existsSync(file)) return;
  const tmp = `${file}.${process.pid}.tmp`;
  fs.copyFileSync(file, tmp);
  fs.renameSync(tmp, file);
}
const local = path.join(root, 'build', 'Release', 'xray_torch.node');
detach(local);

// prebuildify takes the first .node it finds in build/Release: a checkout's testing addon
// (xray_torch_testing.node, the test hooks) waits outside it meanwhile, so it can never become a prebuild.
const testing = path.join(root, 'build', 'Release', 'xray_torch_testing.node');
const parked = path.join(root, 'build', `xray_torch_testing.node.${process.pid}.parked`);
const park = fs.existsSync(testing);
if (park) fs.renameSync(testing, parked);
const prebuildify = require.resolve('prebuildify/bin.js', { paths: [root] });
const shim = path.join(__dirname, 'cmake-js-shim.js');
let r;
try {
  r = spawnSync(process.execPath, [prebuildify, '--napi', '--strip', '--tag-libc', '--node-gyp', shim], {
    cwd: root, stdio: 'inherit', env,
  });
} finally {
  if (park) fs.renameSync(parked, testing);
}
if (r.status !== 0) process.exit(r.status || 1);

const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
// prebuildify names it xray-torch[.napi][.glibc].node; ours carry a torch<maj>_<min> tag.
const fresh = fs.readdirSync(dir).filter((f) => f.startsWith('xray-torch.') && f.endsWith('.node') && !/\.torch\d+_\d+\./.test(f));
if (fresh.length !== 1) {
  console.error(`prebuild: expected one new prebuild in ${dir}, found ${fresh.join(', ') || 'none'}`);
  process.exit(1);
}
const produced = path.join(dir, fresh[0]);
// Ask the fresh binary what it is (in a child: a CUDA build may not load without a driver).
const probe = spawnSync(process.execPath, ['-e',
  `const i=require(${JSON.stringify(produced)}).runtimeInfo();process.stdout.write(i.torchVersion+' '+i.variant)`],
  { encoding: 'utf8', env: { ...process.env, XRAY_TORCH_DEVICE: 'cpu' } });
let version, variant;
if (probe.status === 0) {
  [version, variant] = probe.stdout.trim().split(' ');
} else {
  // fall back to the CMake cache
  const cache = fs.readFileSync(path.join(root, 'build', 'CMakeCache.txt'), 'utf8');
  version = (/Torch_VERSION[^=]*=([\d.]+)/.exec(cache) || [])[1] || 'unknown';
  variant = wantCuda ? 'cuda' : 'cpu';
}
if (wantCuda && variant !== 'cuda') {
  console.error('prebuild --cuda: the LibTorch found is not CUDA-enabled (set LIBTORCH/Torch_DIR to a CUDA LibTorch, or install a CUDA Python torch)');
  fs.unlinkSync(produced);
  process.exit(1);
}
const [maj, min] = version.split('.');
const name = `xray-torch.torch${maj}_${min}.${variant}.napi.glibc.node`;
fs.renameSync(produced, path.join(dir, name));
// prebuildify moved the binary out of build/Release: put a copy back so the local build stays usable
fs.mkdirSync(path.join(root, 'build', 'Release'), { recursive: true });
const tmp = `${local}.${process.pid}.tmp`;
fs.copyFileSync(path.join(dir, name), tmp);
fs.renameSync(tmp, local);
console.log(`prebuild: prebuilds/${process.platform}-${process.arch}/${name} (LibTorch ${version}, ${variant})`);
