// Error codes shared by every native entry point. No C++ exception may reach Node:
// every boundary wraps its body in xt::Guard (sync) or runs inside xt::RunAsync (async),
// which turn c10::Error / std::exception into a JS Error with a `code`.
#pragma once
#include <napi.h>
#include <stdexcept>
#include <string>

namespace xt {

// Codes (mirrored in lib/native.ts as XtErrorCode)
constexpr const char* kShape = "XT_SHAPE";        // tensor shapes/sizes that do not fit
constexpr const char* kIo = "XT_IO";              // files: missing, unreadable, corrupt
constexpr const char* kOom = "XT_OOM";            // out of memory (host or device)
constexpr const char* kInvalid = "XT_INVALID";    // bad argument value or type
constexpr const char* kDisposed = "XT_DISPOSED";  // use of a disposed object
constexpr const char* kCuda = "XT_CUDA";          // CUDA unavailable or failing
constexpr const char* kInternal = "XT_INTERNAL";  // anything else from LibTorch

// Throw this from native code to choose the code explicitly.
class XtError : public std::runtime_error {
 public:
  XtError(const char* code, const std::string& msg) : std::runtime_error(msg), code_(code) {}
  const char* code() const noexcept { return code_; }

 private:
  const char* code_;
};

// A coded error, captured on any thread, turned into a JS Error on the main thread.
struct ErrorInfo {
  std::string code;
  std::string message;
};

// Classify the exception currently being handled (call inside a catch block).
ErrorInfo CurrentError();

// Build a JS Error object with `code` set.
Napi::Error MakeError(Napi::Env env, const ErrorInfo& info);

// Throw (as a JS exception) an error with the given code.
[[noreturn]] void Throw(Napi::Env env, const char* code, const std::string& message);

// Run a synchronous native body; any exception becomes a pending JS exception.
template <typename F>
Napi::Value Guard(Napi::Env env, F&& body) {
  try {
    return body();
  } catch (const Napi::Error& e) {
    e.ThrowAsJavaScriptException();
  } catch (...) {
    MakeError(env, CurrentError()).ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

#define XT_CHECK(cond, code, msg)                       \
  do {                                                  \
    if (!(cond)) throw ::xt::XtError((code), (msg));    \
  } while (0)

}  // namespace xt
