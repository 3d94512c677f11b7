#include "train/fused_adamw.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <cstdlib>
#include <sstream>
#include <string>
#include <type_traits>

namespace xt {
namespace train {
namespace {

// The optimizer's state map is keyed by the TensorImpl's address as a string in LibTorch 1.x
// (c10::guts::to_string, i.e. the pointer through an ostream) and by the address itself in 2.x.
template <class Map>
typename Map::key_type StateKey(const Map&, const torch::Tensor& p) {
  if constexpr (std::is_same_v<typename Map::key_type, std::string>) {
    std::ostringstream os;
    os << static_cast<const void*>(p.unsafeGetTensorImpl());
    return os.str();
  } else {
    return static_cast<typename Map::key_type>(p.unsafeGetTensorImpl());
  }
}

bool Fusable(const torch::Tensor& p, const torch::optim::AdamWOptions& o) {
  const auto& g = p.grad();
  return !o.amsgrad() && p.device().is_cpu() && g.device().is_cpu() && !g.is_sparse() &&
         (p.scalar_type() == at::kFloat || p.scalar_type() == at::kDouble) && g.scalar_type() == p.scalar_type() &&
         p.is_contiguous() && g.is_contiguous();
}

template <typename T>
void Update(T* p, const T* g, T* m, T* v, int64_t n, T decay, T b1, T one_minus_b1, T b2, T one_minus_b2,
            T sqrt_bc2, T eps, T step_size) {
  at::parallel_for(0, n, 1 << 15, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      T w = p[i] * decay;  // decay is exactly 1 without weight decay
      const T gi = g[i];
      const T mi = m[i] * b1 + gi * one_minus_b1;
      const T vi = v[i] * b2 + gi * gi * one_minus_b2;
      m[i] = mi;
      v[i] = vi;
      w += -step_size * (mi / (std::sqrt(vi) / sqrt_bc2 + eps));
      p[i] = w;
    }
  });
}

}  // namespace

void FusedAdamWStep(torch::optim::AdamW& opt) {
  const char* env = std::getenv("XRAY_TORCH_FUSED_ADAMW");
  if (env && std::string(env) == "0") {
    opt.step();
    return;
  }
  for (auto& group : opt.param_groups()) {
    const auto& o = static_cast<const torch::optim::AdamWOptions&>(group.options());
    for (const auto& p : group.params()) {
      if (p.grad().defined() && !Fusable(p, o)) {
        opt.step();  // torch's own arithmetic for all
        return;
      }
    }
  }
  torch::NoGradGuard ng;
  auto& state = opt.state();
  for (auto& group : opt.param_groups()) {
    auto& o = static_cast<torch::optim::AdamWOptions&>(group.options());
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      auto key = StateKey(state, p);
      if (state.find(key) == state.end()) {
        auto st = std::make_unique<torch::optim::AdamWParamState>();
        st->step(0);
        st->exp_avg(torch::zeros_like(p, at::MemoryFormat::Contiguous));
        st->exp_avg_sq(torch::zeros_like(p, at::MemoryFormat::Contiguous));
        state[key] = std::move(st);
      }
      auto& st = static_cast<torch::optim::AdamWParamState&>(*state[key]);
      torch::Tensor m = st.exp_avg(), v = st.exp_avg_sq();
      if (!m.is_contiguous()) st.exp_avg(m = m.contiguous());
      if (!v.is_contiguous()) st.exp_avg_sq(v = v.contiguous());
      st.step(st.step() + 1);
      const double b1 = std::get<0>(o.betas()), b2 = std::get<1>(o.betas());
      const double bc1 = 1 - std::pow(b1, static_cast<double>(st.step()));
      const double bc2 = 1 - std::pow(b2, static_cast<double>(st.step()));
      const double step_size = o.lr() / bc1;
      const torch::Tensor g = p.grad();
      AT_DISPATCH_FLOATING_TYPES(p.scalar_type(), "xt_fused_adamw", [&] {
        Update<scalar_t>(p.data_ptr<scalar_t>(), g.data_ptr<scalar_t>(), m.data_ptr<scalar_t>(), v.data_ptr<scalar_t>(),
                         p.numel(), static_cast<scalar_t>(1 - o.lr() * o.weight_decay()), static_cast<scalar_t>(b1),
                         static_cast<scalar_t>(1 - b1), static_cast<scalar_t>(b2), static_cast<scalar_t>(1 - b2),
                         static_cast<scalar_t>(std::sqrt(bc2)), static_cast<scalar_t>(o.eps()),
                         static_cast<scalar_t>(step_size));
      });
    }
  }
}

}  // namespace train
}  // namespace xt
