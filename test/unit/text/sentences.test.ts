import { strict as assert } from 'assert';
import { OpenIReport, parseOpenIXml, reportSentences } from '../../../lib/text/reports';
import { splitSentences } from '../../../lib/text/sentences';
import { readTarFile } from '../../../lib/util/tar';
import { requireShared } from '../../helpers/shared';

describe('text: sentence splitting', function () {
  describe('rules', () => {
    it('abbreviations do not end sentences', () => {
      assert.deepEqual(splitSentences('Dr. Smith was notified. Approx. 2 cm nodule vs. granuloma, e.g. old infection, i.e. benign. Cf. prior.'), [
        'Dr. Smith was notified.',
        'Approx. 2 cm nodule vs. granuloma, e.g. old infection, i.e. benign.',
        'Cf. prior.',
      ]);
      assert.deepEqual(splitSentences('Seen at 9 a.m. on Monday. Stable etc. New finding.'), ['Seen at 9 a.m. on Monday.', 'Stable etc.', 'New finding.']);
      assert.deepEqual(splitSentences('Study No. 2 shows clear lungs. No effusion.'), ['Study No. 2 shows clear lungs.', 'No effusion.']);
    });

    it('decimals and measurements stay whole', () => {
      assert.deepEqual(splitSentences('A 3.5 cm mass. Another 1.2cm nodule measures 0.5 x 0.7 cm. 2.5 cm effusion.'), [
        'A 3.5 cm mass.',
        'Another 1.2cm nodule measures 0.5 x 0.7 cm.',
        '2.5 cm effusion.',
      ]);
    });

    it('numbered lists, inline and one per line, lose their markers', () => {
      const want = ['Cardiomegaly.', 'No effusion.', 'Old rib fracture'];
      assert.deepEqual(splitSentences('1. Cardiomegaly. 2. No effusion. 3. Old rib fracture'), want);
      assert.deepEqual(splitSentences('1. Cardiomegaly.\n2. No effusion.\n3. Old rib fracture'), want);
      assert.deepEqual(splitSentences('1) Cardiomegaly 2) No effusion'), ['Cardiomegaly', 'No effusion']);
      assert.deepEqual(splitSentences('- Cardiomegaly.\n- No effusion.'), ['Cardiomegaly.', 'No effusion.']);
      // Numbers that are not the next item stay in the text.
      assert.deepEqual(splitSentences('Fracture of rib 5. No effusion.'), ['Fracture of rib 5.', 'No effusion.']);
    });

    it('de-identification tokens are words; trivial fragments are dropped', () => {
      assert.deepEqual(splitSentences('Dr. ___ was paged on ___. ___. XXXX. No XXXX effusion. . 2.'), [
        'Dr. ___ was paged on ___.',
        'No XXXX effusion.',
      ]);
      assert.deepEqual(splitSentences('Chest: 1. Clear lungs. 2. Normal heart.'), ['Clear lungs.', 'Normal heart.']);
      assert.deepEqual(splitSentences('   \n  '), []);
      assert.deepEqual(splitSentences('XXXX.', { keepTrivial: true }), ['XXXX.']);
    });

    it('newlines inside sentences, paragraphs, a missing final period, a missing space', () => {
      assert.deepEqual(splitSentences('The heart\nis normal in\n size.  Lungs are\nclear\n\nNo effusion'), [
        'The heart is normal in size.',
        'Lungs are clear',
        'No effusion',
      ]);
      assert.deepEqual(splitSentences('Clear right lung XXXX.In the left lobe a mass. Is it new? Yes!'), [
        'Clear right lung XXXX.',
        'In the left lobe a mass.',
        'Is it new?',
        'Yes!',
      ]);
    });
  });

  describe('all 3,955 Open-I reports', function () {
    let reports: OpenIReport[];
    let sentences: Map<string, string[]>;

    before(function () {
      const tgz = requireShared(this as unknown as Mocha.Context, 'data', 'openi', 'NLMCXR_reports.tgz');
      reports = readTarFile(tgz)
        .filter((e) => e.name.endsWith('.xml'))
        .map((e) => parseOpenIXml(e.data.toString('utf8')));
      sentences = new Map(reports.map((r) => [r.id, reportSentences(r)]));
    });

    it('sentences per report (findings + impression) fall in the real ranges', () => {
      assert.equal(reports.length, 3955);
      const counts = reports.map((r) => (sentences.get(r.id) as string[]).length);
      const empty = reports.filter((r) => !r.sections.findings && !r.sections.impression).length;
      assert.equal(empty, 28);
      assert.equal(counts.filter((c) => c === 0).length, empty, 'only reports without findings and impression have no sentence');
      const total = counts.reduce((a, b) => a + b, 0);
      assert.ok(total > 22000 && total < 23800, `total ${total}`);
      const sorted = [...counts].sort((a, b) => a - b);
      const median = sorted[Math.floor(sorted.length / 2)];
      assert.equal(median, 5);
      const mean = total / counts.length;
      assert.ok(mean > 5.5 && mean < 6.1, `mean ${mean}`);
      const between = counts.filter((c) => c >= 3 && c <= 12).length / (counts.length - empty);
      assert.ok(between > 0.95, `${between} of reports have 3-12 sentences`);
      assert.ok(sorted[sorted.length - 1] <= 30, `max ${sorted[sorted.length - 1]}`);
      // Findings-only and impression-only selections split the same text.
      const f = reports.reduce((a, r) => a + reportSentences(r, 'findings').length, 0);
      const i = reports.reduce((a, r) => a + reportSentences(r, 'impression').length, 0);
      assert.equal(f + i, total);
      assert.ok(f > 2 * i && f < 2.7 * i, `findings ${f}, impression ${i}`);
    });

    it('every sentence is clean text taken from its report', () => {
      let n = 0;
      let inner = 0;
      for (const r of reports) {
        const source = [r.sections.findings, r.sections.impression].filter(Boolean).join(' ').replace(/\s+/g, ' ');
        for (const s of sentences.get(r.id) as string[]) {
          n++;
          assert.ok(source.includes(s), `report ${r.id}: ${JSON.stringify(s)} not in its text`);
          assert.equal(s, s.trim().replace(/\s+/g, ' '));
          assert.doesNotMatch(s, /^\d{1,2}[.)]\s/, `report ${r.id}: list marker left in ${JSON.stringify(s)}`);
          assert.match(s, /[A-Za-z]{2}/);
          assert.doesNotMatch(s, /:$/);
          // A sentence end inside a sentence only follows Dr./a.m./p.m.
          for (const m of s.matchAll(/(\S+)[.!?] (?=[A-Z])/g)) {
            inner++;
            assert.match(m[1], /^(Dr|a\.m|p\.m)$/, `report ${r.id}: ${JSON.stringify(s)}`);
          }
        }
      }
      assert.ok(n > 22000);
      assert.equal(inner, 12);
    });

    it('hand-checked tricky reports', () => {
      const expect: Record<string, string[]> = {
        // Several body parts, lists restarting at 1 after headings, Dr. with de-id.
        '206': [
          'Chest Comparison: There is a 2.6 cm diameter masslike density over the lingula partial obscuration left cardiac XXXX.',
          'There may be some ill-defined opacity in the right mid and lower lung zone.',
          'No pleural effusion is seen.',
          'The heart is borderline enlarged.',
          'The aorta is dilated and tortuous.',
          'Arthritic changes of the spine are present.',
          'Pelvis and left hip There is an impacted and rotated fracture through the neck of the femur on the left.',
          'No pelvic fracture is seen.',
          'Arthritic changes are present in the lower lumbar spine.',
          'Large amount of stool and XXXX obscures portions of the pelvis.',
          'Femur The femoral images do not XXXX the area of the hip fracture.',
          'The remaining portions of the femur appear to be intact with no fracture or destructive process.',
          'Extensive atherosclerotic vascular disease throughout the superficial femoral artery is present.',
          'Left knee There is osteoporosis and mild arthritic changes.',
          'No fracture is seen.',
          'No dislocation is identified.',
          'Severe atherosclerotic changes of the superficial femoral and popliteal artery are seen.',
          'Chest.',
          'Left lower lobe nodule which is worrisome.',
          'If there are no prior films available for comparison XXXX scan for further evaluation.',
          'Pelvis and left hip.',
          'Rotated subcapital fracture left hip.',
          'Femur.',
          'No fracture the remaining portions of the femur.',
          'Left knee.',
          'Normal for age.',
          'Dr. XXXX- XXXX was called and informed of these critical results at XXXX.',
        ],
        // 'Hand 1. …' and 'Chest 1. …': headings before list markers, final '. .'.
        '1350': [
          'Chest.',
          'No focal consolidation.',
          'No visualized pneumothorax.',
          'No large pleural effusions.',
          'The heart size is normal.',
          'No focal thoracic bony findings.',
          'Hand.',
          'There is also cortical and trabecular irregularity through the XXXX of the scaphoid.',
          'There is a small cortical lucency through the base of the fourth metacarpal that may be a vascular XXXX.',
          'Minimally displaced fracture through the XXXX of the scaphoid.',
          'Lucency through the base of the fourth metacarpal.',
          'This may represent a vascular XXXX or if XXXX tenderness exists over this location then fracture is more XXXX.',
          'No acute cardiopulmonary findings.',
        ],
        // Six-item list; 'XXXX/11. 3.' and decimals.
        '2642': [
          'Tracheostomy tube in satisfactory position with tip in the mid intrathoracic trachea.',
          'Ill-defined 2.5 cm x 1.9 cm irregular density in the left lower lung, XXXX lower lobe.',
          'This is superimposed on a background of probable emphysematous lung.',
          'Although this could be scar, concern is for nodule, and further evaluation XXXX chest is recommended.',
          "A message was left with doctor XXXX' service at 142 pm XXXX/11.",
          'Mild bilateral costophrenic XXXX blunting XXXX due to small bilateral pleural effusions versus due to the degree of lung hyperinflation.',
          'Osteopenia.',
          'Minimal loss of XXXX of an upper thoracic vertebra.',
          'Irregular 1.8 cm density projecting over the left posterior rib 8 XXXX callus with XXXX similar less severe changes involving the two subjacent ribs posteriorly.',
          'Heart size normal.',
        ],
        // '2. 1.4 cm …': a list marker followed by a decimal.
        '1668': [
          'No pneumothorax, pleural effusion, or focal airspace disease.',
          'There is a discrete 1.4 cm nodule within the anterior segment of the right lower lobe.',
          'The additional nodular opacities consistent with chronic granulomatous disease.',
          'Heart size normal.',
          'Cardiomediastinal silhouette is clear.',
          'Bony structures appear intact.',
          'Right unilateral nipple ring.',
          'Negative for acute cardiopulmonary disease.',
          '1.4 cm right lower lobe nodule, XXXX calcified granulomas disease.',
          'If patient high XXXX for pulmonary malignancy, consider cross-sectional imaging to verify.',
        ],
        // Lower-case sentence start after a period.
        '126': [
          'Vague increased opacity which appears to be within the left lower lobe.',
          'Question of this could be developing or resolving pneumonia.',
          'Lungs are otherwise clear.',
          'No pleural effusions or pneumothoraces.',
          'heart and mediastinum are stable normal size heart.',
          'Atherosclerotic vascular disease.',
          'Degenerative changes in the thoracic spine.',
          'Vague opacity at the left lung base which appears to be within the left lower lobe.',
          "This may represent resolving or developing pneumonia given the patient's history.",
        ],
        // p.m. and Dr. before de-id tokens; XML entities &lt; &gt;.
        '9': [
          'The XXXX examination consists of frontal and lateral radiographs of the chest.',
          'The cardiac silhouette is not enlarged.',
          'There has been apparent interval increase in low density convexity at the left cardiophrenic XXXX.',
          'Calcified granuloma is again seen in the right upper lobe.',
          'There is no consolidation, pleural effusion or pneumothorax.',
          'Increased size of density in the left cardiophrenic XXXX.',
          'Primary differential considerations include increased size of prominent epicardial fat, pericardial mass, pleural mass or cardiac aneurysm.',
          'CT chest with contrast is recommended.',
          'These findings and recommendations were discussed XXXX.',
          'XXXX by Dr. XXXX XXXX telephone at XXXX p.m. XXXX/XXXX.',
          'Dr. XXXX<XXXX>technologist receipt of the results.',
        ],
        // No space after a period ('XXXX.In').
        '60': [
          'Stable appearance of hiatal hernia.',
          'Clear right lung XXXX.',
          'In the left superior lower lobe there is a 1.9 x 1.8 cm round area of density which has increased in size compared to prior chest radiograph and recommend a XXXX chest, abdomen and pelvis with contrast as this area is suspicious for potential malignancy.',
          'Normal cardiac contour.',
          'No pneumothorax or pleural effusion.',
          'Round area of density measuring 1.9 x 1.8 cm in left superior lower lobe with interval increased size compared to prior imaging.',
          'Recommend XXXX chest, abdomen and pelvis with contrast for further evaluation.',
          'Dr. XXXX XXXX notified by the Veriphy critical result notification XXXX of the left pulmonary mass and recommended followup XXXX chest, abdomen and pelvis with contrast at XXXX XXXX/XXXX.',
        ],
        // Impression without a final period.
        '1015': [
          'Streaky and patchy bibasilar opacities, triangular density projected over the heart on the lateral view.',
          'No definite pleural effusion seen, no typical findings of pulmonary edema.',
          'Considering differences in technical factors XXXX stable cardiomediastinal silhouette with normal heart size.',
          'Bibasilar opacities, right greater than left, features suggest a combination of consolidation and atelectasis',
        ],
        // Stray final '. .' after a numbered impression.
        '1081': [
          'The lungs are hyperexpanded.',
          'Heart size normal.',
          'No mass or focal opacities seen.',
          'Stable degenerative changes of the thoracic spine.',
          'No acute cardiopulmonary process.',
          'Emphysematous changes in the lungs.',
        ],
      };
      for (const [id, want] of Object.entries(expect)) assert.deepEqual(sentences.get(id), want, `report ${id}`);
    });
  });
});
