import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { CsvParser, parseCsv, readCsvRecords } from '../../../lib/data/csv';
import { requireShared } from '../../helpers/shared';

describe('data/csv', () => {
  const tricky =
    '\ufeffa,b,c\r\n1,"x, y","he said ""hi"""\r\n2,"multi\nline",\r\n\r\n3,,"end"\n"4",plain"quote,z';

  it('parses quoted fields, doubled quotes, embedded commas/newlines, CRLF, BOM and blank lines', () => {
    const rows = parseCsv(tricky);
    assert.deepEqual(rows, [
      ['a', 'b', 'c'],
      ['1', 'x, y', 'he said "hi"'],
      ['2', 'multi\nline', ''],
      ['3', '', 'end'],
      ['4', 'plain"quote', 'z'],
    ]);
  });

  it('gives the same rows whatever the chunk boundaries (every split point, and char by char)', () => {
    const whole = parseCsv(tricky);
    for (let cut = 0; cut <= tricky.length; cut++) {
      const rows: string[][] = [];
      const p = new CsvParser((r) => rows.push(r.fields));
      p.push(tricky.slice(0, cut));
      p.push(tricky.slice(cut));
      p.end();
      assert.deepEqual(rows, whole, `split at ${cut}`);
    }
    const rows: string[][] = [];
    const p = new CsvParser((r) => rows.push(r.fields));
    for (const ch of tricky) p.push(ch);
    p.end();
    assert.deepEqual(rows, whole);
  });

  it('reports row line numbers, counting newlines inside quoted fields', () => {
    const lines: number[] = [];
    const p = new CsvParser((r) => lines.push(r.line));
    p.push('h1,h2\n"a\nb",c\nd,e\n');
    p.end();
    assert.deepEqual(lines, [1, 2, 4]);
  });

  it('reports an unterminated quote and text after a closing quote instead of guessing', () => {
    const errors: string[] = [];
    const rows = parseCsv('a,b\n"ok",1\n"bad"x,2\n3,"never closed', (line, reason) => errors.push(`${line}: ${reason}`));
    assert.deepEqual(rows, [
      ['a', 'b'],
      ['ok', '1'],
    ]);
    assert.deepEqual(errors, ['3: text after a closing quote', '4: unterminated quoted field at end of file']);
  });

  describe('readCsvRecords', () => {
    let dir: string;
    before(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xt-csv-'));
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('keys fields by column name, reads gzip by magic bytes, and skips rows with the wrong field count', async () => {
      const f = path.join(dir, 'x.csv.gz');
      fs.writeFileSync(f, zlib.gzipSync('id,"Finding Labels",n\n1,A|B,3\n2,too,many,fields\n3,C,4\n4,short\n'));
      const bad: string[] = [];
      const out: Record<string, string>[] = [];
      for await (const r of readCsvRecords(f, { onBad: (w, reason) => bad.push(`${path.basename(w)} ${reason}`) })) out.push(r.row);
      assert.deepEqual(out, [
        { id: '1', 'Finding Labels': 'A|B', n: '3' },
        { id: '3', 'Finding Labels': 'C', n: '4' },
      ]);
      assert.deepEqual(bad, [
        'x.csv.gz:3 malformed CSV row: 4 fields, header has 3',
        'x.csv.gz:5 malformed CSV row: 2 fields, header has 3',
      ]);
    });

    it('names missing required columns (XT_INVALID)', async () => {
      const f = path.join(dir, 'y.csv');
      fs.writeFileSync(f, 'a,b\n1,2\n');
      await assert.rejects(
        async () => {
          for await (const _ of readCsvRecords(f, { required: ['a', 'Path'] })) void _;
        },
        (e: Error & { code?: string }) => e.code === 'XT_INVALID' && /missing column\(s\) "Path"/.test(e.message) && e.message.includes(f),
      );
    });

    it('names an unreadable file (XT_IO)', async () => {
      await assert.rejects(
        async () => {
          for await (const _ of readCsvRecords(path.join(dir, 'nope.csv'))) void _;
        },
        (e: Error & { code?: string }) => e.code === 'XT_IO' && e.message.includes('nope.csv'),
      );
    });
  });

  it('streams the real NIH Data_Entry_2017_v2020.csv.gz (112,120 rows) with no malformed row', async function () {
    const f = requireShared(this, 'data', 'nih', 'Data_Entry_2017_v2020.csv.gz');
    let n = 0;
    let bad = 0;
    let last: Record<string, string> | undefined;
    for await (const r of readCsvRecords(f, { required: ['Image Index', 'Finding Labels'], onBad: () => bad++ })) {
      n++;
      last = r.row;
    }
    assert.equal(n, 112120);
    assert.equal(bad, 0);
    assert.equal(last!['Image Index'], '00030805_000.png');
  });
});
