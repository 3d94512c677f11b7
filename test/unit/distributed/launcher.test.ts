import { strict as assert } from 'assert';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { PassThrough } from 'stream';
import { launch, extractNproc, freePort } from '../../../lib/distributed/launcher';

function sink(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let buf = '';
  stream.on('data', (b: Buffer) => (buf += b.toString()));
  return { stream, text: () => buf };
}

/** Run `node -e script` as every worker. */
async function run(script: string, nproc: number, graceMs = 1000) {
  const out = sink();
  const err = sink();
  const env = { ...process.env };
  for (const k of ['WORLD_SIZE', 'RANK', 'MASTER_PORT', 'XRAY_TORCH_THREADS', 'OMP_NUM_THREADS']) delete env[k];
  const t0 = Date.now();
  const r = await launch({
    nproc, args: ['-e', script], env, stdout: out.stream, stderr: err.stream, graceMs, forwardSignals: false,
  });
  return { ...r, stdout: out.text(), stderr: err.text(), ms: Date.now() - t0 };
}

describe('dist launcher (--nproc)', function () {
  this.timeout(30000);

  it('extracts --nproc N / --nproc=N and keeps the other arguments in order', () => {
    assert.deepEqual(extractNproc(['train', '--nproc', '4', '--epochs', '2']), { nproc: 4, rest: ['train', '--epochs', '2'] });
    assert.deepEqual(extractNproc(['train', '--nproc=2', 'x']), { nproc: 2, rest: ['train', 'x'] });
    assert.deepEqual(extractNproc(['train', '--epochs', '2']), { nproc: undefined, rest: ['train', '--epochs', '2'] });
    assert.deepEqual(extractNproc(['a', '--', '--nproc', '3']), { nproc: undefined, rest: ['a', '--', '--nproc', '3'] });
    for (const bad of [['--nproc'], ['--nproc', '0'], ['--nproc=x'], ['--nproc', '2.5']]) {
      assert.throws(() => extractNproc(bad), (e: Error & { code?: string }) => e.code === 'XT_INVALID' && /--nproc/.test(e.message));
    }
  });

  it('freePort gives a usable port', async () => {
    const p = await freePort();
    assert.ok(p > 0 && p < 65536);
  });

  it('starts N workers with torchrun variables and prefixes their lines with the rank', async () => {
    const r = await run(
      "const e=process.env;console.log(['R',e.RANK,e.WORLD_SIZE,e.LOCAL_RANK,e.LOCAL_WORLD_SIZE,e.MASTER_ADDR,e.MASTER_PORT].join(' '));" +
        "console.error('to stderr');process.stdout.write('no newline at end')",
      3,
    );
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.failed, undefined);
    const lines = r.stdout.trim().split('\n').sort();
    assert.equal(lines.length, 6, r.stdout);
    const ports = new Set<string>();
    for (let rank = 0; rank < 3; rank++) {
      const m = lines.find((l) => l.startsWith(`[rank ${rank}] R `));
      assert.ok(m, `rank ${rank} line in\n${r.stdout}`);
      const [, , , rk, ws, lr, lws, addr, port] = m!.split(' ');
      assert.deepEqual([rk, ws, lr, lws, addr], [String(rank), '3', String(rank), '3', '127.0.0.1']);
      ports.add(port);
      assert.ok(lines.includes(`[rank ${rank}] no newline at end`));
      assert.ok(r.stderr.includes(`[rank ${rank}] to stderr\n`));
    }
    assert.equal(ports.size, 1, 'one rendezvous port for all');
    assert.ok(Number([...ports][0]) > 0);
  });

  it('a failing worker stops the others (SIGTERM) and sets its exit code, quickly', async () => {
    const r = await run("if(process.env.RANK==='1'){setTimeout(()=>process.exit(7),200)}else{setInterval(()=>{},1000)}", 3);
    assert.equal(r.exitCode, 7);
    assert.equal(r.failed?.rank, 1);
    assert.match(r.stderr, /worker rank 1 \(pid \d+\) exited with code 7; stopping the other 2 workers/);
    assert.match(r.stderr, /the job failed: worker rank 1 exited with code 7 \(launcher exit code 7\)/);
    assert.equal(r.workers[0].signal, 'SIGTERM');
    assert.equal(r.workers[2].signal, 'SIGTERM');
    assert.ok(r.ms < 10000, `took ${r.ms} ms`);
  });

  it('a worker that ignores SIGTERM is killed after the grace period', async () => {
    const r = await run(
      "if(process.env.RANK==='0'){process.on('SIGTERM',()=>{});setInterval(()=>{},1000);console.log('armed')}" +
        "else{setTimeout(()=>process.kill(process.pid,'SIGKILL'),500)}",
      2,
      500,
    );
    assert.equal(r.exitCode, 137);
    assert.match(r.stderr, /worker rank 1 \(pid \d+\) was killed by SIGKILL/);
    assert.equal(r.workers[0].signal, 'SIGKILL');
    assert.ok(r.ms < 10000, `took ${r.ms} ms`);
  });

  it('workers stop by themselves when the launcher is SIGKILLed (watchLauncher)', async () => {
    const lib = JSON.stringify(path.resolve(__dirname, '../../../lib/distributed/launcher.js'));
    const worker = `require(${lib}).watchLauncher(process.env, 100);console.log('pid '+process.pid);setInterval(()=>{},1000)`;
    const launcher = `require(${lib}).launch({nproc:2,args:['-e',${JSON.stringify(worker)}]})`;
    const env = { ...process.env };
    for (const k of ['WORLD_SIZE', 'RANK', 'MASTER_PORT']) delete env[k];
    const child = spawn(process.execPath, ['-e', launcher], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    const pids: number[] = await new Promise((resolve, reject) => {
      let buf = '';
      const found: number[] = [];
      const t = setTimeout(() => reject(new Error(`workers did not start: ${buf}`)), 15000);
      child.stdout.on('data', (b: Buffer) => {
        buf += b.toString();
        for (const m of buf.matchAll(/\[rank \d\] pid (\d+)/g)) if (!found.includes(Number(m[1]))) found.push(Number(m[1]));
        if (found.length === 2) {
          clearTimeout(t);
          resolve(found);
        }
      });
    });
    child.kill('SIGKILL');
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
      } catch {
        return false;
      }
      try {
        // An exited process not yet reaped by its new parent is a zombie: it is gone for our purpose.
        return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return false;
      }
    };
    const t0 = Date.now();
    while (pids.some(alive) && Date.now() - t0 < 10000) await new Promise((r) => setTimeout(r, 100));
    const left = pids.filter(alive);
    for (const p of left) process.kill(p, 'SIGKILL');
    assert.deepEqual(left, [], 'workers outlived their launcher');
  });

  it('a Ctrl-C (SIGINT to the launcher\'s process group) reaches each worker exactly once; exit 130', async () => {
    const lib = JSON.stringify(path.resolve(__dirname, '../../../lib/distributed/launcher.js'));
    const worker = "let n=0;process.on('SIGINT',()=>{if(!n++)setTimeout(()=>{console.log('got '+n);process.exit(0)},500)});" +
      "const pg=require('fs').readFileSync('/proc/self/stat','utf8').replace(/^.*\\) /,'').split(' ')[2];" +
      "console.log('ready pgrp '+pg);setInterval(()=>{},1000)";
    const launcher = `require(${lib}).launch({nproc:2,args:['-e',${JSON.stringify(worker)}]}).then(r=>process.exit(r.exitCode))`;
    const env = { ...process.env };
    for (const k of ['WORLD_SIZE', 'RANK', 'MASTER_PORT']) delete env[k];
    // detached: the launcher leads a process group, as a shell job in a terminal does.
    const child = spawn(process.execPath, ['-e', launcher], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    let err = '';
    let ready = 0;
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const code: number | null = await new Promise((resolve) => {
      const t = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, 20000);
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        const n = (out.match(/ready/g) ?? []).length;
        if (n === 2 && ready < 2) {
          ready = 2;
          process.kill(-child.pid!, 'SIGINT');  // the whole foreground group, like the terminal
        }
      });
      child.on('close', (c) => {
        clearTimeout(t);
        resolve(c);
      });
    });
    assert.equal(code, 130, `${out}\n${err}`);
    // Workers are not in the terminal's (here: the launcher's) process group, so the group's SIGINT
    // reaches them only through the launcher. (Two SIGINTs a moment apart may coalesce into one, so
    // the count alone could not tell.)
    const groups = [...out.matchAll(/ready pgrp (\d+)/g)].map((m) => Number(m[1]));
    assert.equal(groups.length, 2, out);
    for (const g of groups) assert.notEqual(g, child.pid);
    assert.deepEqual((out.match(/\[rank \d\] got \d+/g) ?? []).sort(), ['[rank 0] got 1', '[rank 1] got 1']);
    assert.match(err, /received SIGINT; stopping 2 worker/);
  });

  it('reports a worker that cannot start', async () => {
    const out = sink();
    const err = sink();
    const r = await launch({
      nproc: 2, command: '/nonexistent/xray-torch-worker', args: [], stdout: out.stream, stderr: err.stream, forwardSignals: false,
    });
    assert.notEqual(r.exitCode, 0);
    assert.match(err.text(), /worker rank \d .*could not start: .*ENOENT/);
  });
});
