// One-pass AdamW for CPU parameters.
//
// torch::optim::AdamW::step runs six tensor ops per parameter (weight decay, the two moment
// updates, sqrt, the denominator, addcdiv): six passes over ~4 arrays of the parameter's size,
// ~0.7 s per step for a 126M-parameter CLIP on 2 cores. FusedAdamWStep does the same arithmetic
// (decoupled weight decay, bias corrections, eps added after the sqrt, amsgrad off) in one pass
// per parameter, split over at::parallel_for, on the optimizer's own state (AdamWParamState: step,
// exp_avg, exp_avg_sq), so saved optimizers load either way. When any parameter is one it cannot
// take (not on the CPU, not fp32/fp64, not contiguous, sparse gradients, amsgrad), the whole step
// is torch's own (CUDA training keeps torch::optim::AdamW), as it is with XRAY_TORCH_FUSED_ADAMW=0.
#pragma once
#include <torch/torch.h>

namespace xt {
namespace train {

void FusedAdamWStep(torch::optim::AdamW& opt);

}  // namespace train
}  // namespace xt
