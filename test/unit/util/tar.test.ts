import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { isXtError } from '../../../lib/native';
import { readTar, readTarFile } from '../../../lib/util/tar';
import { requireShared } from '../../helpers/shared';

describe('util: tar reader', function () {
  let dir: string;
  const longName = `${'d'.repeat(60)}/${'f'.repeat(120)}.txt`;

  before(function () {
    if (spawnSync('tar', ['--version']).status !== 0) this.skip();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xt-tar-'));
    const src = path.join(dir, 'src');
    fs.mkdirSync(path.join(src, path.dirname(longName)), { recursive: true });
    fs.writeFileSync(path.join(src, 'a.txt'), 'alpha\n');
    fs.writeFileSync(path.join(src, longName), 'long name\n');
    fs.writeFileSync(path.join(src, 'big.bin'), Buffer.alloc(70000, 7));
    fs.writeFileSync(path.join(src, 'empty'), '');
    fs.symlinkSync('a.txt', path.join(src, 'link'));
    for (const format of ['gnu', 'pax', 'ustar']) {
      const files = format === 'ustar' ? ['a.txt', 'big.bin', 'empty', 'link'] : ['a.txt', longName, 'big.bin', 'empty', 'link'];
      const r = spawnSync('tar', ['-c', `--format=${format}`, '-f', path.join(dir, `${format}.tar`), '-C', src, ...files]);
      assert.equal(r.status, 0, String(r.stderr));
    }
    fs.writeFileSync(path.join(dir, 'pax.tgz'), zlib.gzipSync(fs.readFileSync(path.join(dir, 'pax.tar'))));
  });

  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reads GNU long names, pax paths and ustar; skips links; keeps sizes and contents', () => {
    for (const f of ['gnu.tar', 'pax.tar', 'pax.tgz', 'ustar.tar']) {
      const entries = readTarFile(path.join(dir, f));
      const byName = new Map(entries.map((e) => [e.name, e.data]));
      assert.equal(byName.get('a.txt')?.toString(), 'alpha\n', f);
      assert.equal(byName.get('big.bin')?.length, 70000, f);
      assert.ok(byName.get('big.bin')?.every((b) => b === 7), f);
      assert.equal(byName.get('empty')?.length, 0, f);
      assert.equal(byName.has('link'), false, f);
      if (f !== 'ustar.tar') assert.equal(byName.get(longName)?.toString(), 'long name\n', f);
    }
  });

  it('detects corrupt headers and truncation with coded errors', () => {
    const tar = fs.readFileSync(path.join(dir, 'ustar.tar'));
    const bad = Buffer.from(tar);
    bad[10] ^= 0xff;
    assert.throws(() => readTar(bad, 'bad.tar'), (e: unknown) => isXtError(e) && /checksum/.test((e as Error).message));
    assert.throws(() => readTar(tar.subarray(0, 1024 + 100), 't.tar'), (e: unknown) => isXtError(e) && /truncated/.test((e as Error).message));
    assert.throws(() => readTarFile(path.join(dir, 'none.tar')), (e: unknown) => isXtError(e) && (e as { code: string }).code === 'XT_IO');
  });

  it('lists the 3,955 Open-I report files of the shared archive', function () {
    const entries = readTarFile(requireShared(this as unknown as Mocha.Context, 'data', 'openi', 'NLMCXR_reports.tgz'));
    const xml = entries.filter((e) => /^ecgen-radiology\/\d+\.xml$/.test(e.name));
    assert.equal(xml.length, 3955);
    assert.match(xml[0].data.toString('utf8', 0, 60), /^<\?xml/);
  });
});
