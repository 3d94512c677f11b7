// JS binding of the distributed layer (dist.h), exported as `dist`: init/shutdown/info/barrier/
// allReduce/allGather/broadcast for tests and TypeScript tooling. The test hooks that run a
// contrastive step and a gradient reduction entirely in native code, and the collective benchmark,
// are in binding/testing/distributed_hooks.cc (testing addon only).
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
#include "distributed/dist_js.h"

namespace xt {
namespace dist_js {

int IntOpt(const Napi::Object& o, const char* key, int dflt) {
  double v = OptNumber(o, key, dflt);
  if (std::floor(v) != v || std::fabs(v) > 2147483647.0)
    throw XtError(kInvalid, std::string("dist option '") + key + "' must be an integer");
  return static_cast<int>(v);
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

}  // namespace dist_js

namespace {

using namespace dist_js;

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

void InitDist(Napi::Env env, Napi::Object exports) {
  Napi::Object d = Napi::Object::New(env);
  d.Set("init", Napi::Function::New(env, Init, "init"));
  d.Set("shutdown", Napi::Function::New(env, Shutdown, "shutdown"));
  d.Set("info", Napi::Function::New(env, InfoFn, "info"));
  d.Set("barrier", Napi::Function::New(env, Barrier, "barrier"));
  d.Set("allReduce", Napi::Function::New(env, AllReduce, "allReduce"));
  d.Set("allGather", Napi::Function::New(env, AllGather, "allGather"));
  d.Set("broadcast", Napi::Function::New(env, Broadcast, "broadcast"));
  exports.Set("dist", d);
}

}  // namespace
}  // namespace xt

XT_REGISTER_MODULE(dist, xt::InitDist);
