import { strict as assert } from 'assert';
import { lrAt } from '../../../lib/train/schedule';

describe('cosine learning-rate schedule with warmup', () => {
  const s = { baseLr: 1e-3, warmupSteps: 10, totalSteps: 110 };
  it('warms up linearly to the base rate', () => {
    assert.equal(lrAt(s, 0), 1e-4);
    assert.equal(lrAt(s, 4), 5e-4);
    assert.equal(lrAt(s, 9), 1e-3);
  });
  it('decays along a half cosine to the minimum', () => {
    assert.equal(lrAt(s, 10), 1e-3);
    assert.ok(Math.abs(lrAt(s, 60) - 5e-4) < 1e-15);
    assert.ok(Math.abs(lrAt(s, 110)) < 1e-18);
    assert.ok(Math.abs(lrAt({ ...s, minLr: 1e-5 }, 110) - 1e-5) < 1e-18);
    assert.ok(lrAt(s, 200) === lrAt(s, 110));
  });
  it('without warmup starts at the base rate', () => {
    assert.equal(lrAt({ baseLr: 2, warmupSteps: 0, totalSteps: 4 }, 0), 2);
    assert.ok(Math.abs(lrAt({ baseLr: 2, warmupSteps: 0, totalSteps: 4 }, 2) - 1) < 1e-15);
  });
});
