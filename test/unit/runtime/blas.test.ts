/** BLAS advice in `doctor` (pure: names and paths as detectBlas reports them, no addon). */
import { strict as assert } from 'assert';
import { blasAdvice } from '../../../lib/runtime/doctor';

describe('doctor BLAS advice', () => {
  it('flags a pthreads OpenBLAS under an OpenMP LibTorch, with the alternative to select', () => {
    const a = blasAdvice('OpenBLAS (pthreads)', 'OpenMP', '/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblasp-r0.3.21.so');
    assert.ok(a);
    assert.match(a, /thread pools compete/);
    assert.match(a, /update-alternatives --set libopenblas\.so\.0-aarch64-linux-gnu \/usr\/lib\/aarch64-linux-gnu\/openblas-openmp\/libopenblas\.so\.0/);
  });
  it('is silent when the pools agree or the BLAS is not OpenBLAS-pthreads', () => {
    assert.equal(blasAdvice('OpenBLAS (OpenMP)', 'OpenMP', '/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblasp-r0.3.21.so'), undefined);
    assert.equal(blasAdvice('OpenBLAS (pthreads)', 'native thread pool', '/x/openblas-pthread/libopenblas.so.0'), undefined);
    assert.equal(blasAdvice('Intel MKL', 'OpenMP', '/opt/libmkl_rt.so'), undefined);
  });
});
