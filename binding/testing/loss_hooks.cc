// Loss hooks (testing addon only):
//   testing.lossForceGenericCpu(on)     the portable CPU kernels even on an AVX2 machine (process-wide)
//   testing.contrastiveLossTwice(...)   contrastiveLoss's arguments; backward twice on one graph
//                                       (retain_graph), returning the second gradients
//   testing.benchContrastiveLoss(opts)  forward + backward timed natively (bench/loss.ts, bench/gpu-check.ts)
#include <napi.h>
#include <torch/torch.h>
#include <c10/core/CPUAllocator.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "core/async.h"
#include "core/errors.h"
#include "core/registry.h"
#include "core/tensor_io.h"
#include "loss/loss_args.h"
#include "loss/relaxed_loss.h"
#include "testing/testing.h"

namespace xt {
namespace {

using namespace loss_js;

// Benchmark support: a CPU allocator wrapper that measures the peak of live bytes.
// ---------------------------------------------------------------------------------------------
struct TrackState {
  std::atomic<int64_t> live{0};
  std::atomic<int64_t> peak{0};
};

struct TrackCtx {
  c10::DataPtr inner;
  size_t n;
  TrackState* state;
};

void TrackDelete(void* p) {
  auto* c = static_cast<TrackCtx*>(p);
  c->state->live.fetch_sub(static_cast<int64_t>(c->n));
  delete c;
}

c10::DataPtr TrackAllocate(c10::Allocator* base, TrackState* st, size_t n) {
  c10::DataPtr inner = base->allocate(n);
  void* data = inner.get();
  c10::Device dev = inner.device();
  auto* ctx = new TrackCtx{std::move(inner), n, st};
  int64_t now = st->live.fetch_add(static_cast<int64_t>(n)) + static_cast<int64_t>(n);
  int64_t prev = st->peak.load();
  while (now > prev && !st->peak.compare_exchange_weak(prev, now)) {
  }
  return {data, ctx, &TrackDelete, dev};
}

// LibTorch 1.x declares Allocator::allocate const; 2.x does not (and adds copy_data). Both
// variants are class templates so that only the one matching this LibTorch is instantiated.
constexpr bool kAllocateIsConst =
    std::is_same<decltype(&c10::Allocator::allocate), c10::DataPtr (c10::Allocator::*)(size_t) const>::value;

template <bool kConst, typename Dummy = void>
struct TrackingAllocator;

template <typename Dummy>
struct TrackingAllocator<true, Dummy> : c10::Allocator {
  c10::Allocator* base = nullptr;
  mutable TrackState st;
  c10::DataPtr allocate(size_t n) const override { return TrackAllocate(base, &st, n); }
  void copy_data(void* dest, const void* src, size_t count) const { std::memcpy(dest, src, count); }
};

template <typename Dummy>
struct TrackingAllocator<false, Dummy> : c10::Allocator {
  c10::Allocator* base = nullptr;
  mutable TrackState st;
  c10::DataPtr allocate(size_t n) override { return TrackAllocate(base, &st, n); }
  void copy_data(void* dest, const void* src, size_t count) const { std::memcpy(dest, src, count); }
};

using Tracker = TrackingAllocator<kAllocateIsConst>;

double ProcessCpuMs() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
}

struct BenchResult {
  std::vector<double> ms;
  std::vector<double> cpu_ms;  // process CPU time (all threads) per iteration
  double loss;
  int64_t peak_extra_bytes;  // -1 when not measured (CUDA)
  std::string isa;
};

// benchContrastiveLoss({B, D, iters, warmup, impl, dtype, device, positiveClip, logitScale, groups, threads})
Napi::Value BenchContrastiveLoss(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    XT_CHECK(info.Length() >= 1 && info[0].IsObject(), kInvalid, "benchContrastiveLoss(opts): options expected");
    Napi::Object o = info[0].As<Napi::Object>();
    const int64_t B = static_cast<int64_t>(OptNumber(o, "B", 1024));
    const int64_t D = static_cast<int64_t>(OptNumber(o, "D", 512));
    const int iters = static_cast<int>(OptNumber(o, "iters", 10));
    const int warmup = static_cast<int>(OptNumber(o, "warmup", 2));
    const double clip = OptNumber(o, "positiveClip", 0.8);
    const double logit_scale = OptNumber(o, "logitScale", 2.6592);
    const double group_size = OptNumber(o, "groupSize", 1);  // >1: ids i / groupSize (multi-positive)
    const Impl impl = ImplArg(OptString(o, "impl", "fused"));
    const torch::Device device = DeviceArg(OptString(o, "device", "cpu"));
    const torch::ScalarType dtype = DtypeArg(OptString(o, "dtype", "float32")).value_or(torch::kFloat32);
    XT_CHECK(B >= 1 && B <= 65536 && D >= 1 && D <= 65536, kInvalid, "benchContrastiveLoss: B, D must be 1..65536");
    XT_CHECK(iters >= 1 && iters <= 10000 && warmup >= 0 && warmup <= 1000, kInvalid,
             "benchContrastiveLoss: iters 1..10000, warmup 0..1000");
    XT_CHECK(group_size >= 1, kInvalid, "benchContrastiveLoss: groupSize must be >= 1");
    return RunAsync<BenchResult>(
        env, "xt.benchContrastiveLoss",
        [=]() {
          auto gen = at::detail::createCPUGenerator(20240607);
          auto opts = torch::TensorOptions().dtype(torch::kFloat32);
          // correlated pairs, like a partly trained model
          torch::Tensor base = torch::randn({B, D}, gen, opts);
          torch::Tensor img0 = (base + 0.8 * torch::randn({B, D}, gen, opts)).to(device, dtype);
          torch::Tensor txt0 = (base + 0.8 * torch::randn({B, D}, gen, opts)).to(device, dtype);
          c10::optional<torch::Tensor> groups;
          if (group_size > 1)
            groups = torch::floor(torch::arange(B, torch::kFloat64) / group_size).to(torch::kInt32).to(device);
          const auto ls_dtype = dtype == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
          auto step = [&]() {
            torch::Tensor i = img0.detach().requires_grad_(true);
            torch::Tensor t = txt0.detach().requires_grad_(true);
            torch::Tensor ls = torch::full({}, logit_scale, img0.options().dtype(ls_dtype)).requires_grad_(true);
            torch::Tensor loss = RunLoss(impl, i, t, ls, clip, groups);
            auto g = torch::autograd::grad({loss}, {i, t, ls});
            if (device.is_cuda()) torch::cuda::synchronize();
            return loss.item<double>();
          };
          BenchResult r;
          r.isa = relaxed_loss_cpu_isa();
          for (int k = 0; k < warmup; ++k) r.loss = step();
          for (int k = 0; k < iters; ++k) {
            auto t0 = std::chrono::steady_clock::now();
            const double c0 = ProcessCpuMs();
            r.loss = step();
            r.cpu_ms.push_back(ProcessCpuMs() - c0);
            r.ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
          }
          r.peak_extra_bytes = -1;
          if (!device.is_cuda()) {
            // one more step with every CPU allocation counted (inputs already exist; the cached
            // similarity buffer is released first so that it is counted too)
            relaxed_loss_release_cache();
            static Tracker tracker;
            c10::Allocator* prev = c10::GetCPUAllocator();
            tracker.base = prev;
            tracker.st.live = 0;
            tracker.st.peak = 0;
            c10::SetCPUAllocator(&tracker, 0);
            try {
              step();
            } catch (...) {
              c10::SetCPUAllocator(prev, 0);
              throw;
            }
            c10::SetCPUAllocator(prev, 0);
            r.peak_extra_bytes = tracker.st.peak.load();
          }
          return r;
        },
        [B, D, impl](Napi::Env env, BenchResult& r) -> Napi::Value {
          Napi::Object out = Napi::Object::New(env);
          Napi::Array ms = Napi::Array::New(env, r.ms.size());
          for (size_t k = 0; k < r.ms.size(); ++k) ms.Set(static_cast<uint32_t>(k), r.ms[k]);
          std::vector<double> sorted = r.ms;
          std::sort(sorted.begin(), sorted.end());
          out.Set("ms", ms);
          out.Set("medianMs", sorted[sorted.size() / 2]);
          out.Set("minMs", sorted.front());
          std::vector<double> cpu = r.cpu_ms;
          std::sort(cpu.begin(), cpu.end());
          out.Set("medianCpuMs", cpu[cpu.size() / 2]);
          out.Set("loss", r.loss);
          out.Set("peakExtraBytes", static_cast<double>(r.peak_extra_bytes));
          out.Set("cpuIsa", r.isa);
          out.Set("impl", impl == Impl::kFused ? "fused" : "reference");
          out.Set("B", static_cast<double>(B));
          out.Set("D", static_cast<double>(D));
          return out;
        });
  });
}

Napi::Value LossForceGenericCpu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    XT_CHECK(info.Length() >= 1 && info[0].IsBoolean(), kInvalid, "lossForceGenericCpu(on: boolean)");
    relaxed_loss_force_generic_cpu(info[0].As<Napi::Boolean>().Value());
    return env.Undefined();
  });
}

// contrastiveLossTwice(image, text, B, D, opts): as contrastiveLoss, but backward runs twice on the
// same graph (the first with retain_graph); the second gradients are returned, so a kernel that
// frees or overwrites what it saved for backward shows up as different gradients.
Napi::Value ContrastiveLossTwice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    LossCall call = ParseLossCall(info, "contrastiveLossTwice");
    return RunAsync<LossResult>(
        env, "xt.testing.contrastiveLossTwice",
        [call]() {
          LossGraph g = BuildLoss(call);
          torch::autograd::grad({g.loss}, {g.image, g.text, g.logit_scale}, {}, /*retain_graph=*/true);
          return ToResult(g, torch::autograd::grad({g.loss}, {g.image, g.text, g.logit_scale}));
        },
        [](Napi::Env env, LossResult& r) -> Napi::Value { return LossResultToJs(env, r); });
  });
}

void InitLossHooks(Napi::Env env, Napi::Object exports) {
  Napi::Object t = testing::Hooks(env, exports);
  t.Set("lossForceGenericCpu", Napi::Function::New(env, LossForceGenericCpu, "lossForceGenericCpu"));
  t.Set("contrastiveLossTwice", Napi::Function::New(env, ContrastiveLossTwice, "contrastiveLossTwice"));
  t.Set("benchContrastiveLoss", Napi::Function::New(env, BenchContrastiveLoss, "benchContrastiveLoss"));
}

}  // namespace
}  // namespace xt

XT_REGISTER_MODULE(testing_loss, xt::InitLossHooks);
