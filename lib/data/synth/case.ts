/**
 * Synthetic cases: which findings a case has (multi-label with plausible co-occurrence, drawn from
 * clinical scenarios: normal, heart failure, pneumonia, ICU, pneumothorax, nodule, mixed) and the
 * details the image and the report share (side, size, which devices).
 */
import { Rng } from '../rng';

export const SYNTH_FINDINGS = [
  'Cardiomegaly',
  'Pleural Effusion',
  'Pneumothorax',
  'Consolidation',
  'Edema',
  'Nodule',
  'Support Devices',
] as const;
export type SynthFinding = (typeof SYNTH_FINDINGS)[number];
/** Every label column of the synthetic manifest: the findings and `No Finding`. */
export const SYNTH_LABELS = [...SYNTH_FINDINGS, 'No Finding'] as const;

export type Side = 'right' | 'left' | 'bilateral';
export type Device = 'ett' | 'cvc' | 'pacemaker' | 'ngt' | 'chest tube';
export type Severity = 'small' | 'moderate' | 'large';

export interface SynthCase {
  scenario: string;
  findings: Set<SynthFinding>;
  effusionSide: Side;
  effusionSize: Severity;
  pneumothoraxSide: 'right' | 'left';
  pneumothoraxSize: Severity;
  consolidationSide: 'right' | 'left';
  consolidationZone: 'upper' | 'lower';
  nodules: { side: 'right' | 'left'; zone: 'upper' | 'mid' | 'lower' }[];
  devices: Device[];
  heartSize: number; // cardiothoracic-ratio-like, normal ≈ 0.42, enlarged ≥ 0.6
  edemaSeverity: Severity;
}

const SCENARIOS: { name: string; p: number; draw: (r: Rng, f: Set<SynthFinding>) => void }[] = [
  { name: 'normal', p: 0.3, draw: () => {} },
  {
    name: 'heart failure',
    p: 0.18,
    draw: (r, f) => {
      if (r.chance(0.85)) f.add('Cardiomegaly');
      if (r.chance(0.7)) f.add('Edema');
      if (r.chance(0.6)) f.add('Pleural Effusion');
      if (r.chance(0.3)) f.add('Support Devices');
      if (!f.size) f.add('Cardiomegaly');
    },
  },
  {
    name: 'pneumonia',
    p: 0.15,
    draw: (r, f) => {
      f.add('Consolidation');
      if (r.chance(0.3)) f.add('Pleural Effusion');
      if (r.chance(0.15)) f.add('Support Devices');
    },
  },
  {
    name: 'icu',
    p: 0.12,
    draw: (r, f) => {
      f.add('Support Devices');
      if (r.chance(0.35)) f.add('Edema');
      if (r.chance(0.35)) f.add('Pleural Effusion');
      if (r.chance(0.3)) f.add('Consolidation');
      if (r.chance(0.25)) f.add('Pneumothorax');
      if (r.chance(0.3)) f.add('Cardiomegaly');
    },
  },
  {
    name: 'pneumothorax',
    p: 0.08,
    draw: (r, f) => {
      f.add('Pneumothorax');
      if (r.chance(0.5)) f.add('Support Devices');
      if (r.chance(0.15)) f.add('Pleural Effusion');
    },
  },
  {
    name: 'nodule',
    p: 0.12,
    draw: (r, f) => {
      f.add('Nodule');
      if (r.chance(0.15)) f.add('Pleural Effusion');
      if (r.chance(0.15)) f.add('Cardiomegaly');
    },
  },
  {
    name: 'mixed',
    p: 0.05,
    draw: (r, f) => {
      for (const x of SYNTH_FINDINGS) if (r.chance(0.2)) f.add(x);
    },
  },
];

const sev = (r: Rng): Severity => r.pick(['small', 'moderate', 'moderate', 'large'] as Severity[]);

/** The case for (seed, index): depends on nothing else, so a bigger n extends a smaller one. */
export function sampleCase(seed: number, index: number): SynthCase {
  const r = new Rng(seed, index, 0xca5e);
  let u = r.next();
  let sc = SCENARIOS[SCENARIOS.length - 1];
  for (const s of SCENARIOS) {
    if (u < s.p) {
      sc = s;
      break;
    }
    u -= s.p;
  }
  const findings = new Set<SynthFinding>();
  sc.draw(r, findings);
  const side2 = () => (r.chance(0.5) ? 'right' : 'left') as 'right' | 'left';
  const devices: Device[] = [];
  if (findings.has('Support Devices')) {
    const pool: Device[] = ['ett', 'cvc', 'pacemaker', 'ngt'];
    if (findings.has('Pneumothorax')) pool.push('chest tube', 'chest tube');
    const k = 1 + r.int(3);
    while (devices.length < k) {
      const d = r.pick(pool);
      if (!devices.includes(d)) devices.push(d);
    }
  }
  const nodules: SynthCase['nodules'] = [];
  if (findings.has('Nodule')) {
    const k = 1 + (r.chance(0.3) ? 1 : 0);
    for (let i = 0; i < k; i++) nodules.push({ side: side2(), zone: r.pick(['upper', 'mid', 'lower'] as const) });
  }
  const heartFailure = findings.has('Edema');
  return {
    scenario: sc.name,
    findings,
    effusionSide: heartFailure && r.chance(0.6) ? 'bilateral' : r.pick(['right', 'left', 'bilateral'] as Side[]),
    effusionSize: sev(r),
    pneumothoraxSide: side2(),
    pneumothoraxSize: r.pick(['moderate', 'large'] as Severity[]),
    consolidationSide: side2(),
    consolidationZone: r.chance(0.65) ? 'lower' : 'upper',
    nodules,
    devices,
    heartSize: findings.has('Cardiomegaly') ? r.uniform(0.6, 0.7) : r.uniform(0.38, 0.46),
    edemaSeverity: r.pick(['moderate', 'moderate', 'large'] as Severity[]),
  };
}

/** The label row of a case: 1 for its findings, 0 for the rest; `No Finding` when it has none. */
export function caseLabels(c: SynthCase): Record<string, 1 | 0> {
  const out: Record<string, 1 | 0> = {};
  for (const f of SYNTH_FINDINGS) out[f] = c.findings.has(f) ? 1 : 0;
  out['No Finding'] = c.findings.size === 0 ? 1 : 0;
  return out;
}
