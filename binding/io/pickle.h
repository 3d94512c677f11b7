// Reading `torch.save` checkpoints (the zip format of PyTorch >= 1.6) without Python.
//
// LibTorch's own unpickler (torch::pickle_load) only understands what TorchScript writes: it
// rejects SETITEM, nn.Parameter (_rebuild_parameter) and any class it does not know, which real
// checkpoints (open_clip: {"epoch", "name", "state_dict": OrderedDict, "optimizer": ...}) contain.
// This is a small pickle VM (protocols 2-4) that builds a plain tree: containers and scalars are
// kept, unknown classes become opaque Object nodes, and tensors are rebuilt from the archive's
// storages as zero-copy views of a private mapping of the file (copied only when misaligned).
// Every problem is an XtError(XT_IO) naming the file.
#pragma once
#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace xt {
namespace io {
namespace pkl {

struct Node;
using NodePtr = std::shared_ptr<Node>;

struct Node {
  enum class Kind { None, Bool, Int, Float, Str, Bytes, Tuple, List, Dict, Set, Global, Object, Tensor, Storage };
  Kind kind = Kind::None;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;                                 // Str, Bytes, Global ("module.name")
  std::vector<NodePtr> items;                    // Tuple, List, Set; Object: {class, args, state}
  std::vector<std::pair<NodePtr, NodePtr>> dict; // Dict (insertion order)
  at::Tensor tensor;                             // Tensor; Storage: flat 1-D tensor of its dtype

  bool is_str() const { return kind == Kind::Str; }
  // Dict lookup by string key; nullptr when absent.
  NodePtr get(const std::string& key) const;
};

// Is this a zip archive (torch.save >= 1.6 or TorchScript)?
bool IsZipFile(const std::string& path);

// Load `data.pkl` of a torch.save zip archive with its tensors.
NodePtr LoadTorchSave(const std::string& path);

}  // namespace pkl
}  // namespace io
}  // namespace xt
