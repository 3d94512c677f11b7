import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { detectFormat, openDataset } from '../../../lib/data/readers/index';
import { loadReport } from '../../../lib/data/readers/mimic';
import { resolveChexpertPath } from '../../../lib/data/readers/chexpert';
import { parsePythonStringList, PADCHEST_LABELS } from '../../../lib/data/readers/padchest';
import { CHEXPERT_LABELS, NIH_LABELS } from '../../../lib/data/labels';
import { decodeGreySharp as decodeGrey } from '../../../lib/data/images';
import { hashSplit } from '../../../lib/data/splits';
import type { StudyRecord } from '../../../lib/data/types';
import { fix, rmScratch, scratchCopy } from '../../helpers/data-fixtures';

const byId = (rs: StudyRecord[]) => Object.fromEntries(rs.map((r) => [r.id, r]));
const positives = (r: StudyRecord) =>
  Object.entries(r.labels)
    .filter(([, v]) => v === 1)
    .map(([k]) => k)
    .sort();

describe('data/readers', () => {
  it('detects every fixture layout', async () => {
    assert.equal(await detectFormat(fix('mimic')), 'mimic');
    assert.equal(await detectFormat(fix('chexpert', 'CheXpert-v1.0-small')), 'chexpert');
    assert.equal(await detectFormat(fix('nih')), 'nih');
    assert.equal(await detectFormat(fix('padchest')), 'padchest');
    assert.equal(await detectFormat(fix('openi')), 'openi');
    assert.equal(await detectFormat(fix('manifest')), 'manifest');
    assert.equal(await detectFormat(fix('manifest', 'manifest.csv')), 'manifest');
    await assert.rejects(detectFormat(fix('mimic', 'files')), (e: Error & { code?: string }) => e.code === 'XT_INVALID');
    await assert.rejects(openDataset('dicomdir' as never, fix('mimic')), /unknown dataset format "dicomdir"/);
  });

  describe('MIMIC-CXR-JPG', () => {
    const opts = { reports: fix('mimic', 'reports') };

    it('groups images by study in the pXX/pXXXXXXXX/sXXXXXXXX layout, with views, splits and labels by name', async () => {
      const ds = await openDataset('mimic', fix('mimic'), opts);
      assert.equal(ds.bad.count, 0);
      assert.deepEqual(
        ds.records.map((r) => r.id),
        ['s50414267', 's53189527', 's57375967', 's58913004'],
      );
      const r = byId(ds.records);
      assert.deepEqual(
        r.s50414267.images.map((p) => path.relative(fix('mimic'), p)),
        [
          'files/p10/p10000032/s50414267/02aa804e-bde0afdd-112c0b34-7bc16630-4e384014.jpg',
          'files/p10/p10000032/s50414267/174413ec-4ec4c1f7-34ea26b7-c5f994f8-79ef1962.jpg',
        ],
      );
      for (const rec of ds.records) for (const p of rec.images) assert.ok(fs.existsSync(p), p);
      assert.deepEqual(r.s50414267.views, ['PA', 'LATERAL']);
      assert.deepEqual(
        ds.records.map((x) => x.split),
        ['train', 'train', 'valid', 'test'],
      );
      // the split file's own name is kept beside the canonical one (issue 15, defect 6)
      assert.deepEqual(
        ds.records.map((x) => x.datasetSplit),
        [undefined, undefined, 'validate', undefined],
      );
      // 14 CheXpert-labeler columns, matched by name (MIMIC orders them alphabetically)
      assert.deepEqual([...ds.labelNames].sort(), [...CHEXPERT_LABELS].sort());
      const l = r.s53189527.labels;
      assert.equal(l.Cardiomegaly, 1);
      assert.equal(l.Edema, -1);
      assert.equal(l.Pneumothorax, 0);
      assert.equal(l['Support Devices'], 1);
      assert.equal(l.Atelectasis, null);
      assert.deepEqual(positives(r.s58913004), ['Lung Lesion', 'Pneumothorax']);
    });

    it('reads reports from a separate reports root and splits their sections', async () => {
      const r = byId((await openDataset('mimic', fix('mimic'), opts)).records);
      assert.match(r.s53189527.report!, /^Moderate cardiomegaly with mild pulmonary vascular congestion\./);
      assert.match(r.s53189527.report!, /Cardiomegaly, small right effusion, possible mild edema\.$/);
      assert.match(r.s53189527.sections!.indication, /cirrhosis, dyspnea/);
      assert.equal(r.s58913004.report, undefined, 'the study without a report file has none');
      // --reports may also name the files/ folder itself
      const viaFiles = byId((await openDataset('mimic', fix('mimic'), { reports: fix('mimic', 'reports', 'files') })).records);
      assert.equal(viaFiles.s53189527.report, r.s53189527.report);
      // without the reports root the fixture has no report files
      const bare = await openDataset('mimic', fix('mimic'));
      assert.ok(bare.records.every((x) => x.report === undefined));
    });

    it('lazy reports: records carry reportPath and loadReport gives the same text', async () => {
      const eager = byId((await openDataset('mimic', fix('mimic'), opts)).records);
      const lazy = (await openDataset('mimic', fix('mimic'), { ...opts, lazyReports: true })).records;
      for (const r of lazy) {
        assert.equal(r.report, undefined);
        assert.ok(r.reportPath);
        assert.equal(await loadReport(r), eager[r.id].report);
      }
    });

    it("selects MIMIC's validation studies by its own split name and by the canonical one", async () => {
      // train's validation split defaults to `valid`; `eval --split validate` names MIMIC's own split
      for (const name of ['validate', 'valid', 'VAL']) {
        const ds = await openDataset('mimic', fix('mimic'), { splits: [name] });
        assert.deepEqual(ds.records.map((x) => [x.id, x.split, x.datasetSplit]), [['s57375967', 'valid', 'validate']], name);
      }
      const m = await openDataset('manifest', fix('manifest'), { splits: ['validate'] });
      assert.deepEqual(m.records.map((x) => [x.id, x.split, x.datasetSplit]), [['b', 'valid', undefined]]);
    });

    it('filters views (metadata ViewPosition), applies the uncertain policy, and reads negbio labels', async () => {
      const pa = await openDataset('mimic', fix('mimic'), { ...opts, views: ['PA', 'AP'] });
      const r = byId(pa.records);
      assert.equal(r.s50414267.images.length, 1);
      assert.deepEqual(r.s57375967.views, ['AP']);
      const lat = await openDataset('mimic', fix('mimic'), { views: ['lateral'] });
      assert.deepEqual(
        lat.records.map((x) => x.id),
        ['s50414267'],
      );
      for (const [policy, want] of [
        ['keep', -1],
        ['ignore', null],
        ['zero', 0],
        ['one', 1],
      ] as const) {
        const d = await openDataset('mimic', fix('mimic'), { uncertain: policy });
        assert.equal(byId(d.records).s53189527.labels.Edema, want, policy);
        assert.equal(byId(d.records).s53189527.labels.Cardiomegaly, 1, policy);
      }
      const nb = byId((await openDataset('mimic', fix('mimic'), { labeler: 'negbio' })).records);
      assert.equal(nb.s53189527.labels.Edema, 1);
      assert.equal(nb.s57375967.labels.Atelectasis, 1);
    });

    it('counts malformed split/label rows by file:line and keeps going', async () => {
      const root = scratchCopy('mimic');
      try {
        const split = path.join(root, 'mimic-cxr-2.0.0-split.csv.gz');
        const text = zlib.gunzipSync(fs.readFileSync(split)).toString() + 'abc,not-a-number,10000032,train\n"unterminated,1,2,train\n';
        fs.writeFileSync(split, zlib.gzipSync(text));
        const lab = path.join(root, 'mimic-cxr-2.0.0-chexpert.csv.gz');
        const lt = zlib.gunzipSync(fs.readFileSync(lab)).toString().replace('10001217,58913004,,0.0', '10001217,58913004,,yes');
        fs.writeFileSync(lab, zlib.gzipSync(lt));
        const ds = await openDataset('mimic', root);
        assert.equal(ds.records.length, 4);
        assert.equal(ds.bad.count, 3);
        const reasons = ds.bad.examples.map((e) => `${path.basename(e.path)} ${e.reason}`);
        assert.ok(reasons.some((r) => /split\.csv\.gz:8 malformed CSV row: subject_id\/study_id/.test(r)), reasons.join('\n'));
        assert.ok(reasons.some((r) => /split\.csv\.gz:9 malformed CSV row: unterminated/.test(r)), reasons.join('\n'));
        assert.ok(reasons.some((r) => /chexpert\.csv\.gz:5 malformed label: column "Cardiomegaly" = "yes"/.test(r)), reasons.join('\n'));
        // the study whose label row was malformed is kept with unknown (null) labels, never guessed
        const s = byId(ds.records).s58913004;
        assert.ok(Object.values(s.labels).every((v) => v === null));
      } finally {
        rmScratch(root);
      }
    });
  });

  describe('CheXpert', () => {
    const root = fix('chexpert', 'CheXpert-v1.0-small');

    it('resolves Path against the root parent and groups views into studies', async () => {
      const ds = await openDataset('chexpert', root);
      assert.equal(ds.bad.count, 0);
      const r = byId(ds.records);
      assert.deepEqual(Object.keys(r), [
        'train/patient00001/study1',
        'train/patient00002/study2',
        'train/patient00003/study1',
        'valid/patient64541/study1',
        'test/patient64741/study1',
        'test/patient64742/study1',
        'test/patient64743/study1',
      ]);
      const s = r['train/patient00002/study2'];
      assert.deepEqual(
        s.images.map((p) => path.relative(root, p)),
        ['train/patient00002/study2/view1_frontal.jpg', 'train/patient00002/study2/view2_lateral.jpg'],
      );
      assert.deepEqual(s.views, ['AP', 'LATERAL']);
      assert.equal(s.labels.Cardiomegaly, -1);
      assert.equal(s.labels['Lung Opacity'], 1);
      assert.equal(s.labels['No Finding'], null);
      assert.equal(r['valid/patient64541/study1'].split, 'valid');
      for (const rec of ds.records) for (const p of rec.images) assert.ok(fs.existsSync(p), p);
      assert.deepEqual(resolveChexpertPath('/data/CheXpert-v1.0-small', 'CheXpert-v1.0-small/train/p/s/v.jpg').abs, '/data/CheXpert-v1.0-small/train/p/s/v.jpg');
    });

    it('test labels from groundtruth.csv keyed by Study, and a radiologist file with another column order, both by name', async () => {
      // the expected values are read here independently, by header name, from the real shared files' rows
      const table = (file: string) => {
        const [head, ...rows] = fs.readFileSync(file, 'utf8').trim().split(/\r?\n/).map((l) => l.split(','));
        return Object.fromEntries(rows.map((r) => [r[0].replace('CheXpert-v1.0/', ''), Object.fromEntries(head.map((h, i) => [h, Number(r[i])]))]));
      };
      const gt = table(path.join(root, 'test', 'groundtruth.csv'));
      const bc4 = table(fix('chexpert', 'radiologist_bc4.csv'));
      const a = byId((await openDataset('chexpert', root, { splits: ['test'] })).records);
      const b = byId((await openDataset('chexpert', root, { splits: ['test'], groundtruth: fix('chexpert', 'radiologist_bc4.csv') })).records);
      assert.equal(Object.keys(a).length, 3);
      for (const id of Object.keys(a)) {
        for (const name of CHEXPERT_LABELS) {
          assert.equal(a[id].labels[name], gt[id][name], `${id} ${name} (groundtruth)`);
          assert.equal(b[id].labels[name], bc4[id][name], `${id} ${name} (bc4)`);
        }
      }
      // the two files disagree where column positions would have swapped Lung Opacity and Lung Lesion
      assert.equal(a['test/patient64741/study1'].labels['Lung Opacity'], 1);
      assert.equal(b['test/patient64741/study1'].labels['Lung Opacity'], 0);
      assert.equal(b['test/patient64741/study1'].labels['Lung Lesion'], 0);
      assert.equal(a['test/patient64742/study1'].images.length, 2);
    });

    it('works when the dataset folder was renamed, and reports a missing test study folder', async () => {
      const copy = scratchCopy('chexpert/CheXpert-v1.0-small', 'chexpert-renamed');
      try {
        fs.rmSync(path.join(copy, 'test', 'patient64743'), { recursive: true });
        const ds = await openDataset('auto', copy);
        assert.equal(ds.format, 'chexpert');
        assert.equal(ds.records.length, 6);
        for (const rec of ds.records) for (const p of rec.images) assert.ok(fs.existsSync(p), p);
        assert.equal(ds.bad.count, 1);
        assert.match(ds.bad.examples[0].reason, /missing study folder: CheXpert-v1.0\/test\/patient64743\/study1/);
      } finally {
        rmScratch(copy);
      }
    });

    it('drops a study whose rows disagree on labels (never guesses) and counts it', async () => {
      const copy = scratchCopy('chexpert/CheXpert-v1.0-small');
      try {
        const f = path.join(copy, 'train.csv');
        const t = fs.readFileSync(f, 'utf8').replace('view2_lateral.jpg,Female,87,Lateral,,,,-1.0,1.0', 'view2_lateral.jpg,Female,87,Lateral,,,,1.0,1.0');
        fs.writeFileSync(f, t);
        const ds = await openDataset('chexpert', copy, { splits: ['train'] });
        assert.deepEqual(
          ds.records.map((r) => r.id),
          ['train/patient00001/study1', 'train/patient00003/study1'],
        );
        assert.match(ds.bad.examples[0].reason, /^conflicting labels/);
      } finally {
        rmScratch(copy);
      }
    });
  });

  describe('NIH ChestX-ray14', () => {
    it('reads the real rows: multi-hot Finding Labels, images in images_00x/images, official split lists', async () => {
      const ds = await openDataset('nih', fix('nih'));
      assert.equal(ds.bad.count, 0);
      assert.deepEqual(ds.labelNames, [...NIH_LABELS]);
      const r = byId(ds.records);
      assert.deepEqual(positives(r['00000013_005']), ['Emphysema', 'Infiltration', 'Pleural_Thickening', 'Pneumothorax']);
      assert.deepEqual(positives(r['00000032_001']), ['Cardiomegaly', 'Edema', 'Effusion']);
      assert.deepEqual(positives(r['00027426_000']), ['No Finding']);
      assert.equal(r['00000013_005'].labels.Atelectasis, 0);
      assert.equal(r['00000013_005'].view, 'AP');
      assert.equal(r['00000013_005'].split, 'test');
      assert.equal(r['00000001_000'].split, 'train');
      assert.equal(path.relative(fix('nih'), r['00000032_001'].images[0]), 'images_002/images/00000032_001.png');
    });

    it('flat image folder, patient-hash split without lists, and bad rows counted by file:line', async () => {
      const copy = scratchCopy('nih');
      try {
        for (const d of ['images_001/images', 'images_002/images'])
          for (const f of fs.readdirSync(path.join(copy, d))) fs.renameSync(path.join(copy, d, f), path.join(copy, f));
        fs.rmSync(path.join(copy, 'images_001'), { recursive: true });
        fs.rmSync(path.join(copy, 'images_002'), { recursive: true });
        fs.rmSync(path.join(copy, 'train_val_list.txt'));
        fs.rmSync(path.join(copy, 'test_list.txt'));
        fs.rmSync(path.join(copy, '00000003_001.png'));
        const csv = path.join(copy, 'Data_Entry_2017_v2020.csv.gz');
        const t =
          zlib.gunzipSync(fs.readFileSync(csv)).toString() +
          '00000099_000.png,Cardiomegaly|Flu,0,99,50,M,PA,2500,2048,0.1,0.1\n' +
          '00000099_001.png,No Finding|Edema,0,99,50,M,PA,2500,2048,0.1,0.1\n' +
          '00000099_002.png,Edema,0,99\n';
        fs.writeFileSync(csv, zlib.gzipSync(t));
        const ds = await openDataset('nih', copy);
        assert.equal(ds.records.length, 5);
        const r = byId(ds.records);
        // patient-hash split: the split follows the Patient ID column
        assert.equal(r['00000003_000'].split, hashSplit('3'));
        assert.equal(r['00000013_005'].split, hashSplit('13'));
        for (const rec of ds.records) assert.ok(['train', 'valid', 'test'].includes(rec.split));
        const reasons = ds.bad.examples.map((e) => `${path.basename(e.path)} ${e.reason}`);
        assert.equal(ds.bad.count, 4, reasons.join('\n'));
        assert.ok(reasons.some((x) => /^00000003_001\.png missing image/.test(x)));
        assert.ok(reasons.some((x) => /csv\.gz:8 malformed label: Finding Labels has unknown finding\(s\) "Flu"/.test(x)));
        assert.ok(reasons.some((x) => /csv\.gz:9 malformed label: "No Finding" together with findings/.test(x)));
        assert.ok(reasons.some((x) => /csv\.gz:10 malformed CSV row: 4 fields, header has 11/.test(x)));
      } finally {
        rmScratch(copy);
      }
    });
  });

  describe('PadChest', () => {
    it('parses Python-list Labels, groups ImageDir/ImageID images by StudyID, keeps the report', async () => {
      const ds = await openDataset('padchest', fix('padchest'));
      assert.equal(ds.bad.count, 0);
      assert.deepEqual(ds.labelNames, PADCHEST_LABELS);
      const [a, b, c] = ds.records;
      assert.equal(a.images.length, 2);
      assert.deepEqual(a.views, ['PA', 'LATERAL']);
      assert.deepEqual(positives(a), ['cardiomegaly', 'pleural effusion']);
      assert.equal(a.labels.pneumothorax, 0);
      assert.equal(a.report, 'derrame pleural derecho . cardiomegalia .');
      assert.deepEqual(positives(b), ['normal']);
      assert.deepEqual(positives(c), ['NSG tube', 'consolidation', 'pneumonia']);
      assert.equal(c.view, 'AP');
      for (const rec of ds.records) for (const p of rec.images) assert.ok(fs.existsSync(p), p);
      // 16-bit PNGs decode at full precision: min–max over the image spans 0..255
      const g = await decodeGrey(a.images[0], { mode: 'none' });
      assert.equal(Math.min(...g.data), 0);
      assert.equal(Math.max(...g.data), 255);
      const all = await openDataset('padchest', fix('padchest'), { labels: 'all' });
      assert.deepEqual(all.labelNames, ['NSG tube', 'cardiomegaly', 'consolidation', 'normal', 'pleural effusion', 'pneumonia']);
    });

    it('parsePythonStringList', () => {
      assert.deepEqual(parsePythonStringList("['pleural effusion', ' cardiomegaly']"), ['pleural effusion', 'cardiomegaly']);
      assert.deepEqual(parsePythonStringList(`["it's", 'a\\'b', ]`), ["it's", "a'b"]);
      assert.deepEqual(parsePythonStringList('[]'), []);
      assert.deepEqual(parsePythonStringList("['']"), ['']);
      assert.equal(parsePythonStringList('nan'), undefined);
      assert.equal(parsePythonStringList("['a'"), undefined);
      assert.equal(parsePythonStringList("['a' 'b']"), undefined);
    });

    it('counts rows with unusable Labels', async () => {
      const copy = scratchCopy('padchest');
      try {
        const f = path.join(copy, 'PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv.gz');
        const lines = zlib.gunzipSync(fs.readFileSync(f)).toString().trim().split('\n');
        assert.ok(lines[3].includes(",['normal'],"));
        const bad1 = lines[3].replace(",['normal'],", ',nan,');
        const bad2 = lines[3].replace(",['normal'],", ',[],').replace(/^[^,]+/, 'x.png');
        fs.writeFileSync(f, zlib.gzipSync([lines[0], lines[1], lines[2], bad1, bad2, lines[4]].join('\n') + '\n'));
        const ds = await openDataset('padchest', copy);
        assert.equal(ds.records.length, 2);
        assert.deepEqual(
          ds.bad.examples.map((e) => e.reason.replace(/ = .*/, '')),
          ['malformed label: Labels', 'malformed label: Labels is an empty list'],
        );
      } finally {
        rmScratch(copy);
      }
    });
  });

  describe('Open-I', () => {
    it('reads the real XML reports: sections, MeSH major labels, parentImage PNGs', async () => {
      const ds = await openDataset('openi', fix('openi'));
      assert.equal(ds.bad.count, 0);
      const r = byId(ds.records);
      assert.deepEqual(Object.keys(r), ['CXR1', 'CXR2', 'CXR4']);
      assert.deepEqual(positives(r.CXR1), ['No Finding']);
      assert.deepEqual(positives(r.CXR2), ['Cardiomegaly']);
      assert.deepEqual(positives(r.CXR4), ['Lung Opacity']);
      assert.equal(r.CXR1.sections!.indication, 'Positive TB test');
      assert.match(r.CXR1.report!, /^The cardiac silhouette and mediastinum size are within normal limits\./);
      assert.match(r.CXR1.report!, /Normal chest x-XXXX\.$/);
      assert.deepEqual(
        r.CXR1.images.map((p) => path.basename(p)),
        ['CXR1_1_IM-0001-3001.png', 'CXR1_1_IM-0001-4001.png'],
      );
    });

    it('counts reports without images and missing PNGs', async () => {
      const copy = scratchCopy('openi');
      try {
        fs.rmSync(path.join(copy, 'NLMCXR_png', 'CXR2_IM-0652-1001.png'));
        fs.rmSync(path.join(copy, 'NLMCXR_png', 'CXR2_IM-0652-2001.png'));
        fs.rmSync(path.join(copy, 'NLMCXR_png', 'CXR4_IM-2050-2001.png'));
        const ds = await openDataset('openi', copy);
        assert.deepEqual(
          ds.records.map((r) => `${r.id}:${r.images.length}`),
          ['CXR1:2', 'CXR4:1'],
        );
        assert.equal(ds.bad.count, 3);
        assert.ok(ds.bad.examples.every((e) => /^missing image: CXR[24]_IM-.*\.png \(listed in .*\.xml\)$/.test(e.reason)));
      } finally {
        rmScratch(copy);
      }
    });
  });

  describe('generic manifest', () => {
    it('JSONL and CSV give the same records; images relative to the manifest', async () => {
      const j = await openDataset('manifest', fix('manifest'));
      const c = await openDataset('manifest', fix('manifest', 'manifest.csv'));
      assert.equal(j.bad.count + c.bad.count, 0);
      assert.deepEqual(
        j.records.map((r) => [r.id, r.split, r.images[0], r.labels]),
        c.records.map((r) => [r.id, r.split, r.images[0], r.labels]),
      );
      assert.equal(j.records[0].images[0], fix('manifest', 'images', 'a.png'));
      assert.deepEqual(j.records[2].labels, { Cardiomegaly: -1, 'Pleural Effusion': null });
      assert.equal(j.records[2].report, undefined, 'an empty report is no report');
      assert.equal(c.records[1].report, 'Small left pleural effusion, "new".');
    });

    it('names the field of every bad row and fills labels a row does not mention with null', async () => {
      const copy = scratchCopy('manifest');
      try {
        const f = path.join(copy, 'manifest.jsonl');
        fs.appendFileSync(
          f,
          [
            '{"id":"d","image":"images/a.png","labels":{"Edema":1}}',
            '{"id":"e","labels":{}}',
            '{"id":"f","image":"images/a.png","labels":{"Edema":2}}',
            '{"id":"a","image":"images/a.png"}',
            '{not json',
            '{"id":"g","image":"images/a.png","labels":[1]}',
            '',
          ].join('\n'),
        );
        const ds = await openDataset('manifest', copy);
        assert.deepEqual(
          ds.records.map((r) => r.id),
          ['a', 'b', 'c', 'd'],
        );
        assert.deepEqual(ds.records[3].labels, { Edema: 1, Cardiomegaly: null, 'Pleural Effusion': null });
        assert.equal(ds.records[0].labels.Edema, null);
        assert.equal(ds.records[3].split, 'train');
        const reasons = ds.bad.examples.map((e) => `${path.basename(e.path)} ${e.reason}`);
        assert.deepEqual(reasons.map((r) => r.replace(/: (Unexpected|Expected).*/, '')), [
          'manifest.jsonl:5 missing field: "image" (or "images")',
          'manifest.jsonl:6 invalid label: "labels.Edema" = 2, expected 1, 0, -1 or null',
          'manifest.jsonl:7 duplicate id: "a" appears earlier in the manifest',
          'manifest.jsonl:8 malformed JSON row',
          'manifest.jsonl:9 invalid field: "labels" must be an object {name: 1|0|-1|null}',
        ]);
      } finally {
        rmScratch(copy);
      }
    });

    it('scales: 120,000 JSONL rows read as records in a few seconds', async function () {
      this.timeout(60000);
      const copy = scratchCopy('manifest');
      try {
        const n = 120000;
        const lines: string[] = [];
        for (let i = 0; i < n; i++)
          lines.push(JSON.stringify({ id: `s${i}`, image: `images/${i % 3 === 0 ? 'a.png' : 'b.jpg'}`, report: 'No acute process.', labels: { Edema: i % 2 }, split: i % 10 ? 'train' : 'test' }));
        fs.writeFileSync(path.join(copy, 'manifest.jsonl'), lines.join('\n') + '\n');
        const t0 = Date.now();
        const ds = await openDataset('manifest', copy);
        const s = (Date.now() - t0) / 1000;
        assert.equal(ds.records.length, n);
        assert.equal(ds.records[n - 1].labels.Edema, 1);
        assert.ok(s < 20, `took ${s} s`);
      } finally {
        rmScratch(copy);
      }
    });
  });
});
