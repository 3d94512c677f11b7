// Safetensors: a validating, memory-mapped reader and an atomic writer.
//
// Format: 8-byte little-endian header length N, N bytes of JSON
//   {"__metadata__": {str: str}, "<name>": {"dtype": "F16", "shape": [..], "data_offsets": [b, e]}, ...}
// then the data buffer; offsets are relative to the start of the buffer.
//
// The reader checks everything before any tensor is touched: header length against the file
// size, the JSON, each dtype, shape and offset pair (in range, non-overlapping, and
// shape x dtype size == byte length). Every violation is an XtError(XT_IO) naming the file
// (and the tensor). Tensors are zero-copy views of a private (copy-on-write) mapping that
// stays alive as long as any view does.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace xt {
namespace io {

// A read-only view of a whole file: mmap where possible, else read into memory.
class MappedFile {
 public:
  static std::shared_ptr<MappedFile> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  std::string path_;
  uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
  bool mapped_ = false;
  std::vector<uint8_t> heap_;
};

// A CPU tensor viewing [offset, offset + numel * itemsize) of `file` (copied when misaligned).
at::Tensor TensorFromFile(const std::shared_ptr<MappedFile>& file, uint64_t offset, at::ScalarType dtype,
                          at::IntArrayRef shape);

struct StTensorInfo {
  std::string name;
  std::string dtype_name;  // as written in the header ("F16", ...)
  at::ScalarType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // relative to the data buffer
  uint64_t end = 0;
};

class SafeTensorsFile {
 public:
  // Opens and validates; throws XtError(XT_IO) on any problem.
  static std::shared_ptr<SafeTensorsFile> Open(const std::string& path);

  const std::string& path() const { return file_->path(); }
  const std::vector<StTensorInfo>& tensors() const { return tensors_; }
  const StTensorInfo* find(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Zero-copy CPU tensor (a view of the mapping); throws XT_IO for an unknown name.
  at::Tensor Get(const std::string& name) const;
  at::Tensor Get(const StTensorInfo& info) const;

 private:
  std::shared_ptr<MappedFile> file_;
  uint64_t data_start_ = 0;
  std::vector<StTensorInfo> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// Quick check: does this file look like safetensors (header length plausible, JSON object)?
bool LooksLikeSafeTensors(const std::string& path);

// dtype <-> safetensors names; throw XT_IO / XT_INVALID for unsupported types.
at::ScalarType DtypeFromSafeTensorsName(const std::string& name, bool* ok);
std::string SafeTensorsNameFromDtype(at::ScalarType t);

// One tensor to write: its header facts up front, its data produced only when written (so a
// conversion never holds a second copy of every tensor at once).
struct StWriteItem {
  std::string name;
  at::ScalarType dtype;
  std::vector<int64_t> shape;
  std::function<at::Tensor()> produce;  // must return `shape` in `dtype` (any device/layout)
};

// Write tensors (in the given order, converted to contiguous CPU) atomically: a temp file in the
// same folder, fsync, rename over `path`, fsync the folder. Throws XT_IO on failure.
void WriteSafeTensors(const std::string& path, const std::vector<StWriteItem>& items,
                      const std::map<std::string, std::string>& metadata);
void WriteSafeTensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata);

// Write bytes to `path` atomically (same temp + fsync + rename protocol).
void WriteFileAtomic(const std::string& path, const std::string& bytes);

}  // namespace io
}  // namespace xt
