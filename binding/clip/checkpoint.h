// Gradient checkpointing of one residual block (LibTorch has no C++ checkpoint API): the forward runs
// without an autograd graph and keeps only the block's input; the backward recomputes the block with a
// graph from that input and back-propagates through it (PyTorch's reentrant torch.utils.checkpoint).
// Activation memory per checkpointed block falls from its ~10 saved [N, L, W]-sized tensors (plus the
// [N, H, L, L] attention map and the [N, L, 4W] MLP hidden state) to its one [N, L, W] input; the cost
// is one more forward of the block in backward (~+1/3 of the step's compute).
//
// The recompute uses the same ops in the same order as the un-checkpointed graph forward
// (ResidualAttentionBlockImpl::forward_graph) and the autocast state the forward ran under, so the
// gradients equal the plain run's up to the order in which parameter gradients are summed.
#pragma once
#include <torch/torch.h>

namespace xt {
namespace clip {

class ResidualAttentionBlockImpl;

// block(x, causal) through a checkpoint. x must require grad (else there is nothing to save memory
// for: call the block directly).
torch::Tensor CheckpointedBlock(ResidualAttentionBlockImpl& block, const torch::Tensor& x, bool causal);

}  // namespace clip
}  // namespace xt
