#include "core/errors.h"

#include <c10/util/Exception.h>
#include <torch/version.h>

#include <new>

namespace xt {

namespace {

bool Contains(const std::string& s, const char* needle) { return s.find(needle) != std::string::npos; }

// c10 messages carry a C++ backtrace after the first line in some builds; keep what a user reads.
std::string StripBacktrace(std::string msg) {
  const char* markers[] = {"\nException raised from", "\nframe #", "\nDebug info"};
  for (const char* m : markers) {
    auto pos = msg.find(m);
    if (pos != std::string::npos) msg.resize(pos);
  }
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  return msg;
}

const char* ClassifyTorch(const std::string& m) {
  if (Contains(m, "out of memory") || Contains(m, "DefaultCPUAllocator: can't allocate") ||
      Contains(m, "not enough memory"))
    return kOom;
  if (Contains(m, "shape") || Contains(m, "size mismatch") || Contains(m, "must match the size") ||
      Contains(m, "cannot be multiplied") || Contains(m, "dimension") || Contains(m, "Expected size"))
    return kShape;
  if (Contains(m, "CUDA") || Contains(m, "cuda")) return kCuda;
  if (Contains(m, "open file") || Contains(m, "No such file") || Contains(m, "PytorchStreamReader") ||
      Contains(m, "zip archive"))
    return kIo;
  return kInternal;
}

}  // namespace

ErrorInfo CurrentError() {
  try {
    throw;
  } catch (const XtError& e) {
    return {e.code(), e.what()};
  } catch (const c10::IndexError& e) {
    return {kInvalid, StripBacktrace(e.what_without_backtrace())};
  } catch (const c10::ValueError& e) {
    return {kInvalid, StripBacktrace(e.what_without_backtrace())};
  } catch (const c10::TypeError& e) {
    return {kInvalid, StripBacktrace(e.what_without_backtrace())};
  } catch (const c10::Error& e) {
    std::string msg = StripBacktrace(e.what_without_backtrace());
    return {ClassifyTorch(msg), msg};
  } catch (const std::bad_alloc&) {
    return {kOom, "out of host memory"};
  } catch (const std::exception& e) {
    std::string msg = StripBacktrace(e.what());
    return {ClassifyTorch(msg), msg};
  } catch (...) {
    return {kInternal, "unknown native error"};
  }
}

Napi::Error MakeError(Napi::Env env, const ErrorInfo& info) {
  Napi::Error err = Napi::Error::New(env, info.message);
  err.Value().Set("code", Napi::String::New(env, info.code));
  return err;
}

void Throw(Napi::Env env, const char* code, const std::string& message) {
  throw MakeError(env, {code, message});
}

}  // namespace xt
