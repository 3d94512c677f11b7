#include "clip/checkpoint.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include "clip/transformer.h"

namespace xt {
namespace clip {
namespace {

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define XT_AUTOCAST_BY_DEVICE 1
#else
#define XT_AUTOCAST_BY_DEVICE 0
#endif

// The thread-local autocast state, captured in forward and re-applied around the recompute (on CUDA
// the backward runs on another thread, where autocast is off).
struct AutocastState {
  bool cpu = false, gpu = false;
  at::ScalarType cpu_dtype = at::kBFloat16, gpu_dtype = at::kHalf;

  static AutocastState Capture() {
    AutocastState s;
#if XT_AUTOCAST_BY_DEVICE
    s.cpu = at::autocast::is_autocast_enabled(at::kCPU);
    s.gpu = at::autocast::is_autocast_enabled(at::kCUDA);
    s.cpu_dtype = at::autocast::get_autocast_dtype(at::kCPU);
    s.gpu_dtype = at::autocast::get_autocast_dtype(at::kCUDA);
#else
    s.cpu = at::autocast::is_cpu_enabled();
    s.gpu = at::autocast::is_enabled();
    s.cpu_dtype = at::autocast::get_autocast_cpu_dtype();
    s.gpu_dtype = at::autocast::get_autocast_gpu_dtype();
#endif
    return s;
  }
  void Apply() const {
#if XT_AUTOCAST_BY_DEVICE
    at::autocast::set_autocast_dtype(at::kCPU, cpu_dtype);
    at::autocast::set_autocast_dtype(at::kCUDA, gpu_dtype);
    at::autocast::set_autocast_enabled(at::kCPU, cpu);
    at::autocast::set_autocast_enabled(at::kCUDA, gpu);
#else
    at::autocast::set_autocast_cpu_dtype(cpu_dtype);
    at::autocast::set_autocast_gpu_dtype(gpu_dtype);
    at::autocast::set_cpu_enabled(cpu);
    at::autocast::set_enabled(gpu);
#endif
  }
};

// Re-applies a captured state for one scope and restores the thread's own afterwards.
struct AutocastGuard {
  AutocastState saved;
  explicit AutocastGuard(const AutocastState& s) : saved(AutocastState::Capture()) { s.Apply(); }
  ~AutocastGuard() { saved.Apply(); }
};

struct CheckpointFn : public torch::autograd::Function<CheckpointFn> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor x, int64_t block, bool causal) {
    const AutocastState ac = AutocastState::Capture();
    ctx->save_for_backward({x});
    ctx->saved_data["block"] = block;
    ctx->saved_data["causal"] = causal;
    ctx->saved_data["cpu"] = ac.cpu;
    ctx->saved_data["gpu"] = ac.gpu;
    ctx->saved_data["cpu_dtype"] = static_cast<int64_t>(ac.cpu_dtype);
    ctx->saved_data["gpu_dtype"] = static_cast<int64_t>(ac.gpu_dtype);
    // autograd is off inside a custom function's forward: no graph is kept
    return reinterpret_cast<ResidualAttentionBlockImpl*>(block)->forward_graph(x, causal);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    if (!grads[0].defined()) return {torch::Tensor(), torch::Tensor(), torch::Tensor()};
    torch::Tensor x = ctx->get_saved_variables()[0].detach().requires_grad_(true);
    auto* block = reinterpret_cast<ResidualAttentionBlockImpl*>(ctx->saved_data["block"].toInt());
    const bool causal = ctx->saved_data["causal"].toBool();
    AutocastState ac;
    ac.cpu = ctx->saved_data["cpu"].toBool();
    ac.gpu = ctx->saved_data["gpu"].toBool();
    ac.cpu_dtype = static_cast<at::ScalarType>(ctx->saved_data["cpu_dtype"].toInt());
    ac.gpu_dtype = static_cast<at::ScalarType>(ctx->saved_data["gpu_dtype"].toInt());
    torch::Tensor y;
    {
      torch::AutoGradMode on(true);
      AutocastGuard guard(ac);
      y = block->forward_graph(x, causal);
    }
    // parameter gradients accumulate into .grad() here; the input's gradient goes on up the graph
    torch::autograd::backward({y}, {grads[0]});
    return {x.grad(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor CheckpointedBlock(ResidualAttentionBlockImpl& block, const torch::Tensor& x, bool causal) {
  return CheckpointFn::apply(x, reinterpret_cast<int64_t>(&block), causal);
}

}  // namespace clip
}  // namespace xt
