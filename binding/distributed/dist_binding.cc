// JS binding of the distributed layer (dist.h), exported as `dist`: init/shutdown/info/barrier/
// allReduce/allGather/broadcast for tests and TypeScript tooling, plus two test hooks that run a
// contrastive step and a gradient reduction entirely in native code (they are how the 2-process
// tests compare against single-process values; not a stable API).
#include <napi.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <memory>

#include "core/async.h"
#include "core/errors.h"
#include "core/registry.h"
#include "core/tensor_io.h"
#include "distributed/dist.h"

namespace xt {
namespace {

int IntOpt(const Napi::Object& o, const char* key, int dflt) {
  double v = OptNumber(o, key, dflt);
  if (std::floor(v) != v || std::fabs(v) > 2147483647.0)
    throw XtError(kInvalid, std::string("dist option '") + key + "' must be an integer");
  return static_cast<int>(v);
}

Napi::Object InfoToJs(Napi::Env env, const dist::Info& i) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("initialized", i.initialized);
  o.Set("rank", i.rank);
  o.Set("worldSize", i.world_size);
  o.Set("localRank", i.local_rank);
  o.Set("localWorldSize", i.local_world_size);
  o.Set("backend", i.backend);
  o.Set("master", i.master);
  o.Set("device", i.device);
  o.Set("glooCompiled", dist::GlooCompiled());
  o.Set("ncclCompiled", dist::NcclCompiled());
  return o;
}

Napi::Object StatsToJs(Napi::Env env, const dist::ReducerStats& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("buckets", s.buckets);
  o.Set("launchedInBackward", s.launched_in_backward);
  o.Set("launchedInFinish", s.launched_in_finish);
  o.Set("unusedParams", s.unused_params);
  o.Set("replayed", s.replayed);
  o.Set("finishWaitSec", s.finish_wait_s);
  return o;
}

dist::ReducerOptions ReducerOpts(const Napi::Object& o) {
  dist::ReducerOptions r;
  double bb = OptNumber(o, "bucketBytes", static_cast<double>(r.bucket_bytes));
  double fb = OptNumber(o, "firstBucketBytes", static_cast<double>(r.first_bucket_bytes));
  XT_CHECK(bb >= 1 && fb >= 1, kInvalid, "bucketBytes and firstBucketBytes must be >= 1");
  r.bucket_bytes = static_cast<int64_t>(bb);
  r.first_bucket_bytes = static_cast<int64_t>(fb);
  r.overlap = OptBool(o, "overlap", true);
  auto op = dist::ParseReduceOp(OptString(o, "op", "mean"));
  XT_CHECK(op == dist::ReduceOp::kSum || op == dist::ReduceOp::kMean, kInvalid,
           "reducer op must be 'sum' or 'mean'");
  r.op = op;
  return r;
}

Napi::Object ObjArg(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  if (info.Length() <= i || info[i].IsUndefined()) return Napi::Object::New(info.Env());
  XT_CHECK(info[i].IsObject(), kInvalid, std::string(fn) + ": options must be an object");
  return info[i].As<Napi::Object>();
}

// init({masterAddr, masterPort, worldSize, rank, localRank, localWorldSize, backend, timeoutSec,
//       opTimeoutSec, glooInterface, checkShapes}) -> Promise<info>
Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    Napi::Object o = ObjArg(info, 0, "dist.init");
    dist::InitOptions opts;
    opts.master_addr = OptString(o, "masterAddr", opts.master_addr);
    opts.master_port = IntOpt(o, "masterPort", opts.master_port);
    opts.world_size = IntOpt(o, "worldSize", opts.world_size);
    opts.rank = IntOpt(o, "rank", opts.rank);
    opts.local_rank = IntOpt(o, "localRank", 0);
    opts.local_world_size = IntOpt(o, "localWorldSize", 1);
    opts.backend = OptString(o, "backend", opts.backend);
    opts.timeout_s = OptNumber(o, "timeoutSec", opts.timeout_s);
    opts.op_timeout_s = OptNumber(o, "opTimeoutSec", opts.op_timeout_s);
    opts.gloo_interface = OptString(o, "glooInterface", "");
    opts.check_shapes = OptBool(o, "checkShapes", true);
    opts.host_store = OptBool(o, "hostStore", true);
    opts.store_prefix = OptString(o, "storePrefix", "");
    return RunAsync<dist::Info>(
        env, "xt.dist.init",
        [opts]() {
          dist::Init(opts);
          return dist::Current();
        },
        [](Napi::Env env, dist::Info& i) -> Napi::Value { return InfoToJs(env, i); });
  });
}

Napi::Value Shutdown(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    return RunAsync<Empty>(
        env, "xt.dist.shutdown",
        []() {
          dist::Shutdown();
          return Empty{};
        },
        [](Napi::Env env, Empty&) -> Napi::Value { return env.Undefined(); });
  });
}

Napi::Value InfoFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value { return InfoToJs(env, dist::Current()); });
}

Napi::Value Barrier(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    return RunAsync<Empty>(
        env, "xt.dist.barrier",
        []() {
          dist::Barrier();
          return Empty{};
        },
        [](Napi::Env env, Empty&) -> Napi::Value { return env.Undefined(); });
  });
}

// allReduce(values: Float64Array | number[], op = 'sum') -> Promise<Float64Array>
Napi::Value AllReduce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    XT_CHECK(info.Length() >= 1, kInvalid, "dist.allReduce(values, op): values expected");
    std::vector<double> values;
    if (info[0].IsTypedArray()) {
      auto t = TensorFromTypedArray(info[0], {static_cast<int64_t>(info[0].As<Napi::TypedArray>().ElementLength())},
                                    "values")
                   .to(torch::kDouble);
      values.assign(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
    } else if (info[0].IsArray()) {
      auto arr = info[0].As<Napi::Array>();
      for (uint32_t i = 0; i < arr.Length(); ++i) {
        Napi::Value v = arr.Get(i);
        XT_CHECK(v.IsNumber(), kInvalid, "dist.allReduce: values[" + std::to_string(i) + "] is not a number");
        values.push_back(v.As<Napi::Number>().DoubleValue());
      }
    } else {
      throw XtError(kInvalid, "dist.allReduce: values must be a number array or a typed array");
    }
    auto op = dist::ParseReduceOp(info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value()
                                                                          : "sum");
    return RunAsync<std::vector<double>>(
        env, "xt.dist.allReduce", [values, op]() { return dist::AllReduce(values, op); },
        [](Napi::Env env, std::vector<double>& r) -> Napi::Value {
          auto out = Napi::Float64Array::New(env, r.size());
          for (size_t i = 0; i < r.size(); ++i) out[i] = r[i];
          return out;
        });
  });
}

// allGather(data, shape) -> Promise<{data, shape}> (rows of every rank, in rank order)
Napi::Value AllGather(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    XT_CHECK(info.Length() >= 2, kInvalid, "dist.allGather(data, shape): 2 arguments expected");
    auto x = TensorFromTypedArray(info[0], ShapeArg(info[1], "shape"), "data");
    return RunAsync<torch::Tensor>(
        env, "xt.dist.allGather", [x]() { return dist::AllGather(x); },
        [](Napi::Env env, torch::Tensor& t) -> Napi::Value { return TensorResult(env, t); });
  });
}

// broadcast(data, shape, root = 0) -> Promise<{data, shape}> (root's values on every rank)
Napi::Value Broadcast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    XT_CHECK(info.Length() >= 2, kInvalid, "dist.broadcast(data, shape, root): data and shape expected");
    auto x = TensorFromTypedArray(info[0], ShapeArg(info[1], "shape"), "data");
    int root = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().Int32Value() : 0;
    return RunAsync<torch::Tensor>(
        env, "xt.dist.broadcast",
        [x, root]() {
          dist::Broadcast({x}, root);
          return x;
        },
        [](Napi::Env env, torch::Tensor& t) -> Napi::Value { return TensorResult(env, t); });
  });
}

struct StepResult {
  double loss;
  torch::Tensor gathered, grad_wi, grad_wt, grad_scale;
  dist::ReducerStats stats;
};

// testContrastiveStep({x, t, rows, inDim, wi, wt, outDim, logitScale, bucketBytes, overlap, op}):
// one CLIP-style step on this rank's rows: e = normalize(x·Wi), f = normalize(t·Wt), gathered
// with grad; loss = symmetric cross-entropy of exp(s)·E·Fᵀ over the global batch; backward;
// GradientReducer. Without a group it is the single-process step on the rows given.
Napi::Value TestContrastiveStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    Napi::Object o = ObjArg(info, 0, "dist.testContrastiveStep");
    int64_t rows = IntOpt(o, "rows", 0), in = IntOpt(o, "inDim", 0), out = IntOpt(o, "outDim", 0);
    XT_CHECK(rows > 0 && in > 0 && out > 0, kInvalid, "testContrastiveStep: rows, inDim, outDim must be > 0");
    auto x = TensorFromTypedArray(o.Get("x"), {rows, in}, "x");
    auto t = TensorFromTypedArray(o.Get("t"), {rows, in}, "t");
    auto wi = TensorFromTypedArray(o.Get("wi"), {in, out}, "wi");
    auto wt = TensorFromTypedArray(o.Get("wt"), {in, out}, "wt");
    double s0 = OptNumber(o, "logitScale", 2.0);
    auto ropts = ReducerOpts(o);
    bool prepare = OptBool(o, "prepare", true);
    return RunAsync<StepResult>(
        env, "xt.dist.testContrastiveStep",
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

// testReducer({shapes, coeffs, unused, bucketBytes, firstBucketBytes, overlap, op, prepare}):
// parameters p_i (zeros) of the given shapes; loss = Σ_{i not unused} Σ p_i ⊙ c_i, so this rank's
// gradient of p_i is c_i (`coeffs` holds every c_i flattened, in order); backward; reducer.
// Returns each reduced gradient ({data, shape}, or null when undefined) and the reducer's stats.
Napi::Value TestReducer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    Napi::Object o = ObjArg(info, 0, "dist.testReducer");
    XT_CHECK(o.Has("shapes") && o.Get("shapes").IsArray(), kInvalid, "testReducer: shapes (array of shapes) expected");
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
        XT_CHECK(k >= 0 && k < static_cast<int>(shapes.size()), kInvalid, "testReducer: unused index out of range");
        unused[k] = 1;
      }
    }
    auto ropts = ReducerOpts(o);
    bool prepare = OptBool(o, "prepare", true);
    return RunAsync<ReduceResult>(
        env, "xt.dist.testReducer",
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
    Napi::Object o = ObjArg(info, 0, "dist.benchCollective");
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
        env, "xt.dist.benchCollective",
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

void InitDist(Napi::Env env, Napi::Object exports) {
  Napi::Object d = Napi::Object::New(env);
  d.Set("init", Napi::Function::New(env, Init, "init"));
  d.Set("shutdown", Napi::Function::New(env, Shutdown, "shutdown"));
  d.Set("info", Napi::Function::New(env, InfoFn, "info"));
  d.Set("barrier", Napi::Function::New(env, Barrier, "barrier"));
  d.Set("allReduce", Napi::Function::New(env, AllReduce, "allReduce"));
  d.Set("allGather", Napi::Function::New(env, AllGather, "allGather"));
  d.Set("broadcast", Napi::Function::New(env, Broadcast, "broadcast"));
  d.Set("testContrastiveStep", Napi::Function::New(env, TestContrastiveStep, "testContrastiveStep"));
  d.Set("testReducer", Napi::Function::New(env, TestReducer, "testReducer"));
  d.Set("benchCollective", Napi::Function::New(env, BenchCollective, "benchCollective"));
  exports.Set("dist", d);
}

}  // namespace
}  // namespace xt

XT_REGISTER_MODULE(dist, xt::InitDist);
