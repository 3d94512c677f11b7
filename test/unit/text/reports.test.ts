import { strict as assert } from 'assert';
import { isXtError } from '../../../lib/native';
import {
  OpenIReport,
  parseOpenIXml,
  parseReport,
  parseTextReport,
  reportSentences,
  selectSections,
  selectText,
} from '../../../lib/text/reports';
import { readTarFile } from '../../../lib/util/tar';
import { requireShared } from '../../helpers/shared';

// MIMIC-CXR style free text (written in the dataset's layout; MIMIC itself is credentialed).
const MIMIC_1 = `                                 FINAL REPORT
 EXAMINATION:  CHEST (PA AND LAT)
 
 INDICATION:  ___F with new onset ascites  // eval for infection
 
 TECHNIQUE:  Chest PA and lateral
 
 COMPARISON:  None.
 
 FINDINGS: 
 
 There is no focal consolidation, pleural effusion or pneumothorax.  Bilateral
 nodular opacities that most likely represent nipple shadows. The
 cardiomediastinal silhouette is normal.  Clips project over the left lung,
 potentially within the breast. The imaged upper abdomen is unremarkable.
 Chronic deformity of the posterior left sixth and seventh ribs are noted.
 
 IMPRESSION: 
 
 No acute cardiopulmonary process.
`;

const MIMIC_2 = ` WET READ: ___ ___ ___ 10:41 PM
  Mild pulmonary edema.
 ______________________________________________________________________________
                                 FINAL REPORT
 HISTORY:  Shortness of breath.
 
 Impression:  1. Mild pulmonary edema, slightly improved compared to ___.
 2. Small bilateral pleural effusions.  Dr. ___ was paged at 10:40 p.m. on ___
 with these findings.
 3. Approx. 3.5 cm nodule in the right upper lobe, e.g. a granuloma
`;

const MIMIC_3 = `                                 FINAL REPORT
 PORTABLE CHEST ___ AT 08:15

 REASON FOR EXAMINATION:  Evaluate line placement.

 Findings and impression :
 Right internal jugular catheter tip is in the mid SVC.  No pneumothorax.
 LUNGS: Low volumes with bibasilar atelectasis.
 Recommendation(s):  Follow-up radiograph.
`;

const MIMIC_NO_HEADERS = `                                 FINAL REPORT
 PORTABLE CHEST ___ AT 08:15
 Comparison is made to prior study from ___.
 The ET tube is 4 cm above the carina. Lungs are clear.
`;

function expectXt(f: () => unknown, code: string, re: RegExp): void {
  assert.throws(f, (e: unknown) => isXtError(e) && (e as { code: string }).code === code && re.test((e as Error).message));
}

describe('text: report parsing', function () {
  let openi: Map<string, OpenIReport>;

  before(function () {
    const tgz = requireShared(this as unknown as Mocha.Context, 'data', 'openi', 'NLMCXR_reports.tgz');
    openi = new Map();
    for (const e of readTarFile(tgz)) {
      if (!e.name.endsWith('.xml')) continue;
      const r = parseOpenIXml(e.data.toString('utf8'));
      openi.set(r.id, r);
    }
  });

  it('MIMIC-CXR: FINAL REPORT banner, all six sections, text on following lines, ___ kept', () => {
    const r = parseReport(MIMIC_1);
    assert.equal(r.format, 'mimic');
    assert.deepEqual(r.order, ['examination', 'indication', 'technique', 'comparison', 'findings', 'impression']);
    assert.equal(r.sections.examination, 'CHEST (PA AND LAT)');
    assert.equal(r.sections.indication, '___F with new onset ascites  // eval for infection');
    assert.equal(r.sections.comparison, 'None.');
    assert.equal(r.sections.impression, 'No acute cardiopulmonary process.');
    assert.equal(r.body, '');
    assert.deepEqual(reportSentences(r), [
      'There is no focal consolidation, pleural effusion or pneumothorax.',
      'Bilateral nodular opacities that most likely represent nipple shadows.',
      'The cardiomediastinal silhouette is normal.',
      'Clips project over the left lung, potentially within the breast.',
      'The imaged upper abdomen is unremarkable.',
      'Chronic deformity of the posterior left sixth and seventh ribs are noted.',
      'No acute cardiopulmonary process.',
    ]);
    assert.deepEqual(reportSentences(r, 'impression'), ['No acute cardiopulmonary process.']);
    assert.equal(reportSentences(r, 'findings').length, 6);
  });

  it('MIMIC-CXR: wet read, mixed-case header, numbered list over lines, abbreviations, no final period', () => {
    const r = parseTextReport(MIMIC_2);
    assert.deepEqual(r.order, ['wet read', 'indication', 'impression']);
    // No findings: 'both' gives the impression alone.
    assert.deepEqual(reportSentences(r), [
      'Mild pulmonary edema, slightly improved compared to ___.',
      'Small bilateral pleural effusions.',
      'Dr. ___ was paged at 10:40 p.m. on ___ with these findings.',
      'Approx. 3.5 cm nodule in the right upper lobe, e.g. a granuloma',
    ]);
    assert.deepEqual(selectSections(r, 'findings'), []);
  });

  it('combined "Findings and impression :" header, unknown WORD: lines kept, recommendation split off', () => {
    const r = parseTextReport(MIMIC_3);
    assert.deepEqual(r.order, ['indication', 'findings', 'recommendation']);
    assert.equal(r.body, 'PORTABLE CHEST ___ AT 08:15');
    assert.deepEqual(reportSentences(r), [
      'Right internal jugular catheter tip is in the mid SVC.',
      'No pneumothorax.',
      'LUNGS: Low volumes with bibasilar atelectasis.',
    ]);
  });

  it('reports without section headers fall back to the body text (unless told not to)', () => {
    const r = parseTextReport(MIMIC_NO_HEADERS);
    assert.deepEqual(r.order, []);
    assert.deepEqual(reportSentences(r), [
      'PORTABLE CHEST ___ AT 08:15 Comparison is made to prior study from ___.',
      'The ET tube is 4 cm above the carina.',
      'Lungs are clear.',
    ]);
    assert.deepEqual(selectSections(r, 'both', { bodyFallback: false }), []);
  });

  it('plain text with inline upper-case headers; section lists and bad selections', () => {
    const r = parseReport('Indication: cough. FINDINGS: Heart is normal. Lungs clear IMPRESSION: No acute disease');
    assert.equal(r.format, 'plain');
    assert.deepEqual(r.order, ['indication', 'findings', 'impression']);
    assert.equal(selectText(r), 'Heart is normal. Lungs clear\n\nNo acute disease');
    assert.deepEqual(reportSentences(r), ['Heart is normal.', 'Lungs clear', 'No acute disease']);
    assert.deepEqual(selectSections(r, ['Impression', 'indication']), ['cough.', 'No acute disease']);
    expectXt(() => selectSections(r, 'everything' as never), 'XT_INVALID', /sections/);
  });

  it('Open-I XML: sections by Label, MeSH major/automatic, parentImage ids (report 3029)', () => {
    const r = openi.get('3029') as OpenIReport;
    assert.equal(r.format, 'openi');
    assert.equal(r.uid, 'CXR3029');
    assert.deepEqual(r.order, ['comparison', 'indication', 'findings', 'impression']);
    assert.equal(r.sections.comparison, 'Chest radiograph on XXXX.');
    assert.equal(r.sections.indication, 'XXXX yr old female with dyspnea.');
    assert.equal(
      r.sections.findings,
      'Normal cardiac contour. Clear lung XXXX bilaterally. No pleural effusion or pneumothorax. Degenerative seen throughout cervical spine.',
    );
    assert.equal(r.sections.impression, 'No acute cardiopulmonary abnormalities.');
    assert.deepEqual(r.meshMajor, ['Cervical Vertebrae/degenerative']);
    assert.deepEqual(r.meshAutomatic, ['Cervical Vertebrae']);
    assert.deepEqual(r.imageIds, ['CXR3029_IM-1404-1001', 'CXR3029_IM-1404-2001']);
    const r2 = openi.get('2') as OpenIReport;
    assert.deepEqual(r2.meshMajor, ['Cardiomegaly/borderline', 'Pulmonary Artery/enlarged']);
  });

  it('Open-I XML: empty (self-closing) FINDINGS, XML entities decoded', () => {
    const r = openi.get('1002') as OpenIReport;
    assert.deepEqual(r.order, ['indication', 'impression']);
    assert.deepEqual(reportSentences(r), ['Status post left mastectomy.', 'Heart size normal.', 'Lungs are clear.']);
    assert.ok((openi.get('9') as OpenIReport).sections.impression.endsWith('Dr. XXXX<XXXX>technologist receipt of the results.'));
    assert.equal(openi.size, 3955);
    let withMesh = 0;
    let images = 0;
    for (const x of openi.values()) {
      if (x.meshMajor.length) withMesh++;
      images += x.imageIds.length;
    }
    assert.equal(withMesh, 3955);
    assert.ok(images > 7400 && images < 7500, `${images} images`);
    expectXt(() => parseOpenIXml('<html></html>'), 'XT_INVALID', /Open-I/);
  });
});
