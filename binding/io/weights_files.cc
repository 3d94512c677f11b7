// Paths, folders, JSON files and dtype names for the weight readers and writers.
#include <sys/stat.h>
#include <sys/types.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/errors.h"
#include "io/weights_internal.h"

namespace xt {
namespace io {
namespace detail {

bool IsDir(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool IsFile(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string Join(const std::string& dir, const std::string& name) {
  if (dir.empty() || dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool StartsWith(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

namespace {
std::string ReadText(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw XtError(kIo, path + ": cannot open: " + std::strerror(errno));
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
}  // namespace

json::Value ReadJson(const std::string& path) {
  std::string text = ReadText(path);
  try {
    return json::Value::Parse(text);
  } catch (const json::ParseError& e) {
    throw XtError(kIo, path + ": invalid JSON: " + e.what());
  }
}

void MakeDirs(const std::string& path) {
  if (path.empty() || IsDir(path)) return;
  auto slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0) MakeDirs(path.substr(0, slash));
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST)
    throw XtError(kIo, path + ": cannot create folder: " + std::strerror(errno));
}

std::string ShapeStr(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

WeightEntry EntryFromTensor(const at::Tensor& t) {
  WeightEntry e;
  e.shape = t.sizes().vec();
  e.dtype = t.scalar_type();
  e.load = [t]() { return t; };
  return e;
}

}  // namespace detail

at::ScalarType ParseDtype(const std::string& name) {
  if (name == "float32" || name == "fp32" || name == "float") return at::kFloat;
  if (name == "float16" || name == "fp16" || name == "half") return at::kHalf;
  if (name == "bfloat16" || name == "bf16") return at::kBFloat16;
  throw XtError(kInvalid, "dtype must be 'float32', 'float16' or 'bfloat16', got '" + name + "'");
}

std::string DtypeName(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "float32";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    case at::kDouble: return "float64";
    default: return c10::toString(t);
  }
}

}  // namespace io
}  // namespace xt
