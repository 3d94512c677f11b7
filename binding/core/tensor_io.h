// Converting between JS typed arrays and LibTorch tensors (always by copy on the main thread,
// so a worker never touches JS memory).
#pragma once
#include <napi.h>
#include <torch/torch.h>

#include <string>
#include <vector>

namespace xt {

// Parse a JS array of non-negative integers (a shape); `what` names the argument in errors.
std::vector<int64_t> ShapeArg(const Napi::Value& v, const std::string& what);

// Copy a Float32Array/Float64Array/Int32Array/BigInt64Array/Uint8Array into a new CPU tensor
// of the given shape; the element count must match the shape.
torch::Tensor TensorFromTypedArray(const Napi::Value& v, const std::vector<int64_t>& shape,
                                   const std::string& what);

// Copy a tensor into a new typed array (Float32Array for float tensors unless it is double,
// Float64Array for double, Int32Array for int32, BigInt64Array for int64).
Napi::Value TypedArrayFromTensor(Napi::Env env, const torch::Tensor& t);

// {data, shape} object.
Napi::Object TensorResult(Napi::Env env, const torch::Tensor& t);

Napi::Array ShapeToJs(Napi::Env env, at::IntArrayRef shape);

// Read optional properties of an options object.
std::string OptString(const Napi::Object& o, const char* key, const std::string& dflt);
double OptNumber(const Napi::Object& o, const char* key, double dflt);
bool OptBool(const Napi::Object& o, const char* key, bool dflt);

}  // namespace xt
