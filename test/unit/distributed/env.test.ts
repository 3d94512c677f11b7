import { strict as assert } from 'assert';
import { readDistEnv, parseHostList, parseTasksPerNode, describeDistEnv, DEFAULT_MASTER_PORT } from '../../../lib/distributed/env';
import { parseDistBackend, distTimeoutSec } from '../../../lib/distributed';

function invalid(re: RegExp) {
  return (e: Error & { code?: string }) => {
    assert.equal(e.code, 'XT_INVALID', e.message);
    assert.match(e.message, re);
    return true;
  };
}

describe('dist env: Slurm host lists', () => {
  it('expands bracket ranges with zero padding and plain names', () => {
    assert.deepEqual(parseHostList('gpu[01-04,07],cpu3'), ['gpu01', 'gpu02', 'gpu03', 'gpu04', 'gpu07', 'cpu3']);
    assert.deepEqual(parseHostList('node7'), ['node7']);
    assert.deepEqual(parseHostList('n[8-11]'), ['n8', 'n9', 'n10', 'n11']);
    assert.deepEqual(parseHostList('a[098-101]'), ['a098', 'a099', 'a100', 'a101']);
  });

  it('keeps suffixes and multiplies several bracket groups', () => {
    assert.deepEqual(parseHostList('node[1-2]-ib,login'), ['node1-ib', 'node2-ib', 'login']);
    assert.deepEqual(parseHostList('r[1-2]n[1,3]'), ['r1n1', 'r1n3', 'r2n1', 'r2n3']);
  });

  it('rejects malformed lists', () => {
    assert.throws(() => parseHostList('gpu[01-04'), invalid(/unbalanced '\['/));
    assert.throws(() => parseHostList('gpu01]'), invalid(/unbalanced '\]'/));
    assert.throws(() => parseHostList('gpu[4-2]'), invalid(/descending range "4-2"/));
    assert.throws(() => parseHostList('gpu[a-b]'), invalid(/bad range "a-b"/));
    assert.throws(() => parseHostList('a,,b'), invalid(/empty host name/));
    assert.deepEqual(parseHostList('  '), []);
  });

  it('reads the tasks-per-node form', () => {
    assert.deepEqual(parseTasksPerNode('2(x3),1'), [2, 2, 2, 1]);
    assert.deepEqual(parseTasksPerNode('4'), [4]);
    assert.throws(() => parseTasksPerNode('x2'), invalid(/cannot read "x2"/));
  });
});

describe('dist env: torchrun / Kubeflow variables', () => {
  it('a plain process is a world of one', () => {
    const d = readDistEnv({});
    assert.deepEqual(d, {
      worldSize: 1, rank: 0, localRank: 0, localWorldSize: 1, masterAddr: '127.0.0.1', masterPort: DEFAULT_MASTER_PORT, source: 'single',
    });
  });

  it('reads all torchrun variables', () => {
    const d = readDistEnv({
      MASTER_ADDR: 'node0.cluster', MASTER_PORT: '29600', WORLD_SIZE: '8', RANK: '5', LOCAL_RANK: '1', LOCAL_WORLD_SIZE: '4', GROUP_RANK: '1',
    });
    assert.deepEqual(d, {
      worldSize: 8, rank: 5, localRank: 1, localWorldSize: 4, masterAddr: 'node0.cluster', masterPort: 29600, source: 'torchrun', nodeRank: 1,
    });
    assert.equal(describeDistEnv(d), 'rank 5 of 8 (local 1 of 4, node 1) via torchrun, rendezvous node0.cluster:29600');
  });

  it('Kubeflow PyTorchJob: MASTER_ADDR/PORT, WORLD_SIZE, RANK, one process per pod', () => {
    const d = readDistEnv({
      MASTER_ADDR: 'clip-master-0', MASTER_PORT: '23456', WORLD_SIZE: '3', RANK: '2', KUBERNETES_SERVICE_HOST: '10.0.0.1',
    });
    assert.deepEqual(d, {
      worldSize: 3, rank: 2, localRank: 0, localWorldSize: 1, masterAddr: 'clip-master-0', masterPort: 23456, source: 'kubeflow',
    });
  });

  it("torchrun's agent store: every rank is a client, keys under the restart attempt", () => {
    const env = {
      MASTER_ADDR: 'n0', MASTER_PORT: '29500', WORLD_SIZE: '8', RANK: '0', LOCAL_RANK: '0', LOCAL_WORLD_SIZE: '4',
      TORCHELASTIC_USE_AGENT_STORE: 'True', TORCHELASTIC_RESTART_COUNT: '2',
    };
    assert.equal(readDistEnv(env).agentStorePrefix, '/worker/attempt_2');
    assert.equal(readDistEnv({ ...env, TORCHELASTIC_USE_AGENT_STORE: 'False' }).agentStorePrefix, undefined);
  });

  it('defaults MASTER_PORT to 29500', () => {
    assert.equal(readDistEnv({ MASTER_ADDR: 'h', WORLD_SIZE: '2', RANK: '1' }).masterPort, 29500);
  });

  it('explains inconsistent or missing values', () => {
    assert.throws(() => readDistEnv({ WORLD_SIZE: '2', RANK: '2', MASTER_ADDR: 'h' }), invalid(/RANK=2 must be less than WORLD_SIZE=2/));
    assert.throws(() => readDistEnv({ WORLD_SIZE: '2' }), invalid(/WORLD_SIZE is set but RANK is not/));
    assert.throws(() => readDistEnv({ RANK: '0' }), invalid(/RANK is set but WORLD_SIZE is not/));
    assert.throws(() => readDistEnv({ WORLD_SIZE: '2', RANK: '0' }), invalid(/MASTER_ADDR is not set \(WORLD_SIZE=2\)/));
    assert.throws(() => readDistEnv({ WORLD_SIZE: 'two', RANK: '0' }), invalid(/WORLD_SIZE="two" is not valid: expected an integer >= 1/));
    assert.throws(() => readDistEnv({ WORLD_SIZE: '0', RANK: '0' }), invalid(/WORLD_SIZE="0"/));
    assert.throws(() => readDistEnv({ WORLD_SIZE: '2', RANK: '-1', MASTER_ADDR: 'h' }), invalid(/RANK="-1"/));
    assert.throws(() => readDistEnv({ WORLD_SIZE: '2', RANK: '0', MASTER_ADDR: 'h', MASTER_PORT: '70000' }),
      invalid(/MASTER_PORT="70000" is not valid: expected an integer in 1\.\.65535/));
    assert.throws(() => readDistEnv({ WORLD_SIZE: '4', RANK: '0', MASTER_ADDR: 'h', LOCAL_RANK: '2', LOCAL_WORLD_SIZE: '2' }),
      invalid(/LOCAL_RANK=2 must be less than LOCAL_WORLD_SIZE=2/));
    assert.throws(() => readDistEnv({ WORLD_SIZE: '2', RANK: '0', MASTER_ADDR: 'h', LOCAL_WORLD_SIZE: '4' }),
      invalid(/LOCAL_WORLD_SIZE=4 exceeds WORLD_SIZE=2/));
  });

  it('torchrun variables win over Slurm ones (torchrun inside srun)', () => {
    const d = readDistEnv({
      WORLD_SIZE: '4', RANK: '3', LOCAL_RANK: '3', LOCAL_WORLD_SIZE: '4', MASTER_ADDR: 'x',
      SLURM_PROCID: '0', SLURM_NTASKS: '1', SLURM_STEP_ID: '0', SLURM_JOB_NODELIST: 'gpu01',
    });
    assert.equal(d.source, 'torchrun');
    assert.equal(d.rank, 3);
  });
});

describe('dist env: Slurm', () => {
  const base = {
    SLURM_JOB_ID: '123456', SLURM_STEP_ID: '0', SLURM_NTASKS: '8', SLURM_PROCID: '6', SLURM_LOCALID: '2',
    SLURM_NTASKS_PER_NODE: '4', SLURM_NODEID: '1', SLURM_JOB_NODELIST: 'gpu[07-08]',
  };

  it('maps SLURM_* and takes MASTER_ADDR from the first host, MASTER_PORT from the job id', () => {
    assert.deepEqual(readDistEnv(base), {
      worldSize: 8, rank: 6, localRank: 2, localWorldSize: 4, masterAddr: 'gpu07', masterPort: 15000 + (123456 % 20000),
      source: 'slurm', nodeRank: 1,
    });
  });

  it('prefers the step node list and an explicit MASTER_ADDR / MASTER_PORT', () => {
    assert.equal(readDistEnv({ ...base, SLURM_STEP_NODELIST: 'gpu[02-03]' }).masterAddr, 'gpu02');
    const d = readDistEnv({ ...base, MASTER_ADDR: '10.1.2.3', MASTER_PORT: '29999' });
    assert.equal(d.masterAddr, '10.1.2.3');
    assert.equal(d.masterPort, 29999);
  });

  it('derives the tasks on this node from SLURM_TASKS_PER_NODE when SLURM_NTASKS_PER_NODE is absent', () => {
    const env: Record<string, string | undefined> = { ...base, SLURM_NTASKS: '7', SLURM_PROCID: '6', SLURM_NODEID: '2', SLURM_LOCALID: '0', SLURM_TASKS_PER_NODE: '3(x2),1' };
    delete env.SLURM_NTASKS_PER_NODE;
    const d = readDistEnv(env);
    assert.equal(d.localWorldSize, 1);
    assert.equal(d.localRank, 0);
  });

  it('ignores Slurm variables outside an srun step (the batch script is not a rank)', () => {
    const env: Record<string, string | undefined> = { ...base };
    delete env.SLURM_STEP_ID;
    assert.equal(readDistEnv(env).source, 'single');
    assert.equal(readDistEnv({ ...env, SLURM_STEPID: '0' }).source, 'slurm');
  });

  it('explains inconsistent Slurm values', () => {
    assert.throws(() => readDistEnv({ ...base, SLURM_PROCID: '8' }), invalid(/SLURM_PROCID=8 must be less than SLURM_NTASKS=8/));
    assert.throws(() => readDistEnv({ ...base, SLURM_LOCALID: '4' }), invalid(/SLURM_LOCALID=4 must be less than the tasks per node \(4\)/));
    assert.throws(() => readDistEnv({ ...base, SLURM_NTASKS_PER_NODE: '16' }), invalid(/tasks per node \(16\) must be in 1\.\.SLURM_NTASKS=8/));
    assert.throws(() => readDistEnv({ ...base, SLURM_JOB_NODELIST: 'gpu[07-' }), invalid(/unbalanced/));
    const noList: Record<string, string | undefined> = { ...base };
    delete noList.SLURM_JOB_NODELIST;
    assert.throws(() => readDistEnv(noList), invalid(/MASTER_ADDR is not set and Slurm gave no node list/));
  });
});

describe('dist options', () => {
  it('--dist-backend values', () => {
    assert.equal(parseDistBackend(undefined), 'auto');
    assert.equal(parseDistBackend('NCCL'), 'nccl');
    assert.equal(parseDistBackend('gloo'), 'gloo');
    assert.throws(() => parseDistBackend('mpi'), invalid(/--dist-backend must be one of auto, gloo, nccl, got "mpi"/));
  });

  it('XRAY_TORCH_DIST_TIMEOUT', () => {
    assert.equal(distTimeoutSec({}), 300);
    assert.equal(distTimeoutSec({ XRAY_TORCH_DIST_TIMEOUT: '12.5' }), 12.5);
    assert.throws(() => distTimeoutSec({ XRAY_TORCH_DIST_TIMEOUT: '0' }), invalid(/XRAY_TORCH_DIST_TIMEOUT="0"/));
  });
});
