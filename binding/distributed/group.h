// Internal to binding/distributed/: the live process group behind dist.h's free functions.
#pragma once
#include <torch/torch.h>
#include <torch/version.h>
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>

#include <memory>
#include <string>

#include "distributed/dist.h"

#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/distributed/c10d/Backend.hpp>
#else
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#endif

namespace xt {
namespace dist {

// LibTorch 2.x splits the user-facing ProcessGroup from the per-device Backend that
// ProcessGroupGloo/ProcessGroupNCCL implement; 1.x has only ProcessGroup. Both expose the same
// collective methods, so we hold the concrete backend through its base.
#if TORCH_VERSION_MAJOR >= 2
using Comm = c10d::Backend;
#else
using Comm = c10d::ProcessGroup;
#endif

// An exception's message without the C++ backtrace c10 appends.
inline std::string CleanWhat(const std::exception& e) {
  std::string msg;
  if (auto* ce = dynamic_cast<const c10::Error*>(&e)) {
    msg = ce->what_without_backtrace();
  } else {
    msg = e.what();
  }
  for (const char* marker : {"\nException raised from", "\nframe #"}) {
    auto cut = msg.find(marker);
    if (cut != std::string::npos) msg.resize(cut);
  }
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ' || msg.back() == '.')) msg.pop_back();
  return msg;
}

struct Group {
  Info info;
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<Comm> comm;  // null for world size 1
  torch::Device device{torch::kCPU};
  bool gloo = false;
  bool check_shapes = true;
  std::string transport;  // how Gloo picked its network device (diagnostics)

  std::string WhoAmI() const;
  // The dtype a tensor travels as (Gloo lacks bool and, in older builds, bfloat16).
  at::ScalarType WireType(at::ScalarType t) const;
  // A contiguous copy on the communication device in the wire dtype (no copy when already so).
  torch::Tensor ToWire(const torch::Tensor& t) const;
  // Wait for a collective; failures become XtError XT_IO naming this rank.
  void Wait(const c10::intrusive_ptr<c10d::Work>& work, const char* what) const;
  // Start an all-reduce (kMean reduces as SUM: the caller divides).
  c10::intrusive_ptr<c10d::Work> LaunchAllReduce(torch::Tensor& wire, ReduceOp op) const;
  // All-reduce in place and wait (kMean divides by the world size).
  void AllReduceWire(torch::Tensor& wire, ReduceOp op, const char* what) const;
  // All-gather along dim 0 (checks equal shapes first when check_shapes), result on x's device.
  torch::Tensor GatherCat(const torch::Tensor& x, const char* what) const;
};

// The live group, or null (not initialized).
std::shared_ptr<Group> CurrentGroup();

}  // namespace dist
}  // namespace xt
