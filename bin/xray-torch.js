#!/usr/bin/env node
'use strict';
const path = require('path');
const fs = require('fs');
const entry = path.join(__dirname, '..', 'dist', 'lib', 'cli', 'main.js');
if (!fs.existsSync(entry)) {
  process.stderr.write(
    'xray-torch: the TypeScript build is missing (dist/lib/cli/main.js).\n' +
      'Run `bash scripts/setup` (or `npm run build:ts`) in ' + path.join(__dirname, '..') + '\n');
  process.exit(1);
}
require(entry).main(process.argv.slice(2));
