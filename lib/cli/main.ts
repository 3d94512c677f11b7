/** `xray-torch` command line entry. */
import yargs from 'yargs';
import { commands } from './commands';
import { isXtError } from '../errors';
import { parseDeviceSpec } from '../runtime/device';

export async function main(argv: string[]): Promise<void> {
  let y = yargs(argv)
    .scriptName('xray-torch')
    .usage('$0 <command> [options]')
    .option('threads', {
      type: 'number',
      global: true,
      describe: 'intra-op CPU threads (default: all cores; env XRAY_TORCH_THREADS)',
    })
    .option('device', {
      type: 'string',
      global: true,
      describe: 'auto | cpu | cuda | cuda:N (default auto: the first GPU with the CUDA variant, else cpu; env XRAY_TORCH_DEVICE)',
    })
    .middleware((a) => {
      if (a.device !== undefined) {
        // validated here (a bad spec fails before any work); exported so the addon loader sees `cpu` too
        const spec = parseDeviceSpec(String(a.device), '--device');
        a.device = spec;
        process.env.XRAY_TORCH_DEVICE = spec;
      }
      if (typeof a.threads === 'number') {
        if (!Number.isInteger(a.threads) || a.threads < 1) throw new Error('--threads must be a positive integer');
        process.env.XRAY_TORCH_THREADS = String(a.threads);
      }
    })
    .demandCommand(1, 'Name a command: see --help')
    .strict()
    .help()
    .fail((msg, err) => {
      if (err) throw err;
      process.stderr.write(`xray-torch: ${msg}\nRun \`xray-torch --help\` for usage.\n`);
      process.exit(2);
    });
  for (const c of commands) y = y.command(c);
  try {
    await y.parseAsync();
  } catch (e) {
    const err = e as Error & { code?: string };
    const code = isXtError(err) ? ` [${err.code}]` : '';
    process.stderr.write(`xray-torch: ${err.message}${code}\n`);
    if (process.env.XRAY_TORCH_DEBUG) process.stderr.write(`${err.stack}\n`);
    process.exitCode = 1;
  }
}
