// The async pattern every heavy native call follows:
//   - on the main thread, copy the JS inputs into native memory (tensors) and capture them;
//   - run the work on a dedicated native worker thread (not libuv's small thread pool, so
//     long jobs never starve fs/dns/zlib work);
//   - settle a Promise on the main thread through a thread-safe function.
// Exceptions thrown by the work (c10::Error, std::exception, xt::XtError) reject the Promise
// with a coded JS Error; nothing escapes into Node.
#pragma once
#include <napi.h>

#include <functional>
#include <memory>
#include <optional>

#include "core/errors.h"

namespace xt {

// Submit a job to the native worker pool (threads are created lazily, never joined at exit).
void SubmitToWorkers(std::function<void()> job);

// Intra-op threads used by LibTorch in the worker threads (and the main thread).
int IntraOpThreads();
void SetIntraOpThreads(int n);
// Apply the configured intra-op thread count to the calling thread (OpenMP keeps it per thread).
void ApplyThreadSettings();

struct Empty {};

template <typename R>
struct AsyncState {
  Napi::Promise::Deferred deferred;
  std::function<R()> work;
  std::function<Napi::Value(Napi::Env, R&)> toJs;
  std::optional<R> result;
  std::optional<ErrorInfo> error;
  explicit AsyncState(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
};

// Run `work` off the main thread; resolve with `toJs(env, result)`.
template <typename R>
Napi::Value RunAsync(Napi::Env env, const char* name, std::function<R()> work,
                     std::function<Napi::Value(Napi::Env, R&)> toJs) {
  auto state = std::make_shared<AsyncState<R>>(env);
  state->work = std::move(work);
  state->toJs = std::move(toJs);
  auto noop = Napi::Function::New(env, [](const Napi::CallbackInfo&) {});
  auto tsfn = Napi::ThreadSafeFunction::New(env, noop, name, 0, 1);
  SubmitToWorkers([state, tsfn]() mutable {
    try {
      ApplyThreadSettings();
      state->result.emplace(state->work());
    } catch (...) {
      state->error = CurrentError();
    }
    state->work = nullptr;  // release captured inputs on the worker
    napi_status st = tsfn.BlockingCall([state](Napi::Env env, Napi::Function) {
      Napi::HandleScope scope(env);
      if (state->error) {
        state->deferred.Reject(MakeError(env, *state->error).Value());
        return;
      }
      try {
        state->deferred.Resolve(state->toJs(env, *state->result));
      } catch (const Napi::Error& e) {
        state->deferred.Reject(e.Value());
      } catch (...) {
        state->deferred.Reject(MakeError(env, CurrentError()).Value());
      }
      state->result.reset();
    });
    (void)st;  // napi_closing: the environment is shutting down; nothing left to settle
    tsfn.Release();
  });
  return state->deferred.Promise();
}

}  // namespace xt
