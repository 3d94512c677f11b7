// Distributed data parallel on LibTorch's own c10d (ProcessGroupGloo on CPU, ProcessGroupNCCL on
// CUDA), rendezvous through c10d::TCPStore. This is the C++ API the training step uses; the JS
// binding (dist_binding.cc) only wraps it for tests and tooling.
//
// How a data-parallel contrastive step uses it (W ranks, per-rank batch b, global batch W*b):
//
//   xt::dist::GradientReducer reducer(params);          // once, after the weights are broadcast
//   ...
//   reducer.Prepare();                                  // before backward (arms the overlap hooks)
//   auto img = xt::dist::AllGatherWithGrad(img_emb);    // [W*b, d]: rank 0's rows, then rank 1's, ...
//   auto txt = xt::dist::AllGatherWithGrad(txt_emb);
//   auto gid = xt::dist::AllGather(group_ids);          // no grad
//   auto loss = ContrastiveLoss(img, txt, gid, logit_scale);  // the SAME global loss on every rank
//   loss.backward();
//   reducer.Finish();                                   // grads are now the global-batch grads
//   optimizer.step();
//
// Reduction semantics (why the result equals one process at batch W*b, within fp32 rounding):
//   - AllGatherWithGrad's backward all-reduces (SUM) the incoming gradient of the gathered tensor
//     over the ranks and returns this rank's rows (the semantics of torch.distributed.nn.all_gather
//     and open_clip's gather_with_grad). When every rank computes the same global loss L, that
//     gradient is W * dL/dx_r for rank r's rows x_r.
//   - GradientReducer therefore averages (op = kMean, the default: all-reduce SUM, then / W):
//       encoder weights: (1/W) * sum_r W * dL/dx_r * dx_r/dθ = dL/dθ   (exact)
//       weights used only by the loss on every rank (logit scale): (1/W) * sum_r dL/ds = dL/ds
//   - So: per-rank loss = the global-batch loss (mean over the W*b pairs, as one process would
//     compute it), reducer op = kMean. Do NOT also divide the loss by W. (kSum is for callers whose
//     backward already yields each rank's share, e.g. a loss computed only on local rows.)
//   - The single-process batch that a step reproduces is cat(rank 0's batch, rank 1's batch, ...):
//     shard each global batch in contiguous blocks of b rows in rank order.
//
// Without Init() (or with world size 1) every function is the identity / a no-op, so a trainer
// calls them unconditionally.
//
// Threading: one rank = one process; collectives must be issued in the same order on every rank
// (they are when every rank runs the same step). Functions are safe to call from worker threads.
#pragma once
#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace xt {
namespace dist {

struct InitOptions {
  std::string master_addr = "127.0.0.1";  // where rank 0 hosts the TCPStore (MASTER_ADDR)
  int master_port = 29500;                // MASTER_PORT
  int world_size = 1;                     // WORLD_SIZE
  int rank = 0;                           // RANK
  int local_rank = 0;                     // LOCAL_RANK (the CUDA device index under NCCL)
  int local_world_size = 1;               // LOCAL_WORLD_SIZE
  std::string backend = "auto";           // "auto" (NCCL when CUDA is usable, else Gloo), "gloo", "nccl"
  double timeout_s = 300;                 // rendezvous: every rank must join within this
  double op_timeout_s = 1800;             // a collective that does not complete within this fails
  std::string gloo_interface;             // network interface for Gloo (else $GLOO_SOCKET_IFNAME, else
                                          // the local address that routes to master_addr)
  bool check_shapes = true;               // AllGather verifies equal shapes on every rank first
  // torchrun's agent hosts the store itself and tells workers so (TORCHELASTIC_USE_AGENT_STORE=True):
  // then every rank, rank 0 included, connects as a client, under store_prefix
  // ("/worker/attempt_<TORCHELASTIC_RESTART_COUNT>", as torch.distributed does).
  bool host_store = true;
  std::string store_prefix;
};

struct Info {
  bool initialized = false;
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;
  std::string backend = "none";  // "gloo", "nccl", or "none" (not initialized / world size 1)
  std::string master;            // "addr:port" ("" when not initialized)
  std::string device = "cpu";    // where collectives run: "cpu" (Gloo) or "cuda:<local_rank>" (NCCL)
};

// Join the group: rank 0 hosts a TCPStore on master_port, every rank registers, and all wait until
// world_size ranks have joined (or fail after timeout_s with an XtError XT_IO naming the missing
// ranks and the address). Inconsistent settings between ranks (world size, backend, duplicate
// rank) fail with XT_INVALID. Throws XT_INVALID when already initialized.
void Init(const InitOptions& options);
bool IsInitialized();
// The current group (world size 1, backend "none" when not initialized).
Info Current();
// Leave the group (releases the process group and the store). A no-op when not initialized.
void Shutdown();

// Which backends this build can create.
bool GlooCompiled();
bool NcclCompiled();

enum class ReduceOp { kSum, kMean, kMax, kMin };
ReduceOp ParseReduceOp(const std::string& name);  // "sum" | "mean" | "max" | "min"

// All-gather along dim 0 with gradient; every rank passes the same shape [b, ...] and gets
// [W*b, ...] (rank order). Backward: SUM of the gathered tensor's gradient over ranks, rows of
// this rank (see the reduction semantics above). Tensors on any device (copied to the
// communication device and back when needed).
torch::Tensor AllGatherWithGrad(const torch::Tensor& x);

// All-gather along dim 0 without gradient (any dtype, e.g. int64 group ids). Equal shapes.
torch::Tensor AllGather(const torch::Tensor& x);

// Overwrite every tensor with rank `root`'s values, in place (initial weights; works on leaves
// that require grad). Tensors are coalesced by dtype into a few messages.
void Broadcast(const std::vector<torch::Tensor>& tensors, int root = 0);

void Barrier();

// In-place all-reduce of a tensor.
void AllReduceInPlace(const torch::Tensor& t, ReduceOp op = ReduceOp::kSum);
// All-reduce of scalars (logging, validation counts): one message, float64.
std::vector<double> AllReduce(const std::vector<double>& values, ReduceOp op = ReduceOp::kSum);
double AllReduce(double value, ReduceOp op = ReduceOp::kSum);

struct ReducerOptions {
  int64_t bucket_bytes = 25LL * 1024 * 1024;     // bucket capacity (like DDP's bucket_cap_mb=25)
  int64_t first_bucket_bytes = 1LL * 1024 * 1024;  // smaller first bucket: communication starts early
  bool overlap = true;                            // launch buckets from grad hooks during backward
  ReduceOp op = ReduceOp::kMean;                  // see the reduction semantics above
};

struct ReducerStats {
  int buckets = 0;
  int launched_in_backward = 0;  // buckets whose all-reduce started while backward was running
  int launched_in_finish = 0;    // buckets reduced after backward (no overlap, unused params)
  int unused_params = 0;         // parameters without a gradient on every rank (left undefined)
  bool replayed = false;         // a gradient changed after its bucket was sent: reduced again
  double finish_wait_s = 0;      // time Finish() waited for communication
};

// Bucketed all-reduce of parameter gradients. Buckets hold parameters in reverse order (the order
// backward produces gradients), at most bucket_bytes each, one dtype/device per bucket. With
// overlap, a post-accumulate hook on each parameter marks it ready; a full bucket is all-reduced
// asynchronously right away (buckets start strictly in bucket order so every rank issues the same
// collectives in the same order). Finish() starts what is left (parameters without a gradient
// count as zeros), waits, and writes the reduced values into each parameter's .grad(). A parameter
// whose gradient is undefined on every rank keeps an undefined gradient (like one process).
// Gradient accumulation: call Prepare() only before the backward of the micro-step that syncs;
// without Prepare(), Finish() alone reduces everything after backward (no overlap).
class GradientReducer {
 public:
  explicit GradientReducer(std::vector<torch::Tensor> params, ReducerOptions options = {});
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  void Prepare();
  void Finish();
  const ReducerStats& LastStats() const;
  int NumBuckets() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace dist
}  // namespace xt
