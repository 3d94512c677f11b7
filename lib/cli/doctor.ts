import type { CommandModule } from 'yargs';
import { doctor, formatDoctor } from '../runtime/doctor';

interface Args {
  json?: boolean;
}

export const doctorCommand: CommandModule<object, Args> = {
  command: 'doctor',
  describe: 'Report the LibTorch build, CUDA, BLAS speed, threads and which addon was loaded',
  builder: (y) => y.option('json', { type: 'boolean', describe: 'print one JSON object' }) as never,
  handler: async (argv) => {
    const r = await doctor();
    process.stdout.write(argv.json ? JSON.stringify(r) + '\n' : formatDoctor(r) + '\n');
  },
};
