/** A tiny DICOM Part-10 writer for tests: native pixel data, explicit VR (little or big endian). */

export interface DicomSpec {
  rows: number;
  cols: number;
  bitsAllocated: 8 | 16;
  bitsStored?: number;
  signed?: boolean;
  photometric?: string;
  /** Stored values (before masking to bitsStored). */
  pixels: ArrayLike<number>;
  slope?: number;
  intercept?: number;
  center?: number | string;
  width?: number | string;
  voiFunction?: string;
  voiLut?: { first: number; bits: number; data: number[] };
  bigEndian?: boolean;
}

type El = { tag: number; vr: string; value: Buffer };

function str(s: string, pad = ' '): Buffer {
  return Buffer.from(s.length % 2 ? s + pad : s, 'latin1');
}

function encode(els: El[], be: boolean): Buffer {
  const parts: Buffer[] = [];
  for (const e of els.sort((a, b) => a.tag - b.tag)) {
    const long = ['OB', 'OW', 'SQ', 'UN', 'UT'].includes(e.vr);
    const h = Buffer.alloc(long ? 12 : 8);
    const w16 = (v: number, o: number) => (be ? h.writeUInt16BE(v, o) : h.writeUInt16LE(v, o));
    w16(e.tag >>> 16, 0);
    w16(e.tag & 0xffff, 2);
    h.write(e.vr, 4, 'latin1');
    if (long) be ? h.writeUInt32BE(e.value.length, 8) : h.writeUInt32LE(e.value.length, 8);
    else w16(e.value.length, 6);
    parts.push(h, e.value);
  }
  return Buffer.concat(parts);
}

export function writeDicom(spec: DicomSpec): Buffer {
  const be = !!spec.bigEndian;
  const us = (...v: number[]) => {
    const b = Buffer.alloc(2 * v.length);
    v.forEach((x, i) => (be ? b.writeUInt16BE(x & 0xffff, 2 * i) : b.writeUInt16LE(x & 0xffff, 2 * i)));
    return b;
  };
  const ts = be ? '1.2.840.10008.1.2.2' : '1.2.840.10008.1.2.1';
  const metaEls: El[] = [
    { tag: 0x00020001, vr: 'OB', value: Buffer.from([0, 1]) },
    { tag: 0x00020002, vr: 'UI', value: str('1.2.840.10008.5.1.4.1.1.1.1', '\0') },
    { tag: 0x00020003, vr: 'UI', value: str('1.2.3.4', '\0') },
    { tag: 0x00020010, vr: 'UI', value: str(ts, '\0') },
  ];
  const metaBody = encode(metaEls, false);
  const glen = Buffer.alloc(4);
  glen.writeUInt32LE(metaBody.length);
  const meta = Buffer.concat([encode([{ tag: 0x00020000, vr: 'UL', value: glen }], false), metaBody]);

  const n = spec.rows * spec.cols;
  const bytes = spec.bitsAllocated / 8;
  const px = Buffer.alloc(n * bytes + ((n * bytes) % 2));
  for (let i = 0; i < n; i++) {
    const v = spec.pixels[i] & (spec.bitsAllocated === 8 ? 0xff : 0xffff);
    if (bytes === 1) px[i] = v;
    else be ? px.writeUInt16BE(v, 2 * i) : px.writeUInt16LE(v, 2 * i);
  }
  const els: El[] = [
    { tag: 0x00280002, vr: 'US', value: us(1) },
    { tag: 0x00280004, vr: 'CS', value: str(spec.photometric ?? 'MONOCHROME2') },
    { tag: 0x00280010, vr: 'US', value: us(spec.rows) },
    { tag: 0x00280011, vr: 'US', value: us(spec.cols) },
    { tag: 0x00280100, vr: 'US', value: us(spec.bitsAllocated) },
    { tag: 0x00280101, vr: 'US', value: us(spec.bitsStored ?? spec.bitsAllocated) },
    { tag: 0x00280102, vr: 'US', value: us((spec.bitsStored ?? spec.bitsAllocated) - 1) },
    { tag: 0x00280103, vr: 'US', value: us(spec.signed ? 1 : 0) },
    { tag: 0x7fe00010, vr: spec.bitsAllocated === 8 ? 'OB' : 'OW', value: px },
  ];
  if (spec.center !== undefined) els.push({ tag: 0x00281050, vr: 'DS', value: str(String(spec.center)) });
  if (spec.width !== undefined) els.push({ tag: 0x00281051, vr: 'DS', value: str(String(spec.width)) });
  if (spec.intercept !== undefined) els.push({ tag: 0x00281052, vr: 'DS', value: str(String(spec.intercept)) });
  if (spec.slope !== undefined) els.push({ tag: 0x00281053, vr: 'DS', value: str(String(spec.slope)) });
  if (spec.voiFunction) els.push({ tag: 0x00281056, vr: 'CS', value: str(spec.voiFunction) });
  if (spec.voiLut) {
    const l = spec.voiLut;
    const item = encode(
      [
        { tag: 0x00283002, vr: 'US', value: us(l.data.length, l.first, l.bits) },
        { tag: 0x00283006, vr: 'OW', value: us(...l.data) },
      ],
      be,
    );
    const ih = Buffer.alloc(8);
    if (be) {
      ih.writeUInt16BE(0xfffe, 0);
      ih.writeUInt16BE(0xe000, 2);
      ih.writeUInt32BE(item.length, 4);
    } else {
      ih.writeUInt16LE(0xfffe, 0);
      ih.writeUInt16LE(0xe000, 2);
      ih.writeUInt32LE(item.length, 4);
    }
    els.push({ tag: 0x00283010, vr: 'SQ', value: Buffer.concat([ih, item]) });
  }
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM', 'latin1'), meta, encode(els, be)]);
}
