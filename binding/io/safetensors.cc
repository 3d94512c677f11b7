#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <limits>

#include "core/errors.h"
#include "io/json.h"

namespace xt {
namespace io {

namespace {

[[noreturn]] void Fail(const std::string& path, const std::string& msg) {
  throw XtError(kIo, path + ": " + msg);
}

std::string Errno() { return std::strerror(errno); }

std::string ShapeStr(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

struct DtypeName {
  const char* name;
  at::ScalarType type;
};

const DtypeName kDtypes[] = {
    {"F64", at::kDouble}, {"F32", at::kFloat}, {"F16", at::kHalf},   {"BF16", at::kBFloat16},
    {"I64", at::kLong},   {"I32", at::kInt},   {"I16", at::kShort},  {"I8", at::kChar},
    {"U8", at::kByte},    {"BOOL", at::kBool},
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// MappedFile
// ---------------------------------------------------------------------------------------------
std::shared_ptr<MappedFile> MappedFile::Open(const std::string& path) {
  std::shared_ptr<MappedFile> f(new MappedFile());
  f->path_ = path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) Fail(path, "cannot open: " + Errno());
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    std::string e = Errno();
    ::close(fd);
    Fail(path, "cannot stat: " + e);
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    Fail(path, "is a directory, not a file");
  }
  f->size_ = static_cast<uint64_t>(st.st_size);
  if (S_ISREG(st.st_mode) && f->size_ > 0) {
    // Private + writable: copy-on-write, so an accidental in-place write never reaches the file
    // (nor faults); pages are shared with the page cache until then.
    void* p = ::mmap(nullptr, f->size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (p != MAP_FAILED) {
      f->data_ = static_cast<uint8_t*>(p);
      f->mapped_ = true;
    }
  }
  if (!f->mapped_ && f->size_ > 0) {
    // Fallback (pipes, filesystems without mmap): read it.
    f->heap_.resize(f->size_);
    uint64_t done = 0;
    while (done < f->size_) {
      ssize_t r = ::pread(fd, f->heap_.data() + done, f->size_ - done, static_cast<off_t>(done));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        std::string e = r < 0 ? Errno() : "unexpected end of file";
        ::close(fd);
        Fail(path, "cannot read: " + e);
      }
      done += static_cast<uint64_t>(r);
    }
    f->data_ = f->heap_.data();
  }
  ::close(fd);  // the mapping stays valid without the descriptor
  return f;
}

MappedFile::~MappedFile() {
  if (mapped_ && data_) ::munmap(data_, size_);
}

at::Tensor TensorFromFile(const std::shared_ptr<MappedFile>& file, uint64_t offset, at::ScalarType dtype,
                          at::IntArrayRef shape) {
  auto opts = at::TensorOptions().dtype(dtype).device(at::kCPU);
  int64_t numel = 1;
  for (auto d : shape) numel *= d;
  if (numel == 0) return at::empty(shape, opts);
  size_t item = c10::elementSize(dtype);
  uint8_t* ptr = const_cast<uint8_t*>(file->data()) + offset;
  if (reinterpret_cast<uintptr_t>(ptr) % item == 0) {
    std::shared_ptr<MappedFile> keep = file;
    return at::from_blob(ptr, shape, [keep](void*) mutable { keep.reset(); }, opts);
  }
  at::Tensor t = at::empty(shape, opts);
  std::memcpy(t.data_ptr(), ptr, static_cast<size_t>(numel) * item);
  return t;
}

// ---------------------------------------------------------------------------------------------
// dtypes
// ---------------------------------------------------------------------------------------------
at::ScalarType DtypeFromSafeTensorsName(const std::string& name, bool* ok) {
  for (const auto& d : kDtypes)
    if (name == d.name) {
      *ok = true;
      return d.type;
    }
  *ok = false;
  return at::kFloat;
}

std::string SafeTensorsNameFromDtype(at::ScalarType t) {
  for (const auto& d : kDtypes)
    if (d.type == t) return d.name;
  throw XtError(kInvalid, std::string("safetensors cannot store dtype ") + c10::toString(t));
}

// ---------------------------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------------------------
std::shared_ptr<SafeTensorsFile> SafeTensorsFile::Open(const std::string& path) {
  std::shared_ptr<SafeTensorsFile> st(new SafeTensorsFile());
  st->file_ = MappedFile::Open(path);
  const uint64_t size = st->file_->size();
  const uint8_t* d = st->file_->data();
  if (size < 8)
    Fail(path, "file is " + std::to_string(size) + " bytes: too small for a safetensors header (truncated?)");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | d[i];
  if (n > size - 8)
    Fail(path, "header length " + std::to_string(n) + " exceeds the file size " + std::to_string(size) +
                   " (truncated, or not a safetensors file)");
  if (n < 2) Fail(path, "header length " + std::to_string(n) + " is too small for a JSON header");
  if (n > (100ull << 20)) Fail(path, "header length " + std::to_string(n) + " exceeds the 100 MB limit");
  std::string header(reinterpret_cast<const char*>(d + 8), static_cast<size_t>(n));
  json::Value root;
  try {
    root = json::Value::Parse(header, 16);
  } catch (const json::ParseError& e) {
    Fail(path, std::string("header is not valid JSON: ") + e.what());
  }
  if (!root.is_object()) Fail(path, "header is not a JSON object");
  st->data_start_ = 8 + n;
  const uint64_t data_size = size - st->data_start_;

  for (const auto& kv : root.as_object()) {
    const std::string& name = kv.first;
    const json::Value& v = kv.second;
    if (name == "__metadata__") {
      if (!v.is_object()) Fail(path, "__metadata__ is not an object");
      for (const auto& m : v.as_object()) {
        if (!m.second.is_string()) Fail(path, "__metadata__ value '" + m.first + "' is not a string");
        st->metadata_[m.first] = m.second.as_string();
      }
      continue;
    }
    const std::string where = "tensor '" + name + "': ";
    if (st->index_.count(name)) Fail(path, where + "appears twice in the header");
    if (!v.is_object()) Fail(path, where + "entry is not an object");
    StTensorInfo info;
    info.name = name;
    const json::Value* dt = v.get("dtype");
    if (!dt || !dt->is_string()) Fail(path, where + "missing or non-string dtype");
    info.dtype_name = dt->as_string();
    bool ok = false;
    info.dtype = DtypeFromSafeTensorsName(info.dtype_name, &ok);
    if (!ok) Fail(path, where + "unsupported dtype '" + info.dtype_name + "'");
    const json::Value* sh = v.get("shape");
    if (!sh || !sh->is_array()) Fail(path, where + "missing or non-array shape");
    if (sh->as_array().size() > 16) Fail(path, where + "shape has more than 16 dimensions");
    // numel with overflow checks
    uint64_t numel = 1;
    bool overflow = false;
    for (const auto& dim : sh->as_array()) {
      if (!dim.is_int() || dim.as_int() < 0) Fail(path, where + "shape entries must be non-negative integers");
      uint64_t x = static_cast<uint64_t>(dim.as_int());
      info.shape.push_back(dim.as_int());
      if (x != 0 && numel > std::numeric_limits<uint64_t>::max() / x) overflow = true;
      numel *= x;
    }
    const json::Value* off = v.get("data_offsets");
    if (!off || !off->is_array() || off->as_array().size() != 2)
      Fail(path, where + "data_offsets must be an array of two integers");
    const auto& oa = off->as_array();
    if (!oa[0].is_int() || !oa[1].is_int() || oa[0].as_int() < 0 || oa[1].as_int() < 0)
      Fail(path, where + "data_offsets must be non-negative integers");
    info.begin = static_cast<uint64_t>(oa[0].as_int());
    info.end = static_cast<uint64_t>(oa[1].as_int());
    if (info.end < info.begin)
      Fail(path, where + "data_offsets [" + std::to_string(info.begin) + ", " + std::to_string(info.end) +
                     "] end before begin");
    if (info.end > data_size)
      Fail(path, where + "data_offsets [" + std::to_string(info.begin) + ", " + std::to_string(info.end) +
                     "] run past the end of the data (" + std::to_string(data_size) + " bytes; truncated file?)");
    uint64_t item = c10::elementSize(info.dtype);
    if (overflow || (numel != 0 && item > std::numeric_limits<uint64_t>::max() / numel) ||
        numel * item != info.end - info.begin)
      Fail(path, where + "shape " + ShapeStr(info.shape) + " x " + info.dtype_name + " (" +
                     std::to_string(item) + " bytes) does not match its byte length " +
                     std::to_string(info.end - info.begin));
    st->index_[name] = st->tensors_.size();
    st->tensors_.push_back(std::move(info));
  }

  // No two byte ranges may overlap.
  std::vector<const StTensorInfo*> order;
  for (const auto& t : st->tensors_)
    if (t.end > t.begin) order.push_back(&t);
  std::sort(order.begin(), order.end(),
            [](const StTensorInfo* a, const StTensorInfo* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < order.size(); ++i)
    if (order[i]->begin < order[i - 1]->end)
      Fail(path, "tensor '" + order[i]->name + "': data_offsets overlap those of tensor '" + order[i - 1]->name + "'");
  return st;
}

const StTensorInfo* SafeTensorsFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

at::Tensor SafeTensorsFile::Get(const std::string& name) const {
  const StTensorInfo* info = find(name);
  if (!info) Fail(path(), "no tensor named '" + name + "'");
  return Get(*info);
}

at::Tensor SafeTensorsFile::Get(const StTensorInfo& info) const {
  return TensorFromFile(file_, data_start_ + info.begin, info.dtype, info.shape);
}

bool LooksLikeSafeTensors(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  uint8_t buf[9];
  ssize_t r = ::pread(fd, buf, sizeof buf, 0);
  struct stat st;
  bool ok = r == 9 && ::fstat(fd, &st) == 0;
  ::close(fd);
  if (!ok) return false;
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | buf[i];
  return n >= 2 && n <= static_cast<uint64_t>(st.st_size) - 8 && buf[8] == '{';
}

// ---------------------------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------------------------
namespace {

std::atomic<uint64_t> g_tmp_counter{0};

class AtomicFile {
 public:
  explicit AtomicFile(const std::string& path) : path_(path) {
    tmp_ = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(g_tmp_counter.fetch_add(1));
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) Fail(path, "cannot create " + tmp_ + ": " + Errno());
  }
  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_.c_str());
  }
  void Write(const void* data, size_t n) {
    const uint8_t* p = static_cast<const uint8_t*>(data);
    while (n > 0) {
      ssize_t w = ::write(fd_, p, std::min<size_t>(n, 1u << 30));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) Fail(path_, "write failed: " + (w < 0 ? Errno() : std::string("no progress")));
      p += w;
      n -= static_cast<size_t>(w);
    }
  }
  void Commit() {
    if (::fsync(fd_) != 0) Fail(path_, "fsync failed: " + Errno());
    if (::close(fd_) != 0) {
      fd_ = -1;
      Fail(path_, "close failed: " + Errno());
    }
    fd_ = -1;
    if (::rename(tmp_.c_str(), path_.c_str()) != 0) Fail(path_, "rename from " + tmp_ + " failed: " + Errno());
    committed_ = true;
    // Make the rename durable.
    std::string dir = ".";
    auto slash = path_.find_last_of('/');
    if (slash != std::string::npos) dir = slash == 0 ? "/" : path_.substr(0, slash);
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }

 private:
  std::string path_, tmp_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace

void WriteSafeTensors(const std::string& path, const std::vector<StWriteItem>& items,
                      const std::map<std::string, std::string>& metadata) {
  std::string header = "{";
  bool first = true;
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool f2 = true;
    for (const auto& kv : metadata) {
      if (!f2) header += ",";
      f2 = false;
      header += json::Quote(kv.first) + ":" + json::Quote(kv.second);
    }
    header += "}";
    first = false;
  }
  uint64_t offset = 0;
  std::map<std::string, int> seen;
  std::vector<uint64_t> sizes;
  for (const auto& it : items) {
    if (it.name.empty() || it.name == "__metadata__" || seen[it.name]++)
      throw XtError(kInvalid, path + ": invalid or duplicate tensor name '" + it.name + "'");
    std::string dt = SafeTensorsNameFromDtype(it.dtype);
    uint64_t numel = 1;
    for (auto d : it.shape) numel *= static_cast<uint64_t>(d);
    uint64_t bytes = numel * c10::elementSize(it.dtype);
    if (!first) header += ",";
    first = false;
    header += json::Quote(it.name) + ":{\"dtype\":\"" + dt + "\",\"shape\":[";
    for (size_t i = 0; i < it.shape.size(); ++i) header += (i ? "," : "") + std::to_string(it.shape[i]);
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + bytes) + "]}";
    offset += bytes;
    sizes.push_back(bytes);
  }
  header += "}";
  while ((8 + header.size()) % 8 != 0) header += ' ';  // keep the data buffer 8-byte aligned
  AtomicFile out(path);
  uint8_t len[8];
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));
  out.Write(len, 8);
  out.Write(header.data(), header.size());
  for (size_t i = 0; i < items.size(); ++i) {  // one tensor at a time: never a second copy of everything
    if (sizes[i] == 0) continue;
    at::Tensor t = items[i].produce().detach().to(at::kCPU).contiguous();
    if (t.scalar_type() != items[i].dtype || t.sizes() != at::IntArrayRef(items[i].shape))
      throw XtError(kInternal, path + ": tensor '" + items[i].name + "' changed shape or dtype while writing");
    out.Write(t.data_ptr(), static_cast<size_t>(sizes[i]));
  }
  out.Commit();
}

void WriteSafeTensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::vector<StWriteItem> items;
  items.reserve(tensors.size());
  for (const auto& kv : tensors) {
    at::Tensor t = kv.second;
    items.push_back({kv.first, t.scalar_type(), t.sizes().vec(), [t]() { return t; }});
  }
  WriteSafeTensors(path, items, metadata);
}

void WriteFileAtomic(const std::string& path, const std::string& bytes) {
  AtomicFile out(path);
  out.Write(bytes.data(), bytes.size());
  out.Commit();
}

}  // namespace io
}  // namespace xt
