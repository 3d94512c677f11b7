#include "image/pixels.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "core/errors.h"
#include "core/tensor_io.h"

namespace xt {
namespace {

std::string ShapeStr(const std::vector<int64_t>& s) {
  std::string o = "[";
  for (size_t i = 0; i < s.size(); ++i) o += (i ? ", " : "") + std::to_string(s[i]);
  return o + "]";
}

// grey level -> normalised value, per channel: float32 [3, 256]
torch::Tensor Lut(const PixelNorm& nm) {
  auto t = torch::empty({3, 256}, torch::kFloat);
  float* p = t.data_ptr<float>();
  for (int c = 0; c < 3; ++c)
    for (int v = 0; v < 256; ++v) p[c * 256 + v] = static_cast<float>((v / 255.0 - nm.mean[c]) / nm.std[c]);
  return t;
}

}  // namespace

PixelInput PixelsArg(const Napi::Value& data, const Napi::Value& shape_v, const std::string& what, int64_t side) {
  const std::string kinds = "a Uint8Array [n, H, W] of 8-bit grey or a Float32Array [n, 3, H, W] of normalised values";
  if (!data.IsTypedArray()) throw XtError(kInvalid, what + ": pixels must be " + kinds);
  Napi::TypedArray ta = data.As<Napi::TypedArray>();
  const napi_typedarray_type type = ta.TypedArrayType();
  PixelInput in;
  in.grey = type == napi_uint8_array || type == napi_uint8_clamped_array;
  if (!in.grey && type != napi_float32_array) throw XtError(kInvalid, what + ": pixels must be " + kinds);
  std::vector<int64_t> shape = ShapeArg(shape_v, what + ": shape");
  const std::string s = side > 0 ? std::to_string(side) : "H";
  const std::string s2 = side > 0 ? std::to_string(side) : "W";
  const std::string model = side > 0 ? " for this model" : "";
  if (in.grey) {
    XT_CHECK(shape.size() == 3 && (side <= 0 || (shape[1] == side && shape[2] == side)), kShape,
             what + ": 8-bit grey pixels (Uint8Array) need shape [n, " + s + ", " + s2 + "]" + model + ", got " +
                 ShapeStr(shape));
    int64_t numel = shape[0] * shape[1] * shape[2];
    XT_CHECK(static_cast<int64_t>(ta.ElementLength()) == numel, kShape,
             what + ": " + std::to_string(ta.ElementLength()) + " pixels do not fit shape " + ShapeStr(shape) + " (" +
                 std::to_string(numel) + ")");
    in.data = torch::empty(shape, torch::kUInt8);
    if (numel > 0)
      std::memcpy(in.data.data_ptr(), static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset(),
                  static_cast<size_t>(numel));
  } else {
    XT_CHECK(shape.size() == 4 && shape[1] == 3 && (side <= 0 || (shape[2] == side && shape[3] == side)), kShape,
             what + ": shape must be [n, 3, " + s + ", " + s2 + "]" + model + " (or a Uint8Array of grey pixels [n, " + s +
                 ", " + s2 + "]), got " + ShapeStr(shape));
    in.data = TensorFromTypedArray(data, shape, what + ": pixels");
  }
  return in;
}

PixelNorm PixelNormArg(const Napi::Object& o, const std::string& what, PixelNorm base) {
  auto read = [&](const char* key, std::array<double, 3>& dst, bool positive) {
    if (!o.Has(key)) return;
    Napi::Value v = o.Get(key);
    if (v.IsUndefined() || v.IsNull()) return;
    const std::string msg = what + ": " + key + " must be an array of 3 finite numbers (one per input channel)" +
                            (positive ? ", each > 0" : "");
    XT_CHECK(v.IsArray() && v.As<Napi::Array>().Length() == 3, kInvalid, msg);
    Napi::Array a = v.As<Napi::Array>();
    for (uint32_t i = 0; i < 3; ++i) {
      Napi::Value x = a.Get(i);
      XT_CHECK(x.IsNumber(), kInvalid, msg);
      double d = x.As<Napi::Number>().DoubleValue();
      XT_CHECK(std::isfinite(d) && (!positive || d > 0), kInvalid, msg);
      dst[i] = d;
    }
  };
  read("mean", base.mean, false);
  read("std", base.std, true);
  return base;
}

torch::Tensor ModelPixels(const PixelInput& in, const PixelNorm& norm, const at::Device& device, at::ScalarType dtype,
                          bool non_blocking) {
  const bool cuda = device.is_cuda();
  auto to_device = [&](const torch::Tensor& t) {
    if (!cuda) return t;
    return non_blocking ? t.pin_memory().to(device, /*non_blocking=*/true) : t.to(device);
  };
  if (!in.grey) return to_device(in.data).to(dtype);
  const int64_t n = in.n(), H = in.height(), W = in.width(), hw = H * W;
  torch::Tensor lut = Lut(norm);
  if (cuda) {
    // bytes to the device, then one gather per channel there
    auto idx = to_device(in.data).to(torch::kLong).reshape({-1});
    return lut.to(device).index_select(1, idx).view({3, n, H, W}).transpose(0, 1).contiguous().to(dtype);
  }
  torch::Tensor src = in.data.contiguous();
  torch::Tensor out = torch::empty({n, 3, H, W}, torch::kFloat);
  const uint8_t* s = src.data_ptr<uint8_t>();
  float* o = out.data_ptr<float>();
  const float* t = lut.data_ptr<float>();
  at::parallel_for(0, n * 3, 1, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const uint8_t* si = s + (p / 3) * hw;
      const float* tc = t + (p % 3) * 256;
      float* op = o + p * hw;
      for (int64_t k = 0; k < hw; ++k) op[k] = tc[si[k]];
    }
  });
  return dtype == torch::kFloat ? out : out.to(dtype);
}

}  // namespace xt
