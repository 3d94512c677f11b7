// The relaxed contrastive loss (the paper's objective) for native callers, e.g. training:
//
//   1. a_i = image_i / ||image_i||, b_j = text_j / ||text_j||, s_ij = a_i . b_j;
//   2. positive-pair relaxation: every positive s_ij <- min(s_ij, positive_clip), with no
//      gradient through a clipped value (positive_clip = 1 is plain CLIP);
//   3. logits = exp(min(logit_scale, 4.6052)) * s: the scale is capped at exp(4.6052) ~ 100 as
//      CLIP's training clamps it; the gradient w.r.t. logit_scale is 0 above the cap;
//   4. loss = (CE over rows + CE over columns) / 2, each averaged over the batch.
// Targets: without `groups` the positives are the diagonal. With `groups` (an integer id per
// sample, [B]), row i's target spreads uniformly over every j with groups[j] == groups[i], in both
// directions, and the relaxation applies to all those pairs; all-distinct ids equal the plain loss.
//
// Inputs: image and text [B, D] on the same device, same floating dtype; logit_scale one element
// (log space, usually a 0-dim parameter with requires_grad). Returns a 0-dim loss with autograd
// to image, text and logit_scale (of the inputs' dtype; fp32 for fp16/bf16 inputs on CUDA).
// CPU: fp32/fp64 fused kernels (fp16/bf16 are computed in fp32). CUDA (builds with XT_WITH_CUDA):
// fp32/fp16/bf16/fp64 with fp32 (fp64) accumulation.
// Bad input throws xt::XtError: XT_SHAPE (ranks, B = 0, D mismatch, groups length) or XT_INVALID
// (dtypes, devices, non-finite values, zero-norm rows, positive_clip outside [-1, 1]).
#pragma once
#include <ATen/ATen.h>
#include <c10/util/Optional.h>

namespace xt {

// The fused implementation (custom autograd function).
// validate_values = false skips the value checks that need a device->host read on CUDA (non-finite
// entries, zero rows: they then give a non-finite loss instead of an error); the training step uses it to
// avoid a host synchronisation per step. Shapes, dtypes and devices are always checked.
at::Tensor relaxed_contrastive_loss(const at::Tensor& image, const at::Tensor& text,
                                   const at::Tensor& logit_scale /*0-dim, requires_grad*/,
                                   double positive_clip, const c10::optional<at::Tensor>& groups,
                                   bool validate_values = true);

// The same loss composed from ATen ops (autograd through them): the reference for tests and
// benchmarks. It materialises several [B, B] temporaries.
at::Tensor relaxed_contrastive_loss_reference(const at::Tensor& image, const at::Tensor& text,
                                             const at::Tensor& logit_scale, double positive_clip,
                                             const c10::optional<at::Tensor>& groups);

// Which CPU kernels the fused path uses here: "avx2" or "generic".
const char* relaxed_loss_cpu_isa();

// The CPU path keeps one spare [B, B] similarity buffer (up to 64 MiB) between calls, so that
// training steps do not fault in fresh pages every time; this frees it.
void relaxed_loss_release_cache();

// Tests: force the portable CPU kernels even on an AVX2 machine (process-wide).
void relaxed_loss_force_generic_cpu(bool on);

}  // namespace xt
