// JS argument helpers of the distributed binding, shared by dist_binding.cc and the test and
// benchmark hooks in binding/testing/distributed_hooks.cc.
#pragma once
#include <napi.h>

#include "distributed/dist.h"

namespace xt {
namespace dist_js {

// An integer option (XT_INVALID otherwise).
int IntOpt(const Napi::Object& o, const char* key, int dflt);
// Argument i as an options object (an empty one when absent).
Napi::Object ObjArg(const Napi::CallbackInfo& info, size_t i, const char* fn);
// {bucketBytes, firstBucketBytes, overlap, op: 'sum'|'mean'}
dist::ReducerOptions ReducerOpts(const Napi::Object& o);
Napi::Object StatsToJs(Napi::Env env, const dist::ReducerStats& s);

}  // namespace dist_js
}  // namespace xt
