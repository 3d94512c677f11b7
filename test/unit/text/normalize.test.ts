import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { basicClean, clipNormalize, fixText, htmlUnescape, pyStrip, whitespaceClean } from '../../../lib/text/normalize';
import { repoRoot } from '../../helpers/shared';

interface NormCase {
  text: string;
  ftfy: string;
  basic: string;
  norm: string;
  unescape2: string;
}

const fixture = JSON.parse(
  fs.readFileSync(path.join(repoRoot, 'test', 'fixtures', 'text', 'clip_unicode_cases.json'), 'utf8'),
) as { normalization: NormCase[] };

describe('text: normalisation (Python html.unescape + ftfy subset)', () => {
  it('matches ftfy 6.3.1 fix_text, basic_clean and the CLIP normalisation on 15 tricky texts', () => {
    assert.equal(fixture.normalization.length, 15);
    for (const c of fixture.normalization) {
      const label = JSON.stringify(c.text);
      assert.equal(fixText(c.text), c.ftfy, `fixText ${label}`);
      assert.equal(basicClean(c.text), c.basic, `basicClean ${label}`);
      assert.equal(clipNormalize(c.text), c.norm, `clipNormalize ${label}`);
      assert.equal(htmlUnescape(htmlUnescape(c.text)), c.unescape2, `htmlUnescape×2 ${label}`);
    }
  });

  it('html.unescape: named (with and without ;), longest prefix, numeric and invalid references', () => {
    assert.equal(htmlUnescape('&lt;tag&gt; &amp;amp; &quot;q&quot;'), '<tag> &amp; "q"');
    assert.equal(htmlUnescape('&notin; &notit; &not'), '\u2209 \u00acit; \u00ac');
    assert.equal(htmlUnescape('&#65;&#x42;&#X43;&#0068'), 'ABCD');
    assert.equal(htmlUnescape('&#150; &#x80; &#13;'), '\u2013 \u20ac \r');
    assert.equal(htmlUnescape('&#xD800; &#1114112; &#99999999999999;'), '\ufffd \ufffd \ufffd');
    assert.equal(htmlUnescape('a&#1;b&#xFFFF;c&#x1FFFE;d'), 'abcd');
    assert.equal(htmlUnescape('&unknown; & &;'), '&unknown; & &;');
    assert.equal(htmlUnescape('&Jscr;ohn'), '\u{1d4a5}ohn');
  });

  it('ftfy parts: ligatures, widths, quotes, line breaks, controls, NFC; mojibake is not repaired', () => {
    assert.equal(fixText('\ufb01brosis \ufb02uid'), 'fibrosis fluid');
    assert.equal(fixText('\uff23\uff34\u3000\uff13\uff0e\uff15cm'), 'CT 3.5cm');
    assert.equal(fixText('\u2018a\u2019 \u201cb\u201d'), '\'a\' "b"');
    assert.equal(fixText('a\r\nb\rc'), 'a\nb\nc');
    assert.equal(fixText('x\u0000y\ufeffz\u001b[1mw'), 'xyzw');
    assert.equal(fixText('e\u0301'), '\u00e9');
    assert.equal(fixText('\u00e2\u20ac\u2122'), '\u00e2\u20ac\u2122'); // ftfy would repair this to '
    assert.equal(fixText('plain ASCII text, unchanged.'), 'plain ASCII text, unchanged.');
  });

  it('whitespace follows Python str.isspace, not JavaScript \\s', () => {
    assert.equal(whitespaceClean(' a\u001cb\u0085c\u00a0d \ufeffe '), 'a b c d \ufeffe');
    assert.equal(pyStrip('\u2003 x \u3000'), 'x');
    assert.equal(clipNormalize('  HEART   Size\n'), 'heart size');
  });
});
