/** `xray-torch synth --out DIR --n N --seed S`: generate the SYNTHETIC demo dataset. */
import type { Argv, CommandModule } from 'yargs';
import { generateSynthetic } from '../data/synth';

interface SynthArgs {
  out: string;
  n: number;
  seed: number;
  size: number;
  force?: boolean;
  json?: boolean;
}

export const synthCommand: CommandModule<object, SynthArgs> = {
  command: 'synth',
  describe: 'Generate a SYNTHETIC chest-radiograph-like dataset (images, reports, manifest) for the demo and tests',
  builder: (y) =>
    y
      .option('out', { type: 'string', demandOption: true, describe: 'output folder' })
      .option('n', { type: 'number', default: 2000, describe: 'number of studies' })
      .option('seed', { type: 'number', default: 0, describe: 'random seed' })
      .option('size', { type: 'number', default: 128, describe: 'image side in pixels' })
      .option('force', { type: 'boolean', describe: 'write into a non-empty folder that is not a synth output' })
      .option('json', { type: 'boolean', describe: 'print the summary as one JSON object' }) as unknown as Argv<SynthArgs>,
  handler: async (a) => {
    const tty = !a.json && process.stderr.isTTY;
    let last = 0;
    const r = await generateSynthetic({
      out: a.out,
      n: a.n,
      seed: a.seed,
      size: a.size,
      force: a.force,
      onProgress: tty
        ? (done, n) => {
            const now = Date.now();
            if (now - last > 250 || done === n) {
              last = now;
              process.stderr.write(`\rsynth ${done}/${n}${done === n ? '\n' : ''}`);
            }
          }
        : undefined,
    });
    if (a.json) process.stdout.write(JSON.stringify(r) + '\n');
    else
      process.stdout.write(
        `SYNTHETIC dataset: ${r.n} studies (${Object.entries(r.splits)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}) at ${r.out} in ${r.seconds.toFixed(1)} s (${(r.n / Math.max(r.seconds, 1e-3)).toFixed(0)} images/s)\n` +
          `  positives: ${Object.entries(r.positives)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}\n  manifest: ${r.manifest}\n`,
      );
  },
};
