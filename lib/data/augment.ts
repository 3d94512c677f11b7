/**
 * Seeded training augmentation on a decoded grey image: random resized crop (area scale 0.8–1.0,
 * aspect 3/4–4/3, as torchvision's RandomResizedCrop), a small rotation about the crop centre, and
 * brightness/contrast jitter (as torchvision's ColorJitter). One affine warp with bilinear sampling
 * straight to the output size; pixels from outside the source are black. Parameters are drawn from an
 * `Rng`, so a (seed, epoch, sample) triple always gives the same image.
 * The result is 8-bit grey again (rounded to the nearest level), as torchvision's transforms on PIL images
 * give it: the model input crosses into the addon as bytes and is normalised there.
 */
import type { GreyImage } from './images';
import type { Rng } from './rng';

export interface AugmentOptions {
  /** Crop area as a fraction of the source area (default [0.8, 1.0]). */
  scale?: [number, number];
  /** Crop aspect ratio range w/h (default [3/4, 4/3]). */
  ratio?: [number, number];
  /** Largest rotation in degrees, either way (default 10). */
  rotate?: number;
  /** Brightness factor drawn from [1 − b, 1 + b] (default 0.2). */
  brightness?: number;
  /** Contrast factor drawn from [1 − c, 1 + c] (default 0.2). */
  contrast?: number;
}

export interface AugmentParams {
  /** Crop centre in source pixels. */
  cx: number;
  cy: number;
  /** Crop size in source pixels. */
  cw: number;
  ch: number;
  /** Rotation in radians (counter-clockwise as seen). */
  angle: number;
  brightness: number;
  contrast: number;
}

/** The identity: the whole source, no rotation, no jitter. */
export function identityAugment(w: number, h: number): AugmentParams {
  return { cx: w / 2, cy: h / 2, cw: w, ch: h, angle: 0, brightness: 1, contrast: 1 };
}

/** Draw augmentation parameters for a source of size w × h. */
export function sampleAugment(rng: Rng, w: number, h: number, opts: AugmentOptions = {}): AugmentParams {
  const [s0, s1] = opts.scale ?? [0.8, 1.0];
  const [r0, r1] = opts.ratio ?? [3 / 4, 4 / 3];
  const maxDeg = opts.rotate ?? 10;
  const b = opts.brightness ?? 0.2;
  const c = opts.contrast ?? 0.2;
  const area = w * h;
  let cw = 0;
  let ch = 0;
  let cx = w / 2;
  let cy = h / 2;
  let found = false;
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * rng.uniform(s0, s1);
    const logR = rng.uniform(Math.log(r0), Math.log(r1));
    const ratio = Math.exp(logR);
    const tw = Math.sqrt(target * ratio);
    const th = Math.sqrt(target / ratio);
    if (tw <= w && th <= h) {
      cw = tw;
      ch = th;
      cx = tw / 2 + rng.uniform(0, w - tw);
      cy = th / 2 + rng.uniform(0, h - th);
      found = true;
      break;
    }
  }
  if (!found) {
    // fall back to the largest centred crop within the ratio range
    const inRatio = w / h;
    if (inRatio < r0) {
      cw = w;
      ch = w / r0;
    } else if (inRatio > r1) {
      ch = h;
      cw = h * r1;
    } else {
      cw = w;
      ch = h;
    }
  }
  const angle = (rng.uniform(-maxDeg, maxDeg) * Math.PI) / 180;
  return { cx, cy, cw, ch, angle, brightness: rng.uniform(1 - b, 1 + b), contrast: rng.uniform(1 - c, 1 + c) };
}

/**
 * Warp `src` by `p` into a size × size image (bilinear; black outside the source), then apply brightness and
 * contrast (around the warped image's mean), clamped to [0, 255] and rounded to 8-bit grey.
 */
export function applyAugment(src: GreyImage, p: AugmentParams, size: number, out?: Uint8Array): Uint8Array {
  const o = out ?? new Uint8Array(size * size);
  const f = new Float32Array(size * size);
  const { width: W, height: H, data } = src;
  const cos = Math.cos(p.angle);
  const sin = Math.sin(p.angle);
  const sx = p.cw / size;
  const sy = p.ch / size;
  const inv = 1 / 255;
  let sum = 0;
  const px = (xx: number, yy: number) => (xx >= 0 && yy >= 0 && xx < W && yy < H ? data[yy * W + xx] : 0);
  for (let v = 0; v < size; v++) {
    const dy = (v + 0.5 - size / 2) * sy;
    for (let u = 0; u < size; u++) {
      const dx = (u + 0.5 - size / 2) * sx;
      // source coordinates in pixel-centre convention
      const x = p.cx + dx * cos + dy * sin - 0.5;
      const y = p.cy - dx * sin + dy * cos - 0.5;
      const x0 = Math.floor(x);
      const y0 = Math.floor(y);
      const fx = x - x0;
      const fy = y - y0;
      let val: number;
      if (x0 >= 0 && y0 >= 0 && x0 + 1 < W && y0 + 1 < H) {
        const i = y0 * W + x0;
        val = (data[i] * (1 - fx) + data[i + 1] * fx) * (1 - fy) + (data[i + W] * (1 - fx) + data[i + W + 1] * fx) * fy;
      } else {
        val = (px(x0, y0) * (1 - fx) + px(x0 + 1, y0) * fx) * (1 - fy) + (px(x0, y0 + 1) * (1 - fx) + px(x0 + 1, y0 + 1) * fx) * fy;
      }
      val *= inv;
      f[v * size + u] = val;
      sum += val;
    }
  }
  const n = size * size;
  const jitter = p.brightness !== 1 || p.contrast !== 1;
  const mean = (sum / n) * p.brightness;
  for (let k = 0; k < n; k++) {
    let t = f[k];
    if (jitter) t = (t * p.brightness - mean) * p.contrast + mean;
    t = Math.round(t * 255);
    o[k] = t < 0 ? 0 : t > 255 ? 255 : t;
  }
  return o;
}
