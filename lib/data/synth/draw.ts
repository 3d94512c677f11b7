/**
 * Procedural chest-radiograph-like images (8-bit grey, PA view, patient's right on the image left).
 * Anatomy: body, lungs with vessel markings and ribs, mediastinum and trachea, heart, clavicles,
 * diaphragm domes and a gastric bubble. Findings are drawn large and high-contrast so that they stay
 * unambiguous at 64–96 px: a wide heart (cardiomegaly), basal fluid with a meniscus (effusion), a dark
 * lung rim without markings and a pleural line (pneumothorax), a large irregular dense area with air
 * bronchograms (consolidation), bilateral perihilar haze with Kerley lines (edema), small round dense
 * spots (nodule), and very bright tubes, lines and a pacemaker (support devices).
 * The pose, exposure and noise vary per image.
 */
import { Rng } from '../rng';
import type { SynthCase } from './case';

type Pt = [number, number];

const smooth = (e0: number, e1: number, x: number) => {
  const t = Math.min(1, Math.max(0, (x - e0) / (e1 - e0)));
  return t * t * (3 - 2 * t);
};

/** Distance from p to a polyline. */
function distPolyline(x: number, y: number, pts: Pt[]): number {
  let best = Infinity;
  for (let i = 0; i + 1 < pts.length; i++) {
    const pa = pts[i];
    const pb = pts[i + 1];
    const ax = pa[0];
    const ay = pa[1];
    const bx = pb[0];
    const by = pb[1];
    const vx = bx - ax;
    const vy = by - ay;
    const l2 = vx * vx + vy * vy || 1e-12;
    let t = ((x - ax) * vx + (y - ay) * vy) / l2;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    const dx = x - (ax + t * vx);
    const dy = y - (ay + t * vy);
    const d = dx * dx + dy * dy;
    if (d < best) best = d;
  }
  return Math.sqrt(best);
}

/** A quadratic Bézier as a polyline. */
function bezier(a: Pt, c: Pt, b: Pt, n = 12): Pt[] {
  const out: Pt[] = [];
  for (let i = 0; i <= n; i++) {
    const t = i / n;
    const u = 1 - t;
    out.push([u * u * a[0] + 2 * u * t * c[0] + t * t * b[0], u * u * a[1] + 2 * u * t * c[1] + t * t * b[1]]);
  }
  return out;
}

interface Line {
  pts: Pt[];
  width: number;
  value: number;
  box: [number, number, number, number];
}

function line(pts: Pt[], width: number, value: number): Line {
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  const m = width * 2;
  return { pts, width, value, box: [Math.min(...xs) - m, Math.min(...ys) - m, Math.max(...xs) + m, Math.max(...ys) + m] };
}

interface Blob {
  cx: number;
  cy: number;
  r: number;
  harmonics: [number, number, number][]; // amplitude, frequency, phase
}

const blobRadius = (b: Blob, x: number, y: number) => {
  const th = Math.atan2(y - b.cy, x - b.cx);
  let f = 1;
  for (const [a, k, ph] of b.harmonics) f += a * Math.sin(k * th + ph);
  return b.r * f;
};

/** Render one case to `size × size` grey pixels. */
export function drawCase(c: SynthCase, size: number, seed: number, index: number): Uint8Array {
  const r = new Rng(seed, index, 0xd4a7);
  const S = size;
  const out = new Uint8Array(S * S);

  // pose and exposure
  const shiftX = r.uniform(-0.03, 0.03);
  const shiftY = r.uniform(-0.03, 0.03);
  const scale = r.uniform(0.95, 1.05);
  const rot = (r.uniform(-3, 3) * Math.PI) / 180;
  const cosR = Math.cos(rot);
  const sinR = Math.sin(rot);
  const contrast = r.uniform(0.9, 1.1);
  const brightness = r.uniform(-0.05, 0.05);
  const noise = r.uniform(0.012, 0.025);

  // anatomy
  const lungW = r.uniform(0.14, 0.155);
  const lungH = r.uniform(0.28, 0.31);
  const lungY = r.uniform(0.46, 0.49);
  const lungs = [
    { side: 'right' as const, cx: 0.5 - r.uniform(0.17, 0.19), cy: lungY },
    { side: 'left' as const, cx: 0.5 + r.uniform(0.17, 0.19), cy: lungY },
  ];
  const thoraxW = lungs[1].cx + lungW - (lungs[0].cx - lungW);
  const heartRx = (c.heartSize * thoraxW) / 2;
  const heartRy = c.findings.has('Cardiomegaly') ? r.uniform(0.14, 0.16) : r.uniform(0.11, 0.13);
  const heartCx = 0.52 + heartRx * 0.18;
  const heartCy = lungY + lungH * 0.55;
  const domeY = lungY + lungH * 0.82;
  const ribPhase = r.uniform(0, 0.02);
  const vesselSeed = r.uniform(0, Math.PI * 2);

  // findings geometry
  const effSides = c.findings.has('Pleural Effusion')
    ? c.effusionSide === 'bilateral'
      ? ['right', 'left']
      : [c.effusionSide]
    : [];
  const effLevel = { small: 0.7, moderate: 0.6, large: 0.48 }[c.effusionSize] + r.uniform(-0.02, 0.02);
  const ptxFactor = c.pneumothoraxSize === 'large' ? r.uniform(0.38, 0.46) : r.uniform(0.5, 0.6);
  const consolidation: Blob | undefined = c.findings.has('Consolidation')
    ? {
        cx: (c.consolidationSide === 'right' ? lungs[0].cx : lungs[1].cx) + r.uniform(-0.03, 0.03),
        cy: c.consolidationZone === 'upper' ? lungY - lungH * r.uniform(0.35, 0.5) : lungY + lungH * r.uniform(0.15, 0.3),
        r: r.uniform(0.085, 0.11),
        harmonics: [
          [r.uniform(0.1, 0.2), 3, r.uniform(0, 6.28)],
          [r.uniform(0.05, 0.12), 5, r.uniform(0, 6.28)],
        ],
      }
    : undefined;
  const bronchi: Line[] = [];
  if (consolidation) {
    for (let k = 0; k < 3; k++) {
      const a = r.uniform(0, Math.PI * 2);
      const l = consolidation.r * 0.7;
      bronchi.push(line([[consolidation.cx, consolidation.cy], [consolidation.cx + l * Math.cos(a), consolidation.cy + l * Math.sin(a)]], 0.006, 0));
    }
  }
  const nodules: Blob[] = c.nodules.map((n) => {
    const lung = n.side === 'right' ? lungs[0] : lungs[1];
    const zy = { upper: -0.5, mid: -0.05, lower: 0.3 }[n.zone];
    return {
      cx: lung.cx + r.uniform(-0.06, 0.06) * (n.side === 'right' ? 1 : -1) - (n.side === 'right' ? 0.02 : -0.02),
      cy: lungY + lungH * (zy + r.uniform(-0.08, 0.08)),
      r: r.uniform(0.035, 0.048),
      harmonics: [],
    };
  });
  const kerley: Line[] = [];
  if (c.findings.has('Edema')) {
    for (const lung of lungs) {
      const lateral = lung.side === 'right' ? -1 : 1;
      for (let k = 0; k < 5; k++) {
        const y = lungY + lungH * r.uniform(0.15, 0.55);
        const x0 = lung.cx + lateral * lungW * 0.95;
        kerley.push(line([[x0, y], [x0 - lateral * r.uniform(0.04, 0.06), y]], 0.004, 0.3));
      }
    }
  }
  const devices: Line[] = [];
  for (const d of c.devices) {
    const v = 0.97;
    if (d === 'ett') devices.push(line([[0.5, -0.05], [0.5, r.uniform(0.28, 0.33)]], 0.012, v));
    else if (d === 'ngt')
      devices.push(line(bezier([0.49, -0.05], [0.47, 0.6], [0.62, r.uniform(0.84, 0.9)], 16), 0.009, v));
    else if (d === 'cvc') {
      const right = r.chance(0.6);
      const sx = right ? 0.24 : 0.76;
      devices.push(line(bezier([sx, 0.14], [right ? 0.42 : 0.58, 0.18], [0.48, lungY - 0.02]), 0.009, v));
    } else if (d === 'pacemaker') {
      devices.push(line([[0.7, 0.19], [0.8, 0.19]], 0.035, 0.99)); // the generator box
      devices.push(line(bezier([0.72, 0.2], [0.55, 0.3], [heartCx - heartRx * 0.2, heartCy + heartRy * 0.3]), 0.007, v));
    } else if (d === 'chest tube') {
      const right = c.pneumothoraxSide === 'right';
      const lung = right ? lungs[0] : lungs[1];
      const lat = right ? -1 : 1;
      devices.push(line(bezier([lung.cx + lat * (lungW + 0.06), lungY + lungH * 0.7], [lung.cx + lat * lungW, lungY], [lung.cx, lungY - lungH * 0.75]), 0.011, v));
    }
  }

  const clavicles = [
    line(
      [
        [0.2, 0.2],
        [0.46, 0.155],
      ],
      0.014,
      0.16,
    ),
    line(
      [
        [0.54, 0.155],
        [0.8, 0.2],
      ],
      0.014,
      0.16,
    ),
  ];
  // body coordinates of every pixel (inverse pose)
  const N = S * S;
  const X = new Float32Array(N);
  const Y = new Float32Array(N);
  for (let py = 0, k = 0; py < S; py++) {
    for (let px = 0; px < S; px++, k++) {
      const ix = (px + 0.5) / S - 0.5 - shiftX;
      const iy = (py + 0.5) / S - 0.5 - shiftY;
      X[k] = 0.5 + (cosR * ix + sinR * iy) / scale;
      Y[k] = 0.5 + (-sinR * ix + cosR * iy) / scale;
    }
  }
  const V = new Float32Array(N); // composite value
  const M = new Float32Array(N); // lung mask
  const LV = new Float32Array(N); // value inside the lungs
  const side = new Int8Array(N); // 0 right lung, 1 left lung
  const DH = new Float32Array(N); // distance to the hilum of that lung

  passBody(X, Y, V, domeY);
  passLungs(X, Y, M, LV, side, DH, lungs, lungW, lungH, lungY, domeY, ribPhase, vesselSeed);
  if (c.findings.has('Pneumothorax')) {
    const L = lungs[c.pneumothoraxSide === 'right' ? 0 : 1];
    passPneumothorax(X, Y, M, LV, side, c.pneumothoraxSide === 'right' ? 0 : 1, L.cx, L.cy, lungW, lungH, ptxFactor);
  }
  if (c.findings.has('Edema')) passEdema(M, LV, DH, 2 * (c.edemaSeverity === 'large' ? 0.16 : 0.13) ** 2, c.edemaSeverity === 'large' ? 0.42 : 0.36);
  if (effSides.length) passEffusion(X, Y, M, LV, side, effSides.includes('right'), effSides.includes('left'), effLevel);
  for (let k = 0; k < N; k++) if (M[k] > 0) V[k] = V[k] * (1 - M[k]) + LV[k] * M[k];
  passMediastinum(X, Y, V, lungY, domeY, heartCx, heartCy, heartRx, heartRy);
  for (const cl of clavicles) passLine(X, Y, V, cl, 'add', undefined);
  if (consolidation) passConsolidation(X, Y, V, M, consolidation, bronchi);
  for (const n of nodules) passNodule(X, Y, V, n);
  for (const k of kerley) passLine(X, Y, V, k, 'add-lung', M);
  for (const dv of devices) passLine(X, Y, V, dv, 'over', undefined);

  // exposure and noise (Irwin–Hall: the sum of a 32-bit draw's 4 bytes, ≈ normal; cheap, seeded)
  const noiseScale = (noise * Math.sqrt(3)) / 255;
  for (let k = 0; k < N; k++) {
    const u = r.u32();
    const nz = (u & 255) + ((u >>> 8) & 255) + ((u >>> 16) & 255) + (u >>> 24) - 510;
    const v = (V[k] - 0.5) * contrast + 0.5 + brightness + noiseScale * nz;
    out[k] = v <= 0 ? 0 : v >= 1 ? 255 : Math.round(v * 255);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Passes: small monomorphic loops (one big per-pixel function deoptimises on every new branch).

function passBody(X: Float32Array, Y: Float32Array, V: Float32Array, domeY: number): void {
  for (let k = 0; k < V.length; k++) {
    const x = X[k];
    const y = Y[k];
    const bx = (x - 0.5) / 0.47;
    const by = (y - 0.62) / 0.62;
    const bodyD = Math.sqrt(bx * bx + by * by);
    let v = 0.04 + 0.4 * (1 - smooth(0.97, 1.02, bodyD));
    if (Math.abs(x - 0.5) < 0.09 && y < 0.2) v = Math.max(v, 0.4);
    const t = (x - 0.5) / 0.3;
    const dome = domeY + 0.05 * t * t;
    if (y > dome && bodyD < 1) v = 0.5;
    V[k] = v;
  }
}

function passLungs(
  X: Float32Array,
  Y: Float32Array,
  M: Float32Array,
  LV: Float32Array,
  side: Int8Array,
  DH: Float32Array,
  lungs: { cx: number; cy: number }[],
  lungW: number,
  lungH: number,
  lungY: number,
  domeY: number,
  ribPhase: number,
  vesselSeed: number,
): void {
  const c0 = lungs[0].cx;
  const c1 = lungs[1].cx;
  const cy = lungs[0].cy;
  for (let k = 0; k < M.length; k++) {
    const x = X[k];
    const y = Y[k];
    const s = x < 0.5 ? 0 : 1;
    const lcx = s === 0 ? c0 : c1;
    const dx = (x - lcx) / lungW;
    const dy = (y - cy) / lungH;
    const d = Math.sqrt(dx * dx + (dy < 0 ? dy * dy * 1.1 : dy * dy * 0.8));
    if (d >= 1) continue;
    const t = (x - 0.5) / 0.3;
    const dome = domeY + 0.05 * t * t;
    const m = (1 - smooth(0.93, 1.0, d)) * (1 - smooth(dome - 0.01, dome + 0.01, y));
    if (m <= 0) continue;
    M[k] = m;
    side[k] = s;
    const hx = lcx + (s === 0 ? 0.07 : -0.07);
    const hy = lungY - 0.02;
    const dh = Math.sqrt((x - hx) * (x - hx) + (y - hy) * (y - hy));
    DH[k] = dh;
    const ang = Math.atan2(y - hy, x - hx);
    const sv = Math.max(0, Math.sin(ang * 14 + vesselSeed + dh * 20));
    const sv2 = sv * sv;
    const vessels = 0.08 * sv2 * sv2 * sv2 * Math.exp(-dh / 0.12);
    const rib = Math.sin(((y + 0.03 * dx * dx + ribPhase) / 0.062) * Math.PI * 2);
    LV[k] = 0.2 + vessels + 0.06 * smooth(0.6, 0.9, rib);
  }
}

function passPneumothorax(
  X: Float32Array,
  Y: Float32Array,
  M: Float32Array,
  LV: Float32Array,
  side: Int8Array,
  s: number,
  lcx: number,
  lcy: number,
  lungW: number,
  lungH: number,
  f: number,
): void {
  const cx2 = lcx + (s === 0 ? 1 : -1) * lungW * (1 - f) * 0.9;
  const cy2 = lcy + lungH * (1 - f) * 0.4;
  const rx = lungW * f;
  const ry = lungH * (0.35 + 0.65 * f);
  for (let k = 0; k < M.length; k++) {
    if (M[k] <= 0 || side[k] !== s) continue;
    const dx2 = (X[k] - cx2) / rx;
    const dy2 = (Y[k] - cy2) / ry;
    const d2 = Math.sqrt(dx2 * dx2 + dy2 * dy2);
    const outside = smooth(0.97, 1.01, d2);
    const e = (d2 - 1) * rx;
    const pleura = 0.28 * Math.exp(-(e * e) / (2 * 0.004 * 0.004));
    LV[k] = LV[k] * (1 - outside) + pleura;
  }
}

function passEdema(M: Float32Array, LV: Float32Array, DH: Float32Array, twoSigma2: number, amount: number): void {
  for (let k = 0; k < M.length; k++) if (M[k] > 0) LV[k] += amount * Math.exp(-(DH[k] * DH[k]) / twoSigma2);
}

function passEffusion(
  X: Float32Array,
  Y: Float32Array,
  M: Float32Array,
  LV: Float32Array,
  side: Int8Array,
  right: boolean,
  left: boolean,
  level0: number,
): void {
  for (let k = 0; k < M.length; k++) {
    if (M[k] <= 0) continue;
    if (side[k] === 0 ? !right : !left) continue;
    const lat = Math.min(1, Math.abs(X[k] - 0.5) / 0.33);
    const level = level0 - 0.07 * lat * lat;
    const fluid = smooth(level - 0.012, level + 0.012, Y[k]);
    LV[k] = LV[k] * (1 - fluid) + 0.56 * fluid;
  }
}

function passMediastinum(
  X: Float32Array,
  Y: Float32Array,
  V: Float32Array,
  lungY: number,
  domeY: number,
  hcx: number,
  hcy: number,
  hrx: number,
  hry: number,
): void {
  for (let k = 0; k < V.length; k++) {
    const x = X[k];
    const y = Y[k];
    let v = V[k];
    const t = (x - 0.5) / 0.3;
    const dome = domeY + 0.05 * t * t;
    const med = 1 - smooth(0.055, 0.07, Math.abs(x - 0.5));
    if (y > 0.1 && y < dome + 0.05) v = Math.max(v, 0.55 * med + v * (1 - med));
    if (Math.abs(x - 0.5) < 0.016 && y > 0.04 && y < lungY - 0.12) v = Math.min(v, 0.24);
    const hx = (x - hcx) / hrx;
    const hy = (y - hcy) / hry;
    const heart = 1 - smooth(0.95, 1.02, Math.sqrt(hx * hx + hy * hy));
    if (heart > 0 && y < dome + 0.03) v = v * (1 - heart) + 0.57 * heart;
    const gx = (x - 0.63) / 0.05;
    const gy = (y - (dome + 0.06)) / 0.03;
    const gb = Math.sqrt(gx * gx + gy * gy);
    if (gb < 1) v -= 0.2 * (1 - gb * gb);
    V[k] = v;
  }
}

function passLine(
  X: Float32Array,
  Y: Float32Array,
  V: Float32Array,
  ln: Line,
  how: 'add' | 'add-lung' | 'over',
  M: Float32Array | undefined,
): void {
  const [x0, y0, x1, y1] = ln.box;
  const w = ln.width;
  for (let k = 0; k < V.length; k++) {
    const x = X[k];
    const y = Y[k];
    if (x < x0 || x > x1 || y < y0 || y > y1) continue;
    const d = distPolyline(x, y, ln.pts);
    if (how === 'over') {
      const m = 1 - smooth(w * 0.6, w * 1.1, d);
      if (m > 0) V[k] = V[k] * (1 - m) + ln.value * m;
    } else if (how === 'add') {
      V[k] += ln.value * (1 - smooth(w * 0.57, w, d));
    } else {
      V[k] += 0.15 * (1 - smooth(w * 0.5, w * 1.5, d)) * M![k];
    }
  }
}

function passConsolidation(X: Float32Array, Y: Float32Array, V: Float32Array, M: Float32Array, b: Blob, bronchi: Line[]): void {
  const R = b.r * 1.5;
  for (let k = 0; k < V.length; k++) {
    const x = X[k];
    const y = Y[k];
    const dx = x - b.cx;
    const dy = y - b.cy;
    if (Math.abs(dx) > R || Math.abs(dy) > R) continue;
    const d = Math.sqrt(dx * dx + dy * dy);
    if (d >= R) continue;
    const rr = blobRadius(b, x, y);
    const m = (1 - smooth(rr * 0.85, rr * 1.05, d)) * M[k];
    if (m <= 0) continue;
    let cv = 0.6;
    for (const br of bronchi) if (distPolyline(x, y, br.pts) < br.width) cv = 0.42;
    V[k] = V[k] * (1 - m) + cv * m;
  }
}

function passNodule(X: Float32Array, Y: Float32Array, V: Float32Array, n: Blob): void {
  const R = n.r * 1.3;
  for (let k = 0; k < V.length; k++) {
    const dx = X[k] - n.cx;
    const dy = Y[k] - n.cy;
    if (Math.abs(dx) > R || Math.abs(dy) > R) continue;
    const m = 1 - smooth(n.r * 0.88, n.r * 1.02, Math.sqrt(dx * dx + dy * dy));
    if (m > 0) V[k] = V[k] * (1 - m) + 0.74 * m;
  }
}
