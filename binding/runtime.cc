// Runtime facts and controls: LibTorch version, CUDA, threads, TF32, and the BLAS speed
// (benchMatmul: a user-facing measurement, `xray-torch doctor` shows it). The test op `matmul`
// lives in binding/testing/runtime_hooks.cc (testing addon only).
#include <napi.h>
#include <torch/torch.h>
#include <torch/version.h>
#include <ATen/Parallel.h>

#include <chrono>

#include "core/async.h"
#include "core/errors.h"
#include "core/registry.h"

#ifdef XT_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

namespace xt {
namespace {

// TF32 for fp32 matmuls and convolutions on CUDA (Ampere and later). Off by default as in PyTorch;
// the trainer turns it on for CUDA runs unless told otherwise (open_clip does the same).
bool g_tf32 = false;
bool Tf32() { return g_tf32; }


Napi::Value RuntimeInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    Napi::Object o = Napi::Object::New(env);
    o.Set("torchVersion", Napi::String::New(env, TORCH_VERSION));
    o.Set("torchSource", Napi::String::New(env, XT_TORCH_SOURCE));
#ifdef XT_WITH_CUDA
    o.Set("variant", Napi::String::New(env, "cuda"));
#else
    o.Set("variant", Napi::String::New(env, "cpu"));
#endif
    bool cuda = torch::cuda::is_available();
    o.Set("cudaAvailable", Napi::Boolean::New(env, cuda));
    Napi::Array devices = Napi::Array::New(env);
#ifdef XT_WITH_CUDA
    if (cuda) {
      int n = static_cast<int>(torch::cuda::device_count());
      for (int i = 0; i < n; ++i) {
        const auto* p = at::cuda::getDeviceProperties(i);
        Napi::Object d = Napi::Object::New(env);
        d.Set("index", i);
        d.Set("name", p->name);
        d.Set("totalMemory", static_cast<double>(p->totalGlobalMem));
        d.Set("capability", std::to_string(p->major) + "." + std::to_string(p->minor));
        devices.Set(static_cast<uint32_t>(i), d);
      }
    }
#endif
    o.Set("cudaDevices", devices);
    o.Set("tf32", Napi::Boolean::New(env, Tf32()));
    o.Set("intraOpThreads", Napi::Number::New(env, IntraOpThreads()));
    o.Set("interopThreads", Napi::Number::New(env, at::get_num_interop_threads()));
    o.Set("parallelInfo", Napi::String::New(env, at::get_parallel_info()));
    o.Set("buildConfig", Napi::String::New(env, at::show_config()));
    return o;
  });
}

Napi::Value SetTf32(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    XT_CHECK(info.Length() >= 1 && info[0].IsBoolean(), kInvalid, "setTf32(on): on must be a boolean");
    g_tf32 = info[0].As<Napi::Boolean>().Value();
#ifdef XT_WITH_CUDA
    // matmuls: "high" allows TF32, "highest" is full fp32 (the API exists in 1.12+ and 2.x); convolutions: cuDNN's flag
    at::globalContext().setFloat32MatmulPrecision(g_tf32 ? "high" : "highest");
    at::globalContext().setAllowTF32CuDNN(g_tf32);
#endif
    return env.Undefined();
  });
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    XT_CHECK(info.Length() >= 1 && info[0].IsNumber(), kInvalid, "setThreads(n): n must be a number");
    double n = info[0].As<Napi::Number>().DoubleValue();
    XT_CHECK(n >= 1 && n <= 4096 && n == static_cast<int>(n), kInvalid,
             "setThreads(n): n must be an integer from 1 to 4096");
    SetIntraOpThreads(static_cast<int>(n));
    return env.Undefined();
  });
}

struct MatmulBench {
  double seconds;
  double gflops;
  int size;
  int iters;
};

// benchMatmul(size, iters): fp32 square matmul throughput on the CPU (after one warm-up). Kept in the
// production addon: `doctor` reports it, so a user can see which BLAS runs and how fast.
Napi::Value BenchMatmul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    int size = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 1024;
    int iters = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 10;
    XT_CHECK(size >= 1 && size <= 16384, kInvalid, "benchMatmul: size must be 1..16384");
    XT_CHECK(iters >= 1 && iters <= 100000, kInvalid, "benchMatmul: iters must be 1..100000");
    return RunAsync<MatmulBench>(
        env, "xt.benchMatmul",
        [size, iters]() {
          torch::NoGradGuard ng;
          auto gen = at::detail::createCPUGenerator(1234);
          auto a = torch::randn({size, size}, gen, torch::kFloat32);
          auto b = torch::randn({size, size}, gen, torch::kFloat32);
          auto c = torch::empty({size, size});
          torch::mm_out(c, a, b);  // warm-up
          auto t0 = std::chrono::steady_clock::now();
          for (int i = 0; i < iters; ++i) torch::mm_out(c, a, b);
          double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          double flops = 2.0 * size * static_cast<double>(size) * size * iters;
          return MatmulBench{s, flops / s / 1e9, size, iters};
        },
        [](Napi::Env env, MatmulBench& r) -> Napi::Value {
          Napi::Object o = Napi::Object::New(env);
          o.Set("seconds", r.seconds);
          o.Set("gflops", r.gflops);
          o.Set("size", r.size);
          o.Set("iters", r.iters);
          return o;
        });
  });
}

void InitRuntime(Napi::Env env, Napi::Object exports) {
  exports.Set("runtimeInfo", Napi::Function::New(env, RuntimeInfo, "runtimeInfo"));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads, "setThreads"));
  exports.Set("setTf32", Napi::Function::New(env, SetTf32, "setTf32"));
  exports.Set("benchMatmul", Napi::Function::New(env, BenchMatmul, "benchMatmul"));
}

}  // namespace
}  // namespace xt

XT_REGISTER_MODULE(runtime, xt::InitRuntime);
