#include "core/tensor_io.h"

#include <cmath>
#include <cstring>

#include "core/errors.h"

namespace xt {

std::vector<int64_t> ShapeArg(const Napi::Value& v, const std::string& what) {
  if (!v.IsArray()) throw XtError(kInvalid, what + ": expected an array of dimensions");
  Napi::Array arr = v.As<Napi::Array>();
  std::vector<int64_t> shape;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value d = arr.Get(i);
    if (!d.IsNumber()) throw XtError(kInvalid, what + ": dimension " + std::to_string(i) + " is not a number");
    double x = d.As<Napi::Number>().DoubleValue();
    if (!(x >= 0) || std::floor(x) != x || x > 9.0e15)
      throw XtError(kShape, what + ": dimension " + std::to_string(i) + " must be a non-negative integer");
    shape.push_back(static_cast<int64_t>(x));
  }
  return shape;
}

torch::Tensor TensorFromTypedArray(const Napi::Value& v, const std::vector<int64_t>& shape,
                                   const std::string& what) {
  if (!v.IsTypedArray()) throw XtError(kInvalid, what + ": expected a typed array");
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  torch::ScalarType st;
  switch (ta.TypedArrayType()) {
    case napi_float32_array: st = torch::kFloat32; break;
    case napi_float64_array: st = torch::kFloat64; break;
    case napi_int32_array: st = torch::kInt32; break;
    case napi_bigint64_array: st = torch::kInt64; break;
    case napi_uint8_array: st = torch::kUInt8; break;
    default: throw XtError(kInvalid, what + ": unsupported typed array type");
  }
  int64_t numel = 1;
  for (auto d : shape) numel *= d;
  if (static_cast<int64_t>(ta.ElementLength()) != numel) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
    s += "]";
    throw XtError(kShape, what + ": " + std::to_string(ta.ElementLength()) +
                              " elements do not fit shape " + s + " (" + std::to_string(numel) + ")");
  }
  auto out = torch::empty(shape, torch::TensorOptions().dtype(st));
  if (numel > 0) {
    const uint8_t* src = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    std::memcpy(out.data_ptr(), src, ta.ByteLength());
  }
  return out;
}

Napi::Value TypedArrayFromTensor(Napi::Env env, const torch::Tensor& t_in) {
  torch::Tensor t = t_in.to(torch::kCPU);
  if (t.scalar_type() != torch::kFloat64 && t.scalar_type() != torch::kInt32 &&
      t.scalar_type() != torch::kInt64)
    t = t.to(torch::kFloat32);
  t = t.contiguous();
  size_t n = static_cast<size_t>(t.numel());
  size_t bytes = n * t.element_size();
  auto buf = Napi::ArrayBuffer::New(env, bytes);
  if (bytes) std::memcpy(buf.Data(), t.data_ptr(), bytes);
  switch (t.scalar_type()) {
    case torch::kFloat64: return Napi::Float64Array::New(env, n, buf, 0);
    case torch::kInt32: return Napi::Int32Array::New(env, n, buf, 0);
    case torch::kInt64: return Napi::BigInt64Array::New(env, n, buf, 0);
    default: return Napi::Float32Array::New(env, n, buf, 0);
  }
}

Napi::Array ShapeToJs(Napi::Env env, at::IntArrayRef shape) {
  Napi::Array a = Napi::Array::New(env, shape.size());
  for (size_t i = 0; i < shape.size(); ++i) a.Set(i, Napi::Number::New(env, static_cast<double>(shape[i])));
  return a;
}

Napi::Object TensorResult(Napi::Env env, const torch::Tensor& t) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("data", TypedArrayFromTensor(env, t));
  o.Set("shape", ShapeToJs(env, t.sizes()));
  return o;
}

std::string OptString(const Napi::Object& o, const char* key, const std::string& dflt) {
  if (!o.Has(key)) return dflt;
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return dflt;
  if (!v.IsString()) throw XtError(kInvalid, std::string("option '") + key + "' must be a string");
  return v.As<Napi::String>().Utf8Value();
}

double OptNumber(const Napi::Object& o, const char* key, double dflt) {
  if (!o.Has(key)) return dflt;
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return dflt;
  if (!v.IsNumber()) throw XtError(kInvalid, std::string("option '") + key + "' must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

bool OptBool(const Napi::Object& o, const char* key, bool dflt) {
  if (!o.Has(key)) return dflt;
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return dflt;
  if (!v.IsBoolean()) throw XtError(kInvalid, std::string("option '") + key + "' must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

}  // namespace xt
