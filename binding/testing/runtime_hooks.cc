// Runtime hooks (testing addon only):
//   testing.matmul(a, aShape, b, bShape) -> Promise<{data, shape}>: a plain 2-D product on a worker
//   thread, the smallest real op that exercises argument checks, RunAsync and error codes end to end.
#include <napi.h>
#include <torch/torch.h>

#include "core/async.h"
#include "core/errors.h"
#include "core/registry.h"
#include "core/tensor_io.h"
#include "testing/testing.h"

namespace xt {
namespace {

Napi::Value Matmul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    XT_CHECK(info.Length() >= 4, kInvalid, "matmul(a, aShape, b, bShape): 4 arguments expected");
    auto a = TensorFromTypedArray(info[0], ShapeArg(info[1], "aShape"), "a");
    auto b = TensorFromTypedArray(info[2], ShapeArg(info[3], "bShape"), "b");
    return RunAsync<torch::Tensor>(
        env, "xt.testing.matmul",
        [a, b]() {
          torch::NoGradGuard ng;
          return torch::matmul(a, b);
        },
        [](Napi::Env env, torch::Tensor& t) -> Napi::Value { return TensorResult(env, t); });
  });
}

void InitRuntimeHooks(Napi::Env env, Napi::Object exports) {
  testing::Hooks(env, exports).Set("matmul", Napi::Function::New(env, Matmul, "matmul"));
}

}  // namespace
}  // namespace xt

XT_REGISTER_MODULE(testing_runtime, xt::InitRuntimeHooks);
