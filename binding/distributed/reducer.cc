// GradientReducer (dist.h): bucketed all-reduce of parameter gradients, overlapped with backward
// through post-accumulate hooks on each parameter's AccumulateGrad node (what DDP's reducer uses;
// the same API exists in LibTorch 1.13 and 2.x).
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <chrono>
#include <mutex>

#include "core/errors.h"
#include "distributed/dist.h"
#include "distributed/group.h"

namespace xt {
namespace dist {

namespace {

struct Bucket {
  std::vector<size_t> params;
  std::vector<int64_t> offsets;
  int64_t numel = 0;
  at::ScalarType dtype = at::kFloat;
  torch::Device device{torch::kCPU};
  int pending = 0;  // parameters not yet ready this step
  bool launched = false;
  torch::Tensor wire;  // the flat buffer being reduced
  c10::intrusive_ptr<c10d::Work> work;
};

}  // namespace

struct GradientReducer::State {
  std::mutex mu;
  ReducerOptions opts;
  std::shared_ptr<Group> group;  // the group at construction (null: world size 1)
  std::vector<torch::Tensor> params;
  std::vector<Bucket> buckets;
  std::vector<size_t> bucket_of;
  std::vector<char> ready;
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators;
  std::vector<uintptr_t> hook_keys;
  bool armed = false;
  bool replay = false;
  size_t next_launch = 0;
  ReducerStats stats;

  void ResetStep() {
    std::fill(ready.begin(), ready.end(), 0);
    for (auto& b : buckets) {
      b.pending = static_cast<int>(b.params.size());
      b.launched = false;
      b.work.reset();
    }
    next_launch = 0;
    replay = false;
  }

  // Copy the bucket's gradients (zeros where undefined) into its buffer and start the all-reduce.
  void Launch(size_t bi) {
    torch::NoGradGuard ng;
    Bucket& b = buckets[bi];
    auto flat = torch::empty({b.numel}, torch::TensorOptions().dtype(b.dtype).device(b.device));
    for (size_t k = 0; k < b.params.size(); ++k) {
      const auto& p = params[b.params[k]];
      auto slice = flat.narrow(0, b.offsets[k], p.numel());
      const auto& grad = p.grad();
      if (grad.defined()) {
        slice.copy_(grad.reshape(-1));
      } else {
        slice.zero_();
      }
    }
    b.wire = group->ToWire(flat);
    b.work = group->LaunchAllReduce(b.wire, ReduceOp::kSum);
    b.launched = true;
  }

  // Start every bucket that is ready, strictly in bucket order (same collectives, same order, on
  // every rank); returns how many started.
  int LaunchReadyInOrder() {
    int n = 0;
    while (next_launch < buckets.size() && buckets[next_launch].pending == 0) {
      Launch(next_launch++);
      ++n;
    }
    return n;
  }

  void OnGradReady(size_t i) {
    std::lock_guard<std::mutex> lock(mu);
    if (!armed) return;
    Bucket& b = buckets[bucket_of[i]];
    if (ready[i]) {
      // A second accumulation in the same backward (e.g. reentrant checkpointing): if its bucket is
      // already on the wire the sent values are stale; Finish() reduces everything again.
      if (b.launched) replay = true;
      return;
    }
    ready[i] = 1;
    --b.pending;
    stats.launched_in_backward += LaunchReadyInOrder();
  }
};

GradientReducer::GradientReducer(std::vector<torch::Tensor> params, ReducerOptions options)
    : state_(std::make_shared<State>()) {
  auto& s = *state_;
  s.opts = options;
  XT_CHECK(options.bucket_bytes >= 1, kInvalid, "GradientReducer: bucket_bytes must be >= 1");
  XT_CHECK(options.first_bucket_bytes >= 1, kInvalid, "GradientReducer: first_bucket_bytes must be >= 1");
  XT_CHECK(options.op == ReduceOp::kSum || options.op == ReduceOp::kMean, kInvalid,
           "GradientReducer: op must be kSum or kMean");
  auto g = CurrentGroup();
  if (g && g->comm) s.group = g;
  for (size_t i = 0; i < params.size(); ++i) {
    const auto& p = params[i];
    XT_CHECK(p.defined(), kInvalid, "GradientReducer: parameter " + std::to_string(i) + " is undefined");
    XT_CHECK(p.requires_grad() && p.is_leaf(), kInvalid,
             "GradientReducer: parameter " + std::to_string(i) +
                 " must be a leaf tensor that requires grad (pass only trainable parameters)");
  }
  s.params = std::move(params);
  s.bucket_of.assign(s.params.size(), 0);
  s.ready.assign(s.params.size(), 0);
  if (!s.group) return;  // world size 1: Prepare/Finish are no-ops

  // Buckets in reverse parameter order: gradients of the last layers are produced first.
  int64_t cap = options.first_bucket_bytes;
  for (size_t r = s.params.size(); r-- > 0;) {
    const auto& p = s.params[r];
    int64_t bytes = p.numel() * static_cast<int64_t>(p.element_size());
    bool fits = !s.buckets.empty() && s.buckets.back().dtype == p.scalar_type() &&
                s.buckets.back().device == p.device() &&
                s.buckets.back().numel * static_cast<int64_t>(p.element_size()) + bytes <= cap;
    if (!fits) {
      if (!s.buckets.empty()) cap = options.bucket_bytes;
      Bucket b;
      b.dtype = p.scalar_type();
      b.device = p.device();
      s.buckets.push_back(std::move(b));
    }
    Bucket& b = s.buckets.back();
    b.params.push_back(r);
    b.offsets.push_back(b.numel);
    b.numel += p.numel();
    s.bucket_of[r] = s.buckets.size() - 1;
  }
  s.stats.buckets = static_cast<int>(s.buckets.size());
  s.ResetStep();

  if (!options.overlap) return;
  std::weak_ptr<State> weak = state_;
  for (size_t i = 0; i < s.params.size(); ++i) {
    auto acc = torch::autograd::impl::grad_accumulator(s.params[i]);
    XT_CHECK(acc, kInternal, "GradientReducer: parameter " + std::to_string(i) + " has no gradient accumulator");
    auto key = acc->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
        [weak, i](const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) {
          if (auto st = weak.lock()) st->OnGradReady(i);
          return outputs;
        }));
    // Keep the accumulator alive: the parameter only holds it weakly, and a new one (without our
    // hook) would be created for the next graph.
    s.accumulators.push_back(acc);
    s.hook_keys.push_back(key);
  }
}

GradientReducer::~GradientReducer() {
  if (!state_) return;
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->armed = false;
  for (size_t i = 0; i < state_->accumulators.size(); ++i) state_->accumulators[i]->del_post_hook(state_->hook_keys[i]);
}

void GradientReducer::Prepare() {
  auto& s = *state_;
  std::lock_guard<std::mutex> lock(s.mu);
  if (!s.group) return;
  s.ResetStep();
  s.stats = ReducerStats{};
  s.stats.buckets = static_cast<int>(s.buckets.size());
  s.armed = s.opts.overlap;
}

void GradientReducer::Finish() {
  auto& s = *state_;
  if (!s.group) return;
  Group& g = *s.group;
  const size_t np = s.params.size();
  auto t0 = std::chrono::steady_clock::now();
  torch::Tensor flags;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (!s.armed) {
      // No Prepare() (or no overlap): everything is reduced now.
      s.ResetStep();
      s.stats = ReducerStats{};
      s.stats.buckets = static_cast<int>(s.buckets.size());
    }
    s.armed = false;
    // Start what backward did not (unused parameters count as zeros), in bucket order.
    while (s.next_launch < s.buckets.size()) {
      s.Launch(s.next_launch++);
      ++s.stats.launched_in_finish;
    }
    // Which parameters have a gradient on any rank, and whether any rank must replay: one message.
    auto local = torch::zeros({static_cast<int64_t>(np) + 1}, torch::kFloat);
    auto acc = local.accessor<float, 1>();
    for (size_t i = 0; i < np; ++i) acc[i] = s.params[i].grad().defined() ? 1.f : 0.f;
    acc[np] = s.replay ? 1.f : 0.f;
    flags = local.to(g.device);
  }
  auto flags_work = g.LaunchAllReduce(flags, ReduceOp::kMax);
  for (auto& b : s.buckets) g.Wait(b.work, "gradient all-reduce");
  g.Wait(flags_work, "gradient all-reduce (flags)");
  auto used = flags.cpu();
  auto used_acc = used.accessor<float, 1>();
  if (used_acc[np] > 0) {
    // Some rank saw a gradient change after its bucket was sent: reduce all buckets again.
    std::lock_guard<std::mutex> lock(s.mu);
    for (size_t bi = 0; bi < s.buckets.size(); ++bi) s.Launch(bi);
    s.stats.replayed = true;
  }
  if (s.stats.replayed)
    for (auto& b : s.buckets) g.Wait(b.work, "gradient all-reduce (replay)");
  s.stats.finish_wait_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  torch::NoGradGuard ng;
  int unused = 0;
  for (auto& b : s.buckets) {
    auto flat = b.wire.to(b.device, b.dtype);
    if (s.opts.op == ReduceOp::kMean) flat.div_(g.info.world_size);
    for (size_t k = 0; k < b.params.size(); ++k) {
      size_t pi = b.params[k];
      auto& p = s.params[pi];
      if (used_acc[pi] == 0) {
        ++unused;
        continue;  // no rank produced a gradient: leave it undefined, as one process would
      }
      auto slice = flat.narrow(0, b.offsets[k], p.numel()).view(p.sizes());
      auto& grad = p.mutable_grad();
      if (grad.defined()) {
        grad.copy_(slice);
      } else {
        grad = slice.clone();
      }
    }
    b.work.reset();
    b.wire = torch::Tensor();
  }
  s.stats.unused_params = unused;
}

const ReducerStats& GradientReducer::LastStats() const { return state_->stats; }

int GradientReducer::NumBuckets() const { return static_cast<int>(state_->buckets.size()); }

}  // namespace dist
}  // namespace xt
