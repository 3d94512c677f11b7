/**
 * The shipped package: `npm run prebuild` + `npm pack`, installed into an empty folder, loads its
 * prebuilt addon with no compiler step and serves both `require` and `import` users and the CLI.
 * A TypeScript consumer of the packed package compiles with `tsc --strict` (issue 15, defect 3).
 */
import { strict as assert } from 'assert';
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { repoRoot } from '../helpers/shared';

/** A consumer's environment: without the test run's own addon override (test/helpers/native-testing points
 * XRAY_TORCH_ADDON at the testing addon for this process and its children). */
function consumerEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.XRAY_TORCH_ADDON;
  delete env.XRAY_TORCH_TESTING_ADDON;
  return env;
}

function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = consumerEnv()): string {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

describe('packed tarball', function () {
  this.timeout(600000);
  let tmp: string;
  let app: string;
  let hadPrebuilds: boolean;
  const prebuildDir = path.join(repoRoot, 'prebuilds');

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xray-torch-pack-'));
    hadPrebuilds = fs.existsSync(prebuildDir);
    sh(process.execPath, [path.join(repoRoot, 'scripts', 'prebuild.js')], repoRoot);
    const out = sh('npm', ['pack', '--pack-destination', tmp, '--json'], repoRoot);
    const tgz = path.join(tmp, JSON.parse(out)[0].filename);
    app = path.join(tmp, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    // No compiler may run: a build attempt would fail with these, and leave a build/ folder.
    const env = { ...consumerEnv(), CC: '/bin/false', CXX: '/bin/false' };
    sh('npm', ['install', tgz, '--prefer-offline', '--no-audit', '--no-fund'], app, env);
  });

  after(() => {
    if (!hadPrebuilds) fs.rmSync(prebuildDir, { recursive: true, force: true });
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('ships the prebuild and the compiled library, not the sources of tests', () => {
    const pkg = path.join(app, 'node_modules', 'xray-torch');
    const pre = fs.readdirSync(path.join(pkg, 'prebuilds', `${process.platform}-${process.arch}`));
    assert.ok(pre.some((f) => /^xray-torch\.torch\d+_\d+\.cpu\..*node$/.test(f)), pre.join(','));
    assert.ok(fs.existsSync(path.join(pkg, 'dist', 'lib', 'index.js')));
    assert.ok(fs.existsSync(path.join(pkg, 'dist', 'lib', 'index.d.ts')));
    assert.ok(!fs.existsSync(path.join(pkg, 'dist', 'test')));
    assert.ok(!fs.existsSync(path.join(pkg, 'build')), 'the install must not have compiled anything');
  });

  it('loads from its prebuild through require()', () => {
    const out = execFileSync(process.execPath, ['-e',
      "const x=require('xray-torch');const l=x.loadAddon();" +
      'process.stdout.write(JSON.stringify({p:l.path,v:l.addon.runtimeInfo().torchVersion}))'], { cwd: app, encoding: 'utf8', env: consumerEnv() });
    const j = JSON.parse(out);
    assert.match(j.p, /node_modules\/xray-torch\/prebuilds\//);
    assert.match(j.v, /^\d+\.\d+/);
  });

  it('serves ESM import users', () => {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e',
      "import { loadAddon, isXtError } from 'xray-torch'; process.stdout.write(typeof loadAddon + typeof isXtError)"],
    { cwd: app, encoding: 'utf8', env: consumerEnv() });
    assert.equal(out, 'functionfunction');
  });

  it('runs `npx xray-torch doctor --json` from the install', () => {
    const out = sh('npx', ['--no-install', 'xray-torch', 'doctor', '--json'], app);
    const j = JSON.parse(out);
    assert.match(j.addon.path, /prebuilds/);
    assert.match(j.addon.reason, /prebuilt CPU variant/);
  });
});

/**
 * A TypeScript service that installs the tarball compiles against its declarations with `tsc --strict`,
 * no `skipLibCheck` and no `@types` beyond what every Node TypeScript project has (`@types/node`): before
 * issue 15 the entry re-exported the CLI's convert module, whose declarations name yargs (its types are
 * only our devDependency). Compiling types needs no addon, so the install skips ours
 * (`XRAY_TORCH_SKIP_INSTALL=1`, honoured by scripts/install.js; the dependencies' own scripts still run),
 * and nothing is prebuilt or compiled here.
 */
describe('packed tarball: a TypeScript consumer', function () {
  this.timeout(300000);
  let tmp: string;
  let app: string;

  const consumer = `
import {
  loadModel, ClipModel, ClipTokenizer, train, classify, loadInferenceModel, contrastiveLoss, groupIdsFromTexts,
  openDataset, convertWeights, doctor, isXtError, createServer, runZeroShotEval, computeMetrics, auroc, dist,
} from 'xray-torch';
import type {
  LoadModelOptions, WeightsInfo, TrainOptions, TrainHandle, TrainSummary, StudyRecord, Dataset,
  ContrastiveLossResult, ConvertResult, DoctorReport, ClipInferenceModel, XtError,
} from 'xray-torch';

export async function service(dir: string): Promise<number> {
  const opts: LoadModelOptions = { device: 'cpu', dtype: 'float32' };
  const model: ClipModel = await loadModel(dir, opts);
  const info: WeightsInfo = await ClipModel.inspect(dir);
  const tok: ClipTokenizer | undefined = model.tokenizer;
  const ids: Int32Array = (tok ?? ClipTokenizer.fromFile(dir)).tokenize(['no pneumothorax'], info.config.contextLength);
  const e = await model.encodeTokens(ids, [1, info.config.contextLength]);
  model.dispose();
  const inf: ClipInferenceModel = await loadInferenceModel(dir);
  const probs: Record<string, number>[] = await classify(inf, ['x.png'], 'chexpert5', { resize: 'pad' });
  const ds: Dataset = await openDataset('auto', 'data', { splits: ['test'] });
  const first: StudyRecord | undefined = ds.records[0];
  const loss: ContrastiveLossResult<Float32Array> = await contrastiveLoss(e.data, e.data, [1, e.shape[1]], {
    logitScale: 4.6, positiveClip: 0.8, groups: groupIdsFromTexts(['a', 'A.']),
  });
  const t: TrainOptions = { data: 'data', model: 'scratch:tiny', out: 'runs/a', epochs: 1 };
  const h: TrainHandle = train(t);
  const summary: TrainSummary = await h.done;
  const c: ConvertResult = await convertWeights(dir, 'out', 'hf');
  const d: DoctorReport = await doctor();
  const server = createServer({ model: inf });
  await runZeroShotEval(inf, { data: 'data' });
  const a: number | null = auroc([0, 1], [0.2, 0.9]);
  void [probs, first, summary, c, d, server, computeMetrics, dist];
  return loss.loss + (a ?? 0);
}

export function code(e: unknown): string | undefined {
  return isXtError(e) ? (e as XtError).code : undefined;
}
`;

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xray-torch-tsc-'));
    const out = sh('npm', ['pack', '--pack-destination', tmp, '--json'], repoRoot);
    const tgz = path.join(tmp, JSON.parse(out)[0].filename);
    app = path.join(tmp, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    // No compiler may run: a build attempt would fail with these, and leave a build/ folder.
    const env = { ...consumerEnv(), XRAY_TORCH_SKIP_INSTALL: '1', CC: '/bin/false', CXX: '/bin/false' };
    sh('npm', ['install', tgz, '--prefer-offline', '--no-audit', '--no-fund'], app, env);
    // what a Node TypeScript project has anyway: the compiler and Node's types (ours, to stay offline)
    fs.mkdirSync(path.join(app, 'node_modules', '@types'), { recursive: true });
    fs.symlinkSync(path.join(repoRoot, 'node_modules', '@types', 'node'), path.join(app, 'node_modules', '@types', 'node'), 'dir');
    fs.writeFileSync(path.join(app, 'consumer.ts'), consumer);
  });

  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const tsc = (args: string[]) => spawnSync(process.execPath, [path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), ...args], {
    cwd: app, encoding: 'utf8',
  });

  it('installs with no addon build and no @types of its dependencies', () => {
    const pkg = path.join(app, 'node_modules', 'xray-torch');
    assert.ok(fs.existsSync(path.join(pkg, 'dist', 'lib', 'index.d.ts')));
    assert.ok(!fs.existsSync(path.join(pkg, 'build')), 'the install must not have compiled anything');
    assert.deepEqual(fs.readdirSync(path.join(app, 'node_modules', '@types')), ['node']);
  });

  it('ships OpenAI\'s CLIP vocabulary (vocab/, with its license) and finds it from the install', () => {
    const pkg = path.join(app, 'node_modules', 'xray-torch');
    assert.ok(fs.existsSync(path.join(pkg, 'vocab', 'bpe_simple_vocab_16e6.txt.gz')));
    assert.match(fs.readFileSync(path.join(pkg, 'vocab', 'LICENSE'), 'utf8'), /OpenAI/);
    const out = execFileSync(process.execPath, ['-e', "const x=require('xray-torch');const t=x.bundledClipTokenizer();" +
      "process.stdout.write(JSON.stringify([x.bundledVocabDir(),t.vocabSize,Array.from(t.tokenize('No pneumothorax.',8))]))"],
    { cwd: app, encoding: 'utf8', env: consumerEnv() });
    const [dir, size, ids] = JSON.parse(out);
    assert.equal(dir, path.join(fs.realpathSync(pkg), 'vocab'));
    assert.equal(size, 49408);
    // OpenAI's ids for this sentence (../shared/fixtures/tokenizer/clip_bpe_cases.jsonl), between start and end
    assert.deepEqual(ids, [49406, 871, 28714, 617, 4130, 9203, 269, 49407]);
  });

  for (const [module, resolution] of [['commonjs', 'node10'], ['node16', 'node16']] as const) {
    it(`compiles a consumer with tsc --strict (module ${module}, moduleResolution ${resolution}) and runs it`, () => {
      const outDir = path.join(app, `out-${module}`);
      const r = tsc(['--strict', '--target', 'es2022', '--module', module, '--moduleResolution', resolution, '--types', 'node',
        '--outDir', outDir, 'consumer.ts']);
      assert.equal(r.status, 0, `tsc failed:\n${r.stdout}${r.stderr}`);
      // the compiled consumer loads the package without touching the addon
      const out = execFileSync(process.execPath, ['-e', `const c=require(${JSON.stringify(path.join(outDir, 'consumer.js'))});` +
        "process.stdout.write(typeof c.service + ' ' + c.code(Object.assign(new Error('x'), { code: 'XT_IO' })))"], { cwd: app, encoding: 'utf8', env: consumerEnv() });
      assert.equal(out, 'function XT_IO');
    });
  }

  it('the check can fail: a consumer naming a missing export does not compile', () => {
    fs.writeFileSync(path.join(app, 'bad.ts'), "import { noSuchExport } from 'xray-torch';\nexport const x = noSuchExport;\n");
    const r = tsc(['--strict', '--noEmit', '--module', 'node16', '--moduleResolution', 'node16', '--types', 'node', 'bad.ts']);
    assert.notEqual(r.status, 0);
    assert.match(r.stdout, /noSuchExport/);
  });
});
