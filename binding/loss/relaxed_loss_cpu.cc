// CPU half of the fused relaxed contrastive loss: the portable build of the kernels, the choice
// between it and the AVX2 build, and the forward/backward passes around them.
//
// Forward:  G = image . text^T (one GEMM, the only [B, B] buffer: it becomes S and is saved);
//           pass 1 over rows: S = G * inv_row * inv_col in place, relax positives, row max and
//             row log-sum-exp, running column maxima;
//           pass 2 over rows: column sums of exp(tau (r - M_j)), so both directions' log-sum-exp
//             come from two streaming passes; saved: S and O(B) statistics.
// Backward: one pass writes dS (both softmaxes minus targets, zero at clipped positives, scaled by
//           the inverse norms) and the logit-scale gradient; two GEMMs (dS . text, dS^T . image)
//           and a per-row pass chain through the normalisation. dS overwrites S when the autograd
//           function allows it (first backward), else it is the one extra [B, B] buffer.
// Memory: S comes from a one-slot cache, so steady training does not fault 4 MB (B = 1024) of
//           fresh pages in every step (page faults cost several microseconds each in a VM).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/cpu/vec/vec.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <cmath>
#include <numeric>
#include <vector>

#include "core/errors.h"
#include "loss/relaxed_loss_cpu.h"
#include "loss/relaxed_loss_impl.h"

namespace xt {
namespace loss {
namespace {

// Portable exp: ATen's generic Vectorized maps std::exp over the lanes.
template <typename T>
inline at::vec::Vectorized<T> VExp(const at::vec::Vectorized<T>& v) {
  return v.exp();
}

}  // namespace
}  // namespace loss
}  // namespace xt

#include "loss/relaxed_loss_cpu_kernels.h"

namespace xt {
namespace loss {

namespace {

std::atomic<bool> g_force_generic{false};

bool CpuHasAvx2() {
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  static const bool ok =
      __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2");
  return ok;
#else
  return false;
#endif
}

const KernelSet<float>& GenericF32() {
  static const KernelSet<float> k = MakeKernelSet<float>("generic");
  return k;
}
const KernelSet<double>& GenericF64() {
  static const KernelSet<double> k = MakeKernelSet<double>("generic");
  return k;
}

template <typename T>
const KernelSet<T>& Kernels();
template <>
const KernelSet<float>& Kernels<float>() {
  return CpuKernelsF32(g_force_generic.load());
}
template <>
const KernelSet<double>& Kernels<double>() {
  return CpuKernelsF64(g_force_generic.load());
}

// Rows split into at most one chunk per intra-op thread, fewer when the work is small; chunk c
// always covers the same rows, so per-chunk partial results reduce in a fixed order.
struct Chunks {
  int64_t n;
  int64_t rows;
};

// min_work: elements per chunk below which a split costs more than it saves (a parallel
// region's start and barrier; on a busy machine a barrier can wait a whole scheduler slice).
Chunks PlanChunks(int64_t B, int64_t work_per_row, int64_t min_work) {
  const int64_t threads = std::max<int64_t>(1, at::get_num_threads());
  const int64_t total = B * std::max<int64_t>(1, work_per_row);
  int64_t n = std::min<int64_t>({threads, B, std::max<int64_t>(1, total / min_work)});
  n = std::max<int64_t>(1, n);
  const int64_t rows = (B + n - 1) / n;
  n = (B + rows - 1) / rows;
  return {n, rows};
}

template <typename F>
void ForChunks(const Chunks& c, int64_t B, const F& fn) {
  if (c.n == 1) {
    fn(0, 0, B);
    return;
  }
  at::parallel_for(0, c.n, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t k = c0; k < c1; ++k) {
      const int64_t r0 = k * c.rows, r1 = std::min(B, r0 + c.rows);
      if (r0 < r1) fn(k, r0, r1);
    }
  });
}

// Compressed groups: group_of [B], start [G + 1], members [B] (int32, CPU).
std::vector<at::Tensor> BuildGroups(const at::Tensor& groups, int64_t B) {
  auto i32 = at::TensorOptions().dtype(at::kInt);
  at::Tensor group_of = at::empty({B}, i32), members = at::empty({B}, i32);
  int32_t* go = group_of.data_ptr<int32_t>();
  int32_t* mem = members.data_ptr<int32_t>();
  if (!groups.defined()) {
    at::Tensor start = at::empty({B + 1}, i32);
    int32_t* st = start.data_ptr<int32_t>();
    for (int64_t i = 0; i < B; ++i) go[i] = mem[i] = st[i] = static_cast<int32_t>(i);
    st[B] = static_cast<int32_t>(B);
    return {group_of, start, members};
  }
  at::Tensor ids = groups.to(at::kCPU, at::kLong).contiguous();
  const int64_t* id = ids.data_ptr<int64_t>();
  std::vector<int32_t> order(B);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [id](int32_t x, int32_t y) { return id[x] < id[y]; });
  std::vector<int32_t> st;
  st.reserve(B + 1);
  for (int64_t k = 0; k < B; ++k) {
    if (k == 0 || id[order[k]] != id[order[k - 1]]) st.push_back(static_cast<int32_t>(k));
    go[order[k]] = static_cast<int32_t>(st.size() - 1);
    mem[k] = order[k];
  }
  st.push_back(static_cast<int32_t>(B));
  at::Tensor start = at::empty({static_cast<int64_t>(st.size())}, i32);
  std::copy(st.begin(), st.end(), start.data_ptr<int32_t>());
  return {group_of, start, members};
}

// One spare [B, B] buffer, reused by the next forward once nothing else holds it (the autograd
// graph that saved it is gone). Only buffers up to kMaxCachedBytes are kept.
constexpr int64_t kMaxCachedBytes = int64_t(64) << 20;

struct SquareCache {
  std::mutex mu;
  at::Tensor spare;
};

SquareCache& Cache() {
  static SquareCache* c = new SquareCache;  // leaked on purpose: no tensor destructor at exit
  return *c;
}

at::Tensor SquareBuffer(int64_t B, const at::TensorOptions& opts) {
  const int64_t bytes = B * B * static_cast<int64_t>(opts.dtype().itemsize());
  if (bytes > kMaxCachedBytes) return at::empty({B, B}, opts);
  SquareCache& c = Cache();
  std::lock_guard<std::mutex> lock(c.mu);
  if (c.spare.defined() && c.spare.use_count() == 1 && c.spare.storage().use_count() == 1 &&
      c.spare.size(0) == B && c.spare.scalar_type() == opts.dtype().toScalarType()) {
    return c.spare;
  }
  c.spare = at::empty({B, B}, opts);
  return c.spare;
}

GroupsView ViewOf(const at::Tensor& group_of, const at::Tensor& start, const at::Tensor& members) {
  return {group_of.data_ptr<int32_t>(), start.data_ptr<int32_t>(), members.data_ptr<int32_t>()};
}

template <typename T>
at::Tensor ForwardT(const at::Tensor& image, const at::Tensor& text, double tau, double clip,
                    const at::Tensor& groups, std::vector<at::Tensor>* saved) {
  const KernelSet<T>& k = Kernels<T>();
  const int64_t B = image.size(0), D = image.size(1);
  auto opts = image.options();

  // inverse norms (and the first row that cannot be normalised)
  at::Tensor inv_row = at::empty({B}, opts), inv_col = at::empty({B}, opts);
  const Chunks nc = PlanChunks(B, D, 1 << 20);
  std::vector<int64_t> bad_img(nc.n, -1), bad_txt(nc.n, -1);
  ForChunks(nc, B, [&](int64_t c, int64_t r0, int64_t r1) {
    bad_img[c] = k.row_inv_norms(image.data_ptr<T>(), D, inv_row.data_ptr<T>(), r0, r1);
    bad_txt[c] = k.row_inv_norms(text.data_ptr<T>(), D, inv_col.data_ptr<T>(), r0, r1);
  });
  for (int64_t c = 0; c < nc.n; ++c)
    if (bad_img[c] >= 0) ThrowBadRow(image, bad_img[c], "image");
  for (int64_t c = 0; c < nc.n; ++c)
    if (bad_txt[c] >= 0) ThrowBadRow(text, bad_txt[c], "text");

  std::vector<at::Tensor> g = BuildGroups(groups, B);
  at::Tensor S = SquareBuffer(B, opts);
  at::mm_out(S, image, text.t());  // raw products; pass 1 turns them into cosines

  at::Tensor row_max = at::empty({B}, opts), row_logsum = at::empty({B}, opts);
  at::Tensor col_max = at::empty({B}, opts), col_logsum = at::empty({B}, opts);
  const Chunks c = PlanChunks(B, B, 1 << 15);
  // per chunk: a row buffer and a partial column vector
  at::Tensor scratch = at::empty({c.n, 2, B}, opts);
  T* scr = scratch.data_ptr<T>();
  std::fill(scr, scr + c.n * 2 * B, -std::numeric_limits<T>::infinity());

  ForwardArgs<T> a;
  a.B = B;
  a.S = S.data_ptr<T>();
  a.inv_row = inv_row.data_ptr<T>();
  a.inv_col = inv_col.data_ptr<T>();
  a.tau = static_cast<T>(tau);
  a.clip = static_cast<T>(clip);
  a.groups = ViewOf(g[0], g[1], g[2]);
  a.row_max = row_max.data_ptr<T>();
  a.row_logsum = row_logsum.data_ptr<T>();
  a.col_max = col_max.data_ptr<T>();

  std::vector<double> target(c.n, 0.0);
  ForChunks(c, B, [&](int64_t ch, int64_t r0, int64_t r1) {
    target[ch] = k.forward_rows(a, r0, r1, scr + ch * 2 * B, scr + ch * 2 * B + B);
  });
  T* cm = col_max.data_ptr<T>();
  for (int64_t j = 0; j < B; ++j) {
    T m = scr[B + j];
    for (int64_t ch = 1; ch < c.n; ++ch) m = std::max(m, scr[ch * 2 * B + B + j]);
    cm[j] = m;
  }
  std::vector<double> col_sums(c.n * B, 0.0);
  ForChunks(c, B, [&](int64_t ch, int64_t r0, int64_t r1) {
    k.forward_cols(a, r0, r1, scr + ch * 2 * B, col_sums.data() + ch * B);
  });
  T* cl = col_logsum.data_ptr<T>();
  for (int64_t j = 0; j < B; ++j) {
    double s = 0;
    for (int64_t ch = 0; ch < c.n; ++ch) s += col_sums[ch * B + j];
    cl[j] = static_cast<T>(std::log(s));
  }

  // loss = (sum_i lse_row_i + sum_j lse_col_j - 2 sum of target logits) / 2B; the column targets
  // sum to the row targets because positive pairs are symmetric.
  // The maxima and the targets cancel to a small number when the loss is small (positives
  // dominating), so they are subtracted before the scale multiplies them.
  double maxima = 0, logsums = 0;
  const T* rm = a.row_max;
  const T* rl = a.row_logsum;
  for (int64_t i = 0; i < B; ++i) {
    maxima += double(rm[i]) + double(cm[i]);
    logsums += double(rl[i]) + double(cl[i]);
  }
  double tsum = 0;
  for (double t : target) tsum += t;
  const double loss = (tau * (maxima - 2.0 * tsum) + logsums) / (2.0 * B);

  if (saved) *saved = {S, inv_row, inv_col, row_max, row_logsum, col_max, col_logsum, g[0], g[1], g[2]};
  return at::scalar_tensor(loss, opts);
}

template <typename T>
CpuGrads BackwardT(const std::vector<at::Tensor>& saved, const at::Tensor& image, const at::Tensor& text,
                   double tau, double clip, double grad_out, bool need_image, bool need_text, bool in_place) {
  const KernelSet<T>& k = Kernels<T>();
  const at::Tensor &S = saved[0], &inv_row = saved[1], &inv_col = saved[2];
  const int64_t B = S.size(0), D = image.size(1);
  at::Tensor dS = in_place ? S : at::empty({B, B}, S.options());

  BackwardArgs<T> a;
  a.B = B;
  a.S = S.data_ptr<T>();
  a.dS = dS.data_ptr<T>();
  a.inv_row = inv_row.data_ptr<T>();
  a.inv_col = inv_col.data_ptr<T>();
  a.tau = static_cast<T>(tau);
  a.clip = static_cast<T>(clip);
  a.coef = static_cast<T>(grad_out / (2.0 * B));
  a.groups = ViewOf(saved[7], saved[8], saved[9]);
  a.row_max = saved[3].data_ptr<T>();
  a.row_logsum = saved[4].data_ptr<T>();
  a.col_max = saved[5].data_ptr<T>();
  a.col_logsum = saved[6].data_ptr<T>();

  const Chunks c = PlanChunks(B, B, 1 << 15);
  at::Tensor bufs = at::empty({c.n, 2 * B}, S.options());
  std::vector<double> part(c.n, 0.0);
  ForChunks(c, B, [&](int64_t ch, int64_t r0, int64_t r1) {
    part[ch] = k.backward_rows(a, r0, r1, bufs.data_ptr<T>() + ch * 2 * B);
  });
  double total = 0;
  for (double p : part) total += p;

  CpuGrads out;
  out.dtau = grad_out / (2.0 * B) * total;
  const Chunks cr = PlanChunks(B, D, 1 << 20);
  if (need_image) {
    out.image = at::mm(dS, text);
    ForChunks(cr, B, [&](int64_t, int64_t r0, int64_t r1) {
      k.finish_rows(out.image.data_ptr<T>(), image.data_ptr<T>(), a.inv_row, D, r0, r1);
    });
  }
  if (need_text) {
    out.text = at::mm(dS.t(), image);
    ForChunks(cr, B, [&](int64_t, int64_t r0, int64_t r1) {
      k.finish_rows(out.text.data_ptr<T>(), text.data_ptr<T>(), a.inv_col, D, r0, r1);
    });
  }
  return out;
}

}  // namespace

const KernelSet<float>& CpuKernelsF32(bool force_generic) {
  if (!force_generic && CpuHasAvx2()) {
    if (const KernelSet<float>* k = Avx2KernelsF32()) return *k;
  }
  return GenericF32();
}

const KernelSet<double>& CpuKernelsF64(bool force_generic) {
  if (!force_generic && CpuHasAvx2()) {
    if (const KernelSet<double>* k = Avx2KernelsF64()) return *k;
  }
  return GenericF64();
}

const char* CpuIsa() { return CpuKernelsF32(g_force_generic.load()).isa; }

void ForceGenericCpu(bool on) { g_force_generic.store(on); }

void ReleaseCpuCache() {
  SquareCache& c = Cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.spare = at::Tensor();
}

at::Tensor CpuFusedForward(const at::Tensor& image, const at::Tensor& text, double tau, double clip,
                           const at::Tensor& groups, std::vector<at::Tensor>* saved) {
  if (image.scalar_type() == at::kDouble) return ForwardT<double>(image, text, tau, clip, groups, saved);
  return ForwardT<float>(image, text, tau, clip, groups, saved);
}

CpuGrads CpuFusedBackward(const std::vector<at::Tensor>& saved, const at::Tensor& image,
                          const at::Tensor& text, double tau, double clip, double grad_out,
                          bool need_image, bool need_text, bool in_place) {
  if (image.scalar_type() == at::kDouble)
    return BackwardT<double>(saved, image, text, tau, clip, grad_out, need_image, need_text, in_place);
  return BackwardT<float>(saved, image, text, tau, clip, grad_out, need_image, need_text, in_place);
}

}  // namespace loss
}  // namespace xt
