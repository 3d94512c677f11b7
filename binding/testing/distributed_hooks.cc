// Distributed hooks (testing addon only): a contrastive step and a gradient reduction run entirely
// in native code (how the 2-process tests compare against single-process values), and a timed
// collective (bench/dist-worker.ts):
//   testing.distContrastiveStep(opts), testing.distReducer(opts), testing.benchCollective(opts)
#include <napi.h>
#include <torch/torch.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/async.h"
#include "core/errors.h"
#include "core/registry.h"
#include "core/tensor_io.h"
#include "distributed/dist.h"
#include "distributed/dist_js.h"
#include "testing/testing.h"

namespace xt {
namespace {

using namespace dist_js;

struct StepResult {
  double loss;
  torch::Tensor gathered, grad_wi, grad_wt, grad_scale;
  dist::ReducerStats stats;
};

// distContrastiveStep({x, t, rows, inDim, wi, wt, outDim, logitScale, bucketBytes, overlap, op}):
// one CLIP-style step on this rank's rows: e = normalize(x·Wi), f = normalize(t·Wt), gathered
// with grad; loss = symmetric cross-entropy of exp(s)·E·Fᵀ over the global batch; backward;
// GradientReducer. Without a group it is the single-process step on the rows given.
Napi::Value TestContrastiveStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    Napi::Object o = ObjArg(info, 0, "testing.distContrastiveStep");
    int64_t rows = IntOpt(o, "rows", 0), in = IntOpt(o, "inDim", 0), out = IntOpt(o, "outDim", 0);
    XT_CHECK(rows > 0 && in > 0 && out > 0, kInvalid, "distContrastiveStep: rows, inDim, outDim must be > 0");
    auto x = TensorFromTypedArray(o.Get("x"), {rows, in}, "x");
    auto t = TensorFromTypedArray(o.Get("t"), {rows, in}, "t");
    auto wi = TensorFromTypedArray(o.Get("wi"), {in, out}, "wi");
    auto wt = TensorFromTypedArray(o.Get("wt"), {in, out}, "wt");
    double s0 = OptNumber(o, "logitScale", 2.0);
    auto ropts = ReducerOpts(o);
    bool prepare = OptBool(o, "prepare", true);
    return RunAsync<StepResult>(
        env, "xt.testing.distContrastiveStep",
        [=]() {
          auto Wi = wi.to(torch::kFloat).clone().set_requires_grad(true);
          auto Wt = wt.to(torch::kFloat).clone().set_requires_grad(true);
          auto S = torch::full({}, s0, torch::kFloat).set_requires_grad(true);
          dist::GradientReducer reducer({Wi, Wt, S}, ropts);
          if (prepare) reducer.Prepare();
          auto e = torch::nn::functional::normalize(torch::matmul(x.to(torch::kFloat), Wi),
                                                    torch::nn::functional::NormalizeFuncOptions().dim(1));
          auto f = torch::nn::functional::normalize(torch::matmul(t.to(torch::kFloat), Wt),
                                                    torch::nn::functional::NormalizeFuncOptions().dim(1));
          auto E = dist::AllGatherWithGrad(e);
          auto F = dist::AllGatherWithGrad(f);
          auto logits = S.exp() * torch::matmul(E, F.t());
          auto labels = torch::arange(E.size(0), torch::kLong);
          auto loss = (torch::nn::functional::cross_entropy(logits, labels) +
                       torch::nn::functional::cross_entropy(logits.t(), labels)) /
                      2;
          loss.backward();
          reducer.Finish();
          return StepResult{loss.item<double>(), E.detach(), Wi.grad(), Wt.grad(), S.grad(), reducer.LastStats()};
        },
        [](Napi::Env env, StepResult& r) -> Napi::Value {
          Napi::Object res = Napi::Object::New(env);
          res.Set("loss", r.loss);
          res.Set("gathered", TensorResult(env, r.gathered));
          res.Set("gradWi", TensorResult(env, r.grad_wi));
          res.Set("gradWt", TensorResult(env, r.grad_wt));
          res.Set("gradLogitScale", r.grad_scale.item<double>());
          res.Set("stats", StatsToJs(env, r.stats));
          return res;
        });
  });
}

struct ReduceResult {
  std::vector<torch::Tensor> grads;
  dist::ReducerStats stats;
};

// distReducer({shapes, coeffs, unused, bucketBytes, firstBucketBytes, overlap, op, prepare}):
// parameters p_i (zeros) of the given shapes; loss = Σ_{i not unused} Σ p_i ⊙ c_i, so this rank's
// gradient of p_i is c_i (`coeffs` holds every c_i flattened, in order); backward; reducer.
// Returns each reduced gradient ({data, shape}, or null when undefined) and the reducer's stats.
Napi::Value TestReducer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    Napi::Object o = ObjArg(info, 0, "testing.distReducer");
    XT_CHECK(o.Has("shapes") && o.Get("shapes").IsArray(), kInvalid, "distReducer: shapes (array of shapes) expected");
    auto arr = o.Get("shapes").As<Napi::Array>();
    std::vector<std::vector<int64_t>> shapes;
    int64_t total = 0;
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      shapes.push_back(ShapeArg(arr.Get(i), "shapes[" + std::to_string(i) + "]"));
      int64_t n = 1;
      for (auto d : shapes.back()) n *= d;
      total += n;
    }
    auto coeffs = TensorFromTypedArray(o.Get("coeffs"), {total}, "coeffs").to(torch::kFloat);
    std::vector<char> unused(shapes.size(), 0);
    if (o.Has("unused") && o.Get("unused").IsArray()) {
      auto u = o.Get("unused").As<Napi::Array>();
      for (uint32_t i = 0; i < u.Length(); ++i) {
        int k = u.Get(i).As<Napi::Number>().Int32Value();
        XT_CHECK(k >= 0 && k < static_cast<int>(shapes.size()), kInvalid, "distReducer: unused index out of range");
        unused[k] = 1;
      }
    }
    auto ropts = ReducerOpts(o);
    bool prepare = OptBool(o, "prepare", true);
    return RunAsync<ReduceResult>(
        env, "xt.testing.distReducer",
        [=]() {
          std::vector<torch::Tensor> params;
          for (const auto& s : shapes) params.push_back(torch::zeros(s, torch::kFloat).set_requires_grad(true));
          dist::GradientReducer reducer(params, ropts);
          if (prepare) reducer.Prepare();
          torch::Tensor loss = torch::zeros({}, torch::kFloat);
          int64_t off = 0;
          for (size_t i = 0; i < params.size(); ++i) {
            auto n = params[i].numel();
            if (!unused[i]) loss = loss + (params[i] * coeffs.narrow(0, off, n).view(params[i].sizes())).sum();
            off += n;
          }
          if (loss.requires_grad()) loss.backward();
          reducer.Finish();
          ReduceResult r;
          for (auto& p : params) r.grads.push_back(p.grad());
          r.stats = reducer.LastStats();
          return r;
        },
        [](Napi::Env env, ReduceResult& r) -> Napi::Value {
          Napi::Object res = Napi::Object::New(env);
          Napi::Array grads = Napi::Array::New(env, r.grads.size());
          for (size_t i = 0; i < r.grads.size(); ++i)
            grads.Set(i, r.grads[i].defined() ? Napi::Value(TensorResult(env, r.grads[i])) : env.Null());
          res.Set("grads", grads);
          res.Set("stats", StatsToJs(env, r.stats));
          return res;
        });
  });
}

struct BenchResult {
  double seconds_per_iter;
  int iters;
  int64_t bytes;
  int buckets;
};

// benchCollective({kind: 'allreduce'|'allgather'|'reducer', bytes, iters, bucketBytes}): time a
// collective in native code (one warm-up, then `iters`, each followed by a barrier-free wait).
//   allreduce: SUM of one fp32 tensor of `bytes`; allgather: this rank's fp32 rows of `bytes`;
//   reducer: GradientReducer.Finish() over fp32 gradients totalling `bytes` (in 4 MB parameters).
Napi::Value BenchCollective(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    Napi::Object o = ObjArg(info, 0, "testing.benchCollective");
    std::string kind = OptString(o, "kind", "allreduce");
    double bytes_d = OptNumber(o, "bytes", 25.0 * 1024 * 1024);
    int iters = IntOpt(o, "iters", 5);
    XT_CHECK(kind == "allreduce" || kind == "allgather" || kind == "reducer", kInvalid,
             "benchCollective: kind must be allreduce, allgather or reducer");
    XT_CHECK(bytes_d >= 4 && bytes_d <= 8.0 * 1024 * 1024 * 1024, kInvalid, "benchCollective: bytes in 4..8 GiB");
    XT_CHECK(iters >= 1 && iters <= 10000, kInvalid, "benchCollective: iters in 1..10000");
    auto ropts = ReducerOpts(o);
    ropts.op = dist::ReduceOp::kSum;
    int64_t numel = static_cast<int64_t>(bytes_d / 4);
    return RunAsync<BenchResult>(
        env, "xt.testing.benchCollective",
        [=]() {
          torch::NoGradGuard ng;
          std::function<void()> once;
          torch::Tensor buf;
          std::vector<torch::Tensor> params;
          std::unique_ptr<dist::GradientReducer> reducer;
          if (kind == "allreduce") {
            buf = torch::ones({numel}, torch::kFloat);
            once = [&]() { dist::AllReduceInPlace(buf, dist::ReduceOp::kSum); };
          } else if (kind == "allgather") {
            int64_t cols = 512;
            buf = torch::ones({std::max<int64_t>(1, numel / cols), cols}, torch::kFloat);
            once = [&]() { dist::AllGather(buf); };
          } else {
            const int64_t chunk = 1 << 20;  // 4 MB parameters
            for (int64_t left = numel; left > 0; left -= chunk) {
              auto p = torch::zeros({std::min(chunk, left)}, torch::kFloat).set_requires_grad(true);
              p.mutable_grad() = torch::ones_like(p);
              params.push_back(p);
            }
            reducer = std::make_unique<dist::GradientReducer>(params, ropts);
            once = [&]() { reducer->Finish(); };
          }
          once();  // warm-up
          dist::Barrier();
          auto t0 = std::chrono::steady_clock::now();
          for (int i = 0; i < iters; ++i) once();
          double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          return BenchResult{s / iters, iters, numel * 4, reducer ? reducer->NumBuckets() : 1};
        },
        [](Napi::Env env, BenchResult& r) -> Napi::Value {
          Napi::Object res = Napi::Object::New(env);
          res.Set("secondsPerIter", r.seconds_per_iter);
          res.Set("iters", r.iters);
          res.Set("bytes", static_cast<double>(r.bytes));
          res.Set("buckets", r.buckets);
          return res;
        });
  });
}

void InitDistHooks(Napi::Env env, Napi::Object exports) {
  Napi::Object t = testing::Hooks(env, exports);
  t.Set("distContrastiveStep", Napi::Function::New(env, TestContrastiveStep, "distContrastiveStep"));
  t.Set("distReducer", Napi::Function::New(env, TestReducer, "distReducer"));
  t.Set("benchCollective", Napi::Function::New(env, BenchCollective, "benchCollective"));
}

}  // namespace
}  // namespace xt

XT_REGISTER_MODULE(testing_distributed, xt::InitDistHooks);
