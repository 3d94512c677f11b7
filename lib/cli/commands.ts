/** Every CLI command, one module per file; main.ts registers them in this order. */
import type { CommandModule } from 'yargs';
import { dataCommand } from './data';
import { doctorCommand } from './doctor';
import { scoreCommand } from './score';
import { evalCommand } from './eval';
import { classifyCommand } from './classify';
import { embedCommand } from './embed';
import { serveCommand } from './serve';
import { synthCommand } from './synth';
import { tokenizerCommand } from './tokenizer';
import { convertCommand } from './convert';
import { trainCommand } from './train';
import { demoCommand } from './demo';
import { ablationCommand } from './ablation';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [doctorCommand, demoCommand, trainCommand, ablationCommand, scoreCommand, evalCommand, classifyCommand, embedCommand, serveCommand, tokenizerCommand, dataCommand, synthCommand, convertCommand];
