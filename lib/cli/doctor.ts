import type { CommandModule } from 'yargs';
import { doctor, formatDoctor } from '../runtime/doctor';

interface Args {
  json?: boolean;
  device?: string;
}

export const doctorCommand: CommandModule<object, Args> = {
  command: 'doctor',
  describe: 'Report the LibTorch build, CUDA, BLAS speed, threads, which addon was loaded and which device is chosen (and why)',
  builder: (y) => y.option('json', { type: 'boolean', describe: 'print one JSON object' }) as never,
  handler: async (argv) => {
    const r = await doctor({ device: argv.device });
    process.stdout.write(argv.json ? JSON.stringify(r) + '\n' : formatDoctor(r) + '\n');
  },
};
