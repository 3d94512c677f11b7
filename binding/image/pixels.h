// Image input of the encoders and the training step, as JS hands it over:
//   - 8-bit grey, Uint8Array [n, H, W] (what the decoders produce; 1 byte per pixel crosses the boundary):
//     normalised here, per channel c of the model's 3 input channels, to (v / 255 - mean[c]) / std[c]
//     (computed in double, rounded to float32: bit for bit what lib/data/images.ts greyToCHW gives);
//   - already normalised float, Float32Array [n, 3, H, W] (fixtures, callers with their own preprocessing).
// The normalisation constants belong to the model (ModelState::pixel_norm; CLIP's by default).
#pragma once
#include <napi.h>
#include <torch/torch.h>

#include <array>
#include <string>

namespace xt {

struct PixelNorm {
  std::array<double, 3> mean{{0.48145466, 0.4578275, 0.40821073}};  // OpenAI CLIP (RGB)
  std::array<double, 3> std{{0.26862954, 0.26130258, 0.27577711}};
};

// Pixels as they came from JS (copied on the main thread, so a worker never touches JS memory).
struct PixelInput {
  torch::Tensor data;  // uint8 [n, H, W] when grey, float32 [n, 3, H, W] otherwise (CPU)
  bool grey = false;
  int64_t n() const { return data.size(0); }
  int64_t height() const { return data.size(grey ? 1 : 2); }
  int64_t width() const { return data.size(grey ? 2 : 3); }
  PixelInput slice(int64_t lo, int64_t hi) const { return {data.slice(0, lo, hi), grey}; }
};

// Parse (pixels, shape): a Uint8Array with shape [n, H, W] or a Float32Array with shape [n, 3, H, W].
// `side` > 0 requires H == W == side. `what` names the call in errors (XT_INVALID for a wrong array type,
// XT_SHAPE for a wrong shape).
PixelInput PixelsArg(const Napi::Value& data, const Napi::Value& shape, const std::string& what, int64_t side = 0);

// `mean`/`std` keys of an options object (arrays of 3 numbers; std > 0), over `base` for absent keys.
PixelNorm PixelNormArg(const Napi::Object& opts, const std::string& what, PixelNorm base = {});

// The encoder input [n, 3, H, W] on `device` in `dtype`. Grey pixels cross to the device as bytes and
// are expanded there (a 3 x 256 lookup table); non_blocking: copy from pinned memory without blocking (CUDA).
torch::Tensor ModelPixels(const PixelInput& in, const PixelNorm& norm, const at::Device& device, at::ScalarType dtype,
                          bool non_blocking = false);

}  // namespace xt
