// The fused CPU kernels of the relaxed contrastive loss, written once against at::vec::Vectorized
// and compiled twice: portable (relaxed_loss_cpu.cc) and AVX2+FMA (relaxed_loss_cpu_avx2.cc).
// Include it after <ATen/cpu/vec/vec.h> and after declaring, for Vectorized<float> and
// Vectorized<double>, `VExp(v)` = exp of each lane (valid for arguments <= ~0; results below the
// type's smallest normal may be flushed to that tiny value, which every sum here tolerates).
// Everything lives in an anonymous namespace: each including file gets its own copy.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "loss/relaxed_loss_cpu.h"

namespace xt {
namespace loss {
namespace {

template <typename T>
using Vec = at::vec::Vectorized<T>;

template <typename T>
inline T HSum(const Vec<T>& v) {
  alignas(64) T tmp[Vec<T>::size()];
  v.store(tmp);
  T s = 0;
  for (int k = 0; k < Vec<T>::size(); ++k) s += tmp[k];
  return s;
}

template <typename T>
inline T HMax(const Vec<T>& v) {
  alignas(64) T tmp[Vec<T>::size()];
  v.store(tmp);
  T m = tmp[0];
  for (int k = 1; k < Vec<T>::size(); ++k) m = tmp[k] > m ? tmp[k] : m;
  return m;
}

// acc[k] += lanes of v, in double: sums of exponentials where one term is ~1 and the rest are
// small lose the small ones' digits in fp32, and the loss's gradients are differences of such sums.
template <typename T>
inline void AddWide(double* acc, const Vec<T>& v) {
  alignas(64) T tmp[Vec<T>::size()];
  v.store(tmp);
  for (int k = 0; k < Vec<T>::size(); ++k) acc[k] += double(tmp[k]);
}

// Last index where a full vector still fits.
template <typename T>
inline int64_t VecEnd(int64_t n) {
  return n - (n % Vec<T>::size());
}

template <typename T>
int64_t RowInvNormsImpl(const T* x, int64_t D, T* inv, int64_t r0, int64_t r1) {
  const int64_t vend = VecEnd<T>(D);
  for (int64_t i = r0; i < r1; ++i) {
    const T* row = x + i * D;
    Vec<T> acc(T(0));
    int64_t j = 0;
    for (; j < vend; j += Vec<T>::size()) {
      Vec<T> v = Vec<T>::loadu(row + j);
      acc = at::vec::fmadd(v, v, acc);
    }
    double ss = HSum(acc);
    for (; j < D; ++j) ss += double(row[j]) * double(row[j]);
    if (!(ss > 0) || !std::isfinite(ss)) return i;
    inv[i] = static_cast<T>(1.0 / std::sqrt(ss));
  }
  return -1;
}

// Clip the positives of row i (the members of its group) in buf; returns their relaxed sum.
template <typename T>
inline double RelaxPositives(const GroupsView& g, int64_t i, T clip, T* buf, int64_t* count) {
  const int32_t grp = g.group_of[i];
  const int32_t k0 = g.start[grp], k1 = g.start[grp + 1];
  double sum = 0;
  for (int32_t k = k0; k < k1; ++k) {
    const int32_t j = g.members[k];
    T r = buf[j] > clip ? clip : buf[j];
    buf[j] = r;
    sum += r;
  }
  *count = k1 - k0;
  return sum;
}

template <typename T>
double ForwardRowsImpl(const ForwardArgs<T>& a, int64_t r0, int64_t r1, T* buf, T* col_max_part) {
  using V = Vec<T>;
  const int64_t B = a.B;
  const int64_t vend = VecEnd<T>(B);
  const V vtau(a.tau);
  double target_sum = 0;
  for (int64_t i = r0; i < r1; ++i) {
    T* row = a.S + i * B;
    // 1. cosines: scale the raw products in place, and copy the row to buf
    const V vir(a.inv_row[i]);
    int64_t j = 0;
    for (; j < vend; j += V::size()) {
      V v = V::loadu(row + j) * vir * V::loadu(a.inv_col + j);
      v.store(row + j);
      v.store(buf + j);
    }
    for (; j < B; ++j) {
      T v = row[j] * a.inv_row[i] * a.inv_col[j];
      row[j] = v;
      buf[j] = v;
    }
    // 2. relax the positives (in buf only; S keeps the cosines for backward)
    int64_t npos = 0;
    const double pos_sum = RelaxPositives(a.groups, i, a.clip, buf, &npos);
    target_sum += pos_sum / double(npos);
    // 3. row maximum, and the running column maxima
    V vmax(-std::numeric_limits<T>::infinity());
    j = 0;
    for (; j < vend; j += V::size()) {
      V v = V::loadu(buf + j);
      vmax = at::vec::maximum(vmax, v);
      at::vec::maximum(V::loadu(col_max_part + j), v).store(col_max_part + j);
    }
    T m = HMax(vmax);
    for (; j < B; ++j) {
      m = std::max(m, buf[j]);
      col_max_part[j] = std::max(col_max_part[j], buf[j]);
    }
    // 4. row sum of exp(tau (r - m))
    const V vm(m);
    double lanes[V::size()] = {};
    j = 0;
    for (; j < vend; j += V::size()) AddWide(lanes, VExp((V::loadu(buf + j) - vm) * vtau));
    double s = 0;
    for (int k = 0; k < V::size(); ++k) s += lanes[k];
    for (; j < B; ++j) s += std::exp(double(a.tau) * double(buf[j] - m));
    a.row_max[i] = m;
    a.row_logsum[i] = static_cast<T>(std::log(s));
  }
  return target_sum;
}

template <typename T>
void ForwardColsImpl(const ForwardArgs<T>& a, int64_t r0, int64_t r1, T* buf, double* col_sum_part) {
  using V = Vec<T>;
  const int64_t B = a.B;
  const int64_t vend = VecEnd<T>(B);
  const V vtau(a.tau);
  for (int64_t i = r0; i < r1; ++i) {
    std::copy(a.S + i * B, a.S + (i + 1) * B, buf);
    int64_t npos = 0;
    RelaxPositives(a.groups, i, a.clip, buf, &npos);
    int64_t j = 0;
    for (; j < vend; j += V::size())
      AddWide(col_sum_part + j, VExp((V::loadu(buf + j) - V::loadu(a.col_max + j)) * vtau));
    for (; j < B; ++j) col_sum_part[j] += std::exp(double(a.tau) * double(buf[j] - a.col_max[j]));
  }
}

template <typename T>
double BackwardRowsImpl(const BackwardArgs<T>& a, int64_t r0, int64_t r1, T* buf) {
  using V = Vec<T>;
  const int64_t B = a.B;
  const int64_t vend = VecEnd<T>(B);
  const V vtau(a.tau);
  double total = 0;
  for (int64_t i = r0; i < r1; ++i) {
    const T* srow = a.S + i * B;
    T* drow = a.dS + i * B;
    const int32_t grp = a.groups.group_of[i];
    const int32_t k0 = a.groups.start[grp], k1 = a.groups.start[grp + 1];
    // Positives are left out of the vector pass (a zero contributes nothing to sum p r; their dS
    // entries are rewritten below): their softmax terms nearly cancel the targets, so they are
    // computed on their own, in double, before anything is summed.
    // dS may be S itself (written in place): keep the positives' raw cosines in buf[B..2B)
    T* raw = buf + B;
    std::copy(srow, srow + B, buf);
    for (int32_t k = k0; k < k1; ++k) {
      raw[k - k0] = buf[a.groups.members[k]];
      buf[a.groups.members[k]] = T(0);
    }
    const T scale = a.coef * a.tau * a.inv_row[i];
    const V vscale(scale);
    const V vm(a.row_max[i]);
    const V vl(a.row_logsum[i]);
    V vacc(T(0));
    int64_t j = 0;
    for (; j < vend; j += V::size()) {
      V r = V::loadu(buf + j);
      V pr = VExp((r - vm) * vtau - vl);
      V pc = VExp((r - V::loadu(a.col_max + j)) * vtau - V::loadu(a.col_logsum + j));
      V p = pr + pc;
      vacc = at::vec::fmadd(p, r, vacc);
      (p * vscale * V::loadu(a.inv_col + j)).store(drow + j);
    }
    double acc = HSum(vacc);
    const double tau = a.tau, m = a.row_max[i], l = a.row_logsum[i];
    for (; j < B; ++j) {
      const double r = buf[j];
      const double p = std::exp(tau * (r - m) - l) + std::exp(tau * (r - double(a.col_max[j])) - double(a.col_logsum[j]));
      acc += p * r;
      drow[j] = static_cast<T>(p * double(scale) * double(a.inv_col[j]));
    }
    // targets: 1/n on each positive in both directions (the group is symmetric); no gradient
    // reaches S through a clipped value
    const double t = 2.0 / double(k1 - k0);
    for (int32_t k = k0; k < k1; ++k) {
      const int32_t jj = a.groups.members[k];
      const double s = raw[k - k0];
      const double r = s > double(a.clip) ? double(a.clip) : s;
      const double d = std::exp(tau * (r - m) - l) +
                       std::exp(tau * (r - double(a.col_max[jj])) - double(a.col_logsum[jj])) - t;
      acc += d * r;
      drow[jj] = s > double(a.clip) ? T(0) : static_cast<T>(d * double(scale) * double(a.inv_col[jj]));
    }
    total += acc;
  }
  return total;
}

template <typename T>
void FinishRowsImpl(T* u, const T* x, const T* inv, int64_t D, int64_t r0, int64_t r1) {
  using V = Vec<T>;
  const int64_t vend = VecEnd<T>(D);
  for (int64_t i = r0; i < r1; ++i) {
    T* ur = u + i * D;
    const T* xr = x + i * D;
    V vdot(T(0));
    int64_t j = 0;
    for (; j < vend; j += V::size()) vdot = at::vec::fmadd(V::loadu(xr + j), V::loadu(ur + j), vdot);
    double dot = HSum(vdot);
    for (; j < D; ++j) dot += double(xr[j]) * double(ur[j]);
    const T f = static_cast<T>(dot * double(inv[i]) * double(inv[i]));
    const V vf(f);
    j = 0;
    for (; j < vend; j += V::size()) (V::loadu(ur + j) - vf * V::loadu(xr + j)).store(ur + j);
    for (; j < D; ++j) ur[j] -= f * xr[j];
  }
}

template <typename T>
KernelSet<T> MakeKernelSet(const char* isa) {
  KernelSet<T> k;
  k.isa = isa;
  k.row_inv_norms = &RowInvNormsImpl<T>;
  k.forward_rows = &ForwardRowsImpl<T>;
  k.forward_cols = &ForwardColsImpl<T>;
  k.backward_rows = &BackwardRowsImpl<T>;
  k.finish_rows = &FinishRowsImpl<T>;
  return k;
}

}  // namespace
}  // namespace loss
}  // namespace xt
