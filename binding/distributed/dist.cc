// The process group, rendezvous and collectives of dist.h (GradientReducer is in reducer.cc).
#include "distributed/dist.h"

#include <torch/version.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/Types.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>

#ifdef XT_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef XT_WITH_NCCL
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <sstream>
#include <thread>

#include "core/errors.h"
#include "distributed/group.h"

namespace xt {
namespace dist {

namespace {

std::mutex g_mu;
std::shared_ptr<Group> g_group;

std::string Fmt(double seconds) {
  std::ostringstream o;
  o << seconds;
  return o.str();
}

std::string ShapeStr(at::IntArrayRef s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << "]";
  return o.str();
}

// LibTorch >= 2.3 asks for the libuv TCPStore server by default (TCPStoreOptions::useLibUV = true);
// builds without libuv (Debian's 2.x) refuse that with "use_libuv was requested but PyTorch was built
// without libuv support". Turns it off where the option exists; false when there is nothing to turn off
// (1.x has no such option).
template <class Options>
auto DisableLibUv(Options& so, int) -> decltype(so.useLibUV = false, bool()) {
  if (!so.useLibUV) return false;
  so.useLibUV = false;
  return true;
}
template <class Options>
bool DisableLibUv(Options&, long) {
  return false;
}

bool IsLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// The local address this host uses to reach `host` (a connected UDP socket sends nothing).
std::string LocalAddressToward(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0 || !res) return "";
  std::string out;
  for (addrinfo* p = res; p && out.empty(); p = p->ai_next) {
    int fd = socket(p->ai_family, SOCK_DGRAM, 0);
    if (fd < 0) continue;
    if (connect(fd, p->ai_addr, p->ai_addrlen) == 0) {
      sockaddr_storage ss{};
      socklen_t len = sizeof(ss);
      if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
        char buf[NI_MAXHOST];
        if (getnameinfo(reinterpret_cast<sockaddr*>(&ss), len, buf, sizeof(buf), nullptr, 0, NI_NUMERICHOST) == 0)
          out = buf;
      }
    }
    close(fd);
  }
  freeaddrinfo(res);
  return out;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool CudaUsable() {
#ifdef XT_WITH_NCCL
  return torch::cuda::is_available() && torch::cuda::device_count() > 0;
#else
  return false;
#endif
}

std::string ResolveBackend(const InitOptions& o) {
  std::string b = Lower(o.backend.empty() ? "auto" : o.backend);
  if (b == "auto") {
    if (NcclCompiled() && CudaUsable()) return "nccl";
    if (GlooCompiled()) return "gloo";
    throw XtError(kInvalid,
                  "dist.init: this build has no usable backend (Gloo headers were missing at build time and "
                  "no CUDA/NCCL): install libgloo-dev and rebuild");
  }
  if (b == "gloo") {
    XT_CHECK(GlooCompiled(), kInvalid,
             "dist.init: backend 'gloo' is not compiled into this build (install libgloo-dev and rebuild)");
    return b;
  }
  if (b == "nccl") {
    XT_CHECK(NcclCompiled(), kInvalid,
             "dist.init: backend 'nccl' needs a CUDA build with NCCL headers; this build has none (use 'gloo')");
    if (!CudaUsable()) throw XtError(kCuda, "dist.init: backend 'nccl' needs a CUDA device, and none is usable");
    return b;
  }
  throw XtError(kInvalid, "dist.init: backend must be 'auto', 'gloo' or 'nccl', got '" + o.backend + "'");
}

void Validate(const InitOptions& o) {
  XT_CHECK(o.world_size >= 1, kInvalid,
           "dist.init: world size must be >= 1, got " + std::to_string(o.world_size));
  XT_CHECK(o.rank >= 0 && o.rank < o.world_size, kInvalid,
           "dist.init: rank must be in 0.." + std::to_string(o.world_size - 1) + " (world size " +
               std::to_string(o.world_size) + "), got " + std::to_string(o.rank));
  XT_CHECK(o.local_world_size >= 1 && o.local_world_size <= o.world_size, kInvalid,
           "dist.init: local world size must be in 1..world size, got " + std::to_string(o.local_world_size));
  XT_CHECK(o.local_rank >= 0 && o.local_rank < o.local_world_size, kInvalid,
           "dist.init: local rank must be in 0.." + std::to_string(o.local_world_size - 1) + ", got " +
               std::to_string(o.local_rank));
  XT_CHECK(o.master_port >= 1 && o.master_port <= 65535, kInvalid,
           "dist.init: master port must be in 1..65535, got " + std::to_string(o.master_port));
  XT_CHECK(!o.master_addr.empty(), kInvalid, "dist.init: master address (MASTER_ADDR) is empty");
  XT_CHECK(o.timeout_s > 0 && o.timeout_s <= 86400, kInvalid, "dist.init: timeout must be in (0, 86400] s");
  XT_CHECK(o.op_timeout_s > 0 && o.op_timeout_s <= 86400 * 7, kInvalid,
           "dist.init: collective timeout must be in (0, 604800] s");
}

std::string Who(const InitOptions& o) {
  return "rank " + std::to_string(o.rank) + " of " + std::to_string(o.world_size);
}

// Every rank registers in the store; all wait until world_size ranks have, then check that they agree.
void Rendezvous(c10d::Store& store, const InitOptions& o, const std::string& backend, const std::string& where) {
  const std::string rank_key = "xt/rank/" + std::to_string(o.rank);
  if (store.add(rank_key, 1) > 1)
    throw XtError(kInvalid, "dist.init: two processes claim rank " + std::to_string(o.rank) + " at " + where +
                                " (every process needs a distinct RANK)");
  store.add("xt/world_size_sum", o.world_size);
  store.add("xt/backend/" + backend, 1);
  store.add("xt/joined", 1);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(o.timeout_s);
  for (;;) {
    int64_t n = store.add("xt/joined", 0);
    if (n >= o.world_size) break;
    if (std::chrono::steady_clock::now() > deadline) {
      std::vector<int> missing;
      for (int k = 0; k < o.world_size; ++k)
        if (!store.check({"xt/rank/" + std::to_string(k)})) missing.push_back(k);
      std::ostringstream m;
      if (missing.size() == 1) {
        m << "rank " << missing[0];
      } else {
        m << "ranks ";
        for (size_t i = 0; i < missing.size(); ++i) m << (i ? ", " : "") << missing[i];
      }
      m << " of " << o.world_size << (missing.size() == 1 ? " did" : " did") << " not join " << where
        << " within " << Fmt(o.timeout_s) << " s (seen by rank " << o.rank << "; " << n << " of " << o.world_size
        << " joined). Start every process with the same MASTER_ADDR, MASTER_PORT and WORLD_SIZE and a "
           "distinct RANK, or raise the rendezvous timeout.";
      throw XtError(kIo, m.str());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  int64_t ws_sum = store.add("xt/world_size_sum", 0);
  if (ws_sum != static_cast<int64_t>(o.world_size) * o.world_size)
    throw XtError(kInvalid, "dist.init: the ranks at " + where + " disagree on WORLD_SIZE (this rank has " +
                                std::to_string(o.world_size) + ")");
  if (store.add("xt/backend/" + backend, 0) != o.world_size)
    throw XtError(kInvalid, "dist.init: the ranks at " + where + " disagree on the backend (this rank chose '" +
                                backend + "'); pass the same --dist-backend to every rank");
}

}  // namespace

bool GlooCompiled() {
#ifdef XT_WITH_GLOO
  return true;
#else
  return false;
#endif
}

bool NcclCompiled() {
#ifdef XT_WITH_NCCL
  return true;
#else
  return false;
#endif
}

std::shared_ptr<Group> CurrentGroup() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_group;
}

void Init(const InitOptions& o) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_group)
    throw XtError(kInvalid, "dist.init: already initialized (" + g_group->WhoAmI() + "); call shutdown() first");
  Validate(o);
  auto g = std::make_shared<Group>();
  g->info.initialized = true;
  g->info.rank = o.rank;
  g->info.world_size = o.world_size;
  g->info.local_rank = o.local_rank;
  g->info.local_world_size = o.local_world_size;
  g->check_shapes = o.check_shapes;
  const std::string where = o.master_addr + ":" + std::to_string(o.master_port);
  if (o.world_size == 1) {
    ResolveBackend(o);  // still reject an impossible --dist-backend
    g->info.backend = "none";
    g_group = g;
    return;
  }
  const std::string backend = ResolveBackend(o);
  g->info.backend = backend;
  g->info.master = where;
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(o.timeout_s * 1000));
  const auto op_timeout = std::chrono::milliseconds(static_cast<int64_t>(o.op_timeout_s * 1000));

  // 1. The store: rank 0 hosts it.
  c10d::TCPStoreOptions so;
  so.port = static_cast<std::uint16_t>(o.master_port);
  so.isServer = o.rank == 0 && o.host_store;
  so.numWorkers = static_cast<std::size_t>(o.world_size);
  so.waitWorkers = false;  // we wait ourselves, to name the ranks that are missing
  so.timeout = timeout;
  c10::intrusive_ptr<c10d::TCPStore> store;
  try {
    try {
      store = c10::make_intrusive<c10d::TCPStore>(o.master_addr, so);
    } catch (const std::exception& e) {
      // every rank falls back alike, so servers and clients keep agreeing on the wire protocol
      if (std::string(e.what()).find("libuv") == std::string::npos || !DisableLibUv(so, 0)) throw;
      store = c10::make_intrusive<c10d::TCPStore>(o.master_addr, so);
    }
  } catch (const std::exception& e) {
    std::string msg = CleanWhat(e);
    if (so.isServer)
      throw XtError(kIo, "dist.init: rank 0 of " + std::to_string(o.world_size) + " could not host the rendezvous on " +
                             where + ": " + msg + ". Is the port already in use? Choose another MASTER_PORT.");
    throw XtError(kIo, "dist.init: " + Who(o) + " could not reach the rendezvous at " + where + " within " +
                           Fmt(o.timeout_s) + " s: " + msg +
                           ". Check that rank 0 is running and that MASTER_ADDR/MASTER_PORT are the same on every "
                           "rank and reachable from this host.");
  }
  c10::intrusive_ptr<c10d::Store> base = store;
  if (!o.store_prefix.empty()) base = c10::make_intrusive<c10d::PrefixStore>(o.store_prefix, store);
  g->store = base;

  // 2. Everyone registers; wait for all, check agreement.
  try {
    Rendezvous(*base, o, backend, where);
  } catch (const XtError&) {
    throw;
  } catch (const std::exception& e) {
    std::string msg = CleanWhat(e);
    throw XtError(kIo, "dist.init: " + Who(o) + " lost the rendezvous at " + where + ": " + msg +
                           " (rank 0 may have exited)");
  }

  // 3. The process group.
  auto prefix = c10::make_intrusive<c10d::PrefixStore>("xt/pg", base);
  try {
    if (backend == "gloo") {
#ifdef XT_WITH_GLOO
      auto opts = c10d::ProcessGroupGloo::Options::create(op_timeout);
      std::string iface = o.gloo_interface;
      if (iface.empty()) {
        const char* env = std::getenv("GLOO_SOCKET_IFNAME");
        if (env && *env) {
          iface = env;
          auto comma = iface.find(',');
          if (comma != std::string::npos) iface.resize(comma);
        }
      }
      if (!iface.empty()) {
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(iface));
        g->transport = "interface " + iface;
      } else {
        std::string local = IsLoopback(o.master_addr) ? "127.0.0.1" : LocalAddressToward(o.master_addr, o.master_port);
        if (!local.empty()) {
          opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(local));
          g->transport = "address " + local;
        } else {
          opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
          g->transport = "default device";
        }
      }
      g->comm = c10::make_intrusive<c10d::ProcessGroupGloo>(prefix, o.rank, o.world_size, opts);
      g->device = torch::Device(torch::kCPU);
      g->gloo = true;
#endif
    } else {
#ifdef XT_WITH_NCCL
      int n = static_cast<int>(torch::cuda::device_count());
      if (o.local_rank >= n)
        throw XtError(kCuda, "dist.init: LOCAL_RANK " + std::to_string(o.local_rank) + " but only " + std::to_string(n) +
                                 " CUDA device(s) are visible (one process per GPU: --nproc <= GPUs per node)");
      c10::cuda::set_device(static_cast<c10::DeviceIndex>(o.local_rank));
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = op_timeout;
      g->comm = c10::make_intrusive<c10d::ProcessGroupNCCL>(prefix, o.rank, o.world_size, opts);
      g->device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(o.local_rank));
      g->transport = "NCCL";
#endif
    }
  } catch (const XtError&) {
    throw;
  } catch (const std::exception& e) {
    std::string msg = CleanWhat(e);
    throw XtError(kIo, "dist.init: " + Who(o) + " could not create the " + backend + " process group (via " + where +
                           "): " + msg);
  }
  XT_CHECK(g->comm, kInternal, "dist.init: no process group was created");
  g->info.device = g->device.str();
  g_group = g;
}

bool IsInitialized() { return CurrentGroup() != nullptr; }

Info Current() {
  auto g = CurrentGroup();
  return g ? g->info : Info{};
}

void Shutdown() {
  std::shared_ptr<Group> g;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    g.swap(g_group);
  }
  // The last reference (possibly held by a call still running) destroys the group and store.
}

ReduceOp ParseReduceOp(const std::string& name) {
  std::string n = Lower(name);
  if (n == "sum") return ReduceOp::kSum;
  if (n == "mean" || n == "avg") return ReduceOp::kMean;
  if (n == "max") return ReduceOp::kMax;
  if (n == "min") return ReduceOp::kMin;
  throw XtError(kInvalid, "reduce op must be 'sum', 'mean', 'max' or 'min', got '" + name + "'");
}

// ---------------------------------------------------------------------------------------------
// Group helpers
// ---------------------------------------------------------------------------------------------

std::string Group::WhoAmI() const {
  return "rank " + std::to_string(info.rank) + " of " + std::to_string(info.world_size);
}

at::ScalarType Group::WireType(at::ScalarType t) const {
  if (gloo) {
    if (t == at::kBool) return at::kByte;
    if (t == at::kBFloat16) return at::kFloat;
  }
  return t;
}

torch::Tensor Group::ToWire(const torch::Tensor& t) const {
  return t.to(device, WireType(t.scalar_type())).contiguous();
}

void Group::Wait(const c10::intrusive_ptr<c10d::Work>& work, const char* what) const {
  try {
    work->wait();
  } catch (const XtError&) {
    throw;
  } catch (const std::exception& e) {
    std::string msg = CleanWhat(e);
    throw XtError(kIo, std::string("dist ") + what + " failed on " + WhoAmI() + ": " + msg +
                           " (another rank may have exited, failed or timed out)");
  }
}

c10::intrusive_ptr<c10d::Work> Group::LaunchAllReduce(torch::Tensor& wire, ReduceOp op) const {
  c10d::AllreduceOptions opts;
  switch (op) {
    case ReduceOp::kMax:
      opts.reduceOp = c10d::ReduceOp::MAX;
      break;
    case ReduceOp::kMin:
      opts.reduceOp = c10d::ReduceOp::MIN;
      break;
    default:
      opts.reduceOp = c10d::ReduceOp::SUM;
  }
  std::vector<at::Tensor> v{wire};
  return comm->allreduce(v, opts);
}

void Group::AllReduceWire(torch::Tensor& wire, ReduceOp op, const char* what) const {
  Wait(LaunchAllReduce(wire, op), what);
  if (op == ReduceOp::kMean) wire.div_(info.world_size);
}

torch::Tensor Group::GatherCat(const torch::Tensor& x, const char* what) const {
  XT_CHECK(x.dim() >= 1, kShape, std::string(what) + ": the tensor needs at least one dimension (rows)");
  torch::NoGradGuard ng;
  if (check_shapes) {
    XT_CHECK(x.dim() <= 15, kShape, std::string(what) + ": at most 15 dimensions");
    auto meta = torch::full({16}, -1, torch::kLong);
    meta[0] = x.dim();
    for (int64_t i = 0; i < x.dim(); ++i) meta[i + 1] = x.size(i);
    meta[15] = static_cast<int64_t>(x.scalar_type());
    auto wire = meta.to(device);
    std::vector<std::vector<at::Tensor>> out(1);
    for (int r = 0; r < info.world_size; ++r) out[0].push_back(torch::empty_like(wire));
    std::vector<at::Tensor> in{wire};
    Wait(comm->allgather(out, in), what);
    auto mine = meta;
    for (int r = 0; r < info.world_size; ++r) {
      auto theirs = out[0][r].cpu();
      if (!torch::equal(theirs, mine)) {
        int64_t nd = theirs[0].item<int64_t>();
        std::vector<int64_t> shape;
        for (int64_t i = 0; i < nd && i < 14; ++i) shape.push_back(theirs[i + 1].item<int64_t>());
        std::string msg = std::string(what) + ": every rank must pass the same shape and dtype; rank " +
                          std::to_string(r) + " has " + ShapeStr(shape) + " (" +
                          c10::toString(static_cast<at::ScalarType>(theirs[15].item<int64_t>())) + "), rank " +
                          std::to_string(info.rank) + " has " + ShapeStr(x.sizes()) + " (" +
                          c10::toString(x.scalar_type()) + ")";
        throw XtError(kShape, msg);
      }
    }
  }
  auto wire = ToWire(x);
  std::vector<std::vector<at::Tensor>> out(1);
  for (int r = 0; r < info.world_size; ++r) out[0].push_back(torch::empty_like(wire));
  std::vector<at::Tensor> in{wire};
  Wait(comm->allgather(out, in), what);
  return torch::cat(out[0], 0).to(x.device(), x.scalar_type());
}

// ---------------------------------------------------------------------------------------------
// Collectives
// ---------------------------------------------------------------------------------------------

namespace {

class AllGatherGradFn : public torch::autograd::Function<AllGatherGradFn> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x) {
    auto g = CurrentGroup();
    XT_CHECK(g && g->comm, kInvalid, "AllGatherWithGrad: the process group was shut down");
    ctx->saved_data["rows"] = x.size(0);
    ctx->saved_data["rank"] = static_cast<int64_t>(g->info.rank);
    return g->GatherCat(x, "AllGatherWithGrad");
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto g = CurrentGroup();
    XT_CHECK(g && g->comm, kInvalid, "AllGatherWithGrad (backward): the process group was shut down");
    const int64_t rows = ctx->saved_data["rows"].toInt();
    const int64_t rank = ctx->saved_data["rank"].toInt();
    torch::NoGradGuard ng;
    const auto& go = grads[0];
    // ToWire copies unless the gradient is already a contiguous tensor on the device: clone then,
    // since the all-reduce works in place.
    auto wire = g->ToWire(go);
    if (wire.data_ptr() == go.data_ptr()) wire = wire.clone();
    g->AllReduceWire(wire, ReduceOp::kSum, "AllGatherWithGrad (backward)");
    auto mine = wire.narrow(0, rank * rows, rows).to(go.device(), go.scalar_type());
    return {mine};
  }
};

}  // namespace

torch::Tensor AllGatherWithGrad(const torch::Tensor& x) {
  auto g = CurrentGroup();
  if (!g || !g->comm) return x;
  return AllGatherGradFn::apply(x);
}

torch::Tensor AllGather(const torch::Tensor& x) {
  auto g = CurrentGroup();
  if (!g || !g->comm) return x.detach();
  return g->GatherCat(x.detach(), "AllGather");
}

void Broadcast(const std::vector<torch::Tensor>& tensors, int root) {
  auto g = CurrentGroup();
  if (!g || !g->comm || tensors.empty()) return;
  XT_CHECK(root >= 0 && root < g->info.world_size, kInvalid,
           "Broadcast: root must be a rank in 0.." + std::to_string(g->info.world_size - 1));
  torch::NoGradGuard ng;
  // Coalesce by (dtype, device): one message per group, in first-appearance order (same on all ranks).
  std::vector<std::vector<size_t>> groups;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = tensors[i];
    XT_CHECK(t.defined(), kInvalid, "Broadcast: tensor " + std::to_string(i) + " is undefined");
    bool placed = false;
    for (auto& grp : groups) {
      const auto& f = tensors[grp[0]];
      if (f.scalar_type() == t.scalar_type() && f.device() == t.device()) {
        grp.push_back(i);
        placed = true;
        break;
      }
    }
    if (!placed) groups.push_back({i});
  }
  for (const auto& grp : groups) {
    std::vector<torch::Tensor> flat;
    for (size_t i : grp) flat.push_back(tensors[i].reshape(-1));
    auto wire = g->ToWire(torch::cat(flat, 0));
    c10d::BroadcastOptions opts;
    opts.rootRank = root;
    std::vector<at::Tensor> v{wire};
    g->Wait(g->comm->broadcast(v, opts), "Broadcast");
    int64_t off = 0;
    for (size_t i : grp) {
      const auto& t = tensors[i];
      auto n = t.numel();
      t.copy_(wire.narrow(0, off, n).view(t.sizes()));
      off += n;
    }
  }
}

void Barrier() {
  auto g = CurrentGroup();
  if (!g || !g->comm) return;
  if (g->gloo) {
    g->Wait(g->comm->barrier(), "Barrier");
  } else {
    // NCCL's barrier guesses devices; a one-element all-reduce on ours is exact and as cheap.
    auto t = torch::zeros({1}, torch::TensorOptions().device(g->device));
    g->AllReduceWire(t, ReduceOp::kSum, "Barrier");
    t.cpu();
  }
}

void AllReduceInPlace(const torch::Tensor& t, ReduceOp op) {
  auto g = CurrentGroup();
  if (!g || !g->comm) return;
  torch::NoGradGuard ng;
  auto wire = g->ToWire(t);
  bool aliased = wire.data_ptr() == t.data_ptr();
  g->AllReduceWire(wire, op, "AllReduce");
  if (!aliased) t.copy_(wire.view(t.sizes()));
}

std::vector<double> AllReduce(const std::vector<double>& values, ReduceOp op) {
  auto g = CurrentGroup();
  if (!g || !g->comm || values.empty()) return values;
  auto t = torch::tensor(values, torch::kDouble).to(g->device);
  g->AllReduceWire(t, op, "AllReduce");
  t = t.cpu();
  return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
}

double AllReduce(double value, ReduceOp op) { return AllReduce(std::vector<double>{value}, op)[0]; }

}  // namespace dist
}  // namespace xt
