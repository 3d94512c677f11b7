#include "io/pickle.h"

#include <caffe2/serialize/inline_container.h>
#include <c10/util/Exception.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <unordered_map>

#include "core/errors.h"
#include "io/safetensors.h"

namespace xt {
namespace io {
namespace pkl {

NodePtr Node::get(const std::string& key) const {
  if (kind != Kind::Dict) return nullptr;
  for (const auto& kv : dict)
    if (kv.first && kv.first->kind == Kind::Str && kv.first->s == key) return kv.second;
  return nullptr;
}

bool IsZipFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char magic[4] = {0, 0, 0, 0};
  if (!f.read(magic, 4)) return false;
  return magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4;
}

namespace {

NodePtr Make(Node::Kind k) {
  auto n = std::make_shared<Node>();
  n->kind = k;
  return n;
}

at::ScalarType StorageDtype(const std::string& global, bool* ok) {
  static const std::map<std::string, at::ScalarType> kTypes = {
      {"torch.DoubleStorage", at::kDouble}, {"torch.FloatStorage", at::kFloat},
      {"torch.HalfStorage", at::kHalf},     {"torch.BFloat16Storage", at::kBFloat16},
      {"torch.LongStorage", at::kLong},     {"torch.IntStorage", at::kInt},
      {"torch.ShortStorage", at::kShort},   {"torch.CharStorage", at::kChar},
      {"torch.ByteStorage", at::kByte},     {"torch.BoolStorage", at::kBool},
  };
  auto it = kTypes.find(global);
  *ok = it != kTypes.end();
  return *ok ? it->second : at::kFloat;
}

class Unpickler {
 public:
  Unpickler(const std::string& path, const uint8_t* data, size_t size, caffe2::serialize::PyTorchStreamReader* reader,
            std::shared_ptr<MappedFile> file)
      : path_(path), p_(data), end_(data + size), reader_(reader), file_(std::move(file)) {}

  NodePtr Run() {
    for (;;) {
      uint8_t op = U8();
      if (op == '.') {  // STOP
        if (stack_.empty()) Fail("STOP with an empty stack");
        return stack_.back();
      }
      Step(op);
    }
  }

 private:
  [[noreturn]] void Fail(const std::string& msg) { throw XtError(kIo, path_ + ": corrupt or unsupported pickle: " + msg); }

  void Need(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) Fail("unexpected end of data.pkl");
  }
  uint8_t U8() {
    Need(1);
    return *p_++;
  }
  uint64_t LE(int n) {
    Need(n);
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | p_[i];
    p_ += n;
    return v;
  }
  std::string Bytes(uint64_t n) {
    if (n > static_cast<uint64_t>(end_ - p_)) Fail("string length past the end of data.pkl");
    std::string s(reinterpret_cast<const char*>(p_), static_cast<size_t>(n));
    p_ += n;
    return s;
  }
  std::string Line() {
    const uint8_t* nl = static_cast<const uint8_t*>(std::memchr(p_, '\n', end_ - p_));
    if (!nl) Fail("unterminated text line");
    std::string s(reinterpret_cast<const char*>(p_), nl - p_);
    p_ = nl + 1;
    return s;
  }

  NodePtr Pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) Fail("stack underflow");
    NodePtr n = stack_.back();
    stack_.pop_back();
    return n;
  }
  NodePtr& Top() {
    if (stack_.empty()) Fail("stack underflow");
    return stack_.back();
  }
  std::vector<NodePtr> PopMark() {
    if (marks_.empty()) Fail("missing MARK");
    size_t m = marks_.back();
    marks_.pop_back();
    if (m > stack_.size()) Fail("bad MARK");
    std::vector<NodePtr> items(stack_.begin() + m, stack_.end());
    stack_.resize(m);
    return items;
  }
  void Push(NodePtr n) {
    if (stack_.size() > (1u << 24)) Fail("stack too deep");
    stack_.push_back(std::move(n));
  }
  NodePtr Int(int64_t v) {
    auto n = Make(Node::Kind::Int);
    n->i = v;
    return n;
  }
  NodePtr Str(std::string s, Node::Kind k = Node::Kind::Str) {
    auto n = Make(k);
    n->s = std::move(s);
    return n;
  }
  NodePtr Tuple(std::vector<NodePtr> items) {
    auto n = Make(Node::Kind::Tuple);
    n->items = std::move(items);
    return n;
  }
  void MemoPut(uint64_t idx) { memo_[idx] = Top(); }
  NodePtr MemoGet(uint64_t idx) {
    auto it = memo_.find(idx);
    if (it == memo_.end()) Fail("memo key " + std::to_string(idx) + " not found");
    return it->second;
  }

  void SetItems(NodePtr& target, const std::vector<NodePtr>& kv) {
    if (kv.size() % 2) Fail("odd number of items for SETITEMS");
    if (target->kind != Node::Kind::Dict) return;  // a custom mapping: contents are not needed
    for (size_t i = 0; i + 1 < kv.size(); i += 2) {
      bool replaced = false;
      if (kv[i]->kind == Node::Kind::Str)
        for (auto& e : target->dict)
          if (e.first->kind == Node::Kind::Str && e.first->s == kv[i]->s) {
            e.second = kv[i + 1];
            replaced = true;
            break;
          }
      if (!replaced) target->dict.emplace_back(kv[i], kv[i + 1]);
    }
  }

  NodePtr PersistentLoad(const NodePtr& pid) {
    // ('storage', <storage class>, key, location, numel)
    if (pid->kind != Node::Kind::Tuple || pid->items.size() < 5 || !pid->items[0]->is_str() ||
        pid->items[0]->s != "storage")
      Fail("unsupported persistent id");
    const NodePtr& cls = pid->items[1];
    const NodePtr& key = pid->items[2];
    const NodePtr& numel = pid->items[4];
    if (cls->kind != Node::Kind::Global || !key->is_str() || numel->kind != Node::Kind::Int || numel->i < 0)
      Fail("malformed storage reference");
    auto cached = storages_.find(key->s);
    if (cached != storages_.end()) return cached->second;
    bool ok = false;
    at::ScalarType dt = StorageDtype(cls->s, &ok);
    if (!ok) throw XtError(kIo, path_ + ": unsupported storage type " + cls->s);
    std::string rec = "data/" + key->s;
    if (!reader_->hasRecord(rec)) Fail("missing record " + rec);
    uint64_t offset = reader_->getRecordOffset(rec);
    uint64_t bytes = static_cast<uint64_t>(numel->i) * c10::elementSize(dt);
    if (offset > file_->size() || bytes > file_->size() - offset)
      throw XtError(kIo, path_ + ": storage " + rec + " runs past the end of the file (truncated?)");
    auto n = Make(Node::Kind::Storage);
    n->tensor = TensorFromFile(file_, offset, dt, {numel->i});
    storages_[key->s] = n;
    return n;
  }

  static std::vector<int64_t> IntTuple(const NodePtr& t, bool* ok) {
    std::vector<int64_t> out;
    *ok = t && (t->kind == Node::Kind::Tuple || t->kind == Node::Kind::List);
    if (!*ok) return out;
    for (const auto& x : t->items) {
      if (x->kind != Node::Kind::Int) {
        *ok = false;
        return out;
      }
      out.push_back(x->i);
    }
    return out;
  }

  NodePtr RebuildTensor(const std::vector<NodePtr>& args) {
    if (args.size() < 4 || args[0]->kind != Node::Kind::Storage || args[1]->kind != Node::Kind::Int)
      Fail("malformed _rebuild_tensor arguments");
    bool ok1 = false, ok2 = false;
    auto size = IntTuple(args[2], &ok1);
    auto stride = IntTuple(args[3], &ok2);
    if (!ok1 || !ok2 || size.size() != stride.size()) Fail("malformed tensor size/stride");
    auto n = Make(Node::Kind::Tensor);
    try {
      n->tensor = args[0]->tensor.as_strided(size, stride, args[1]->i);
    } catch (const c10::Error& e) {
      throw XtError(kIo, path_ + ": tensor does not fit its storage: " + std::string(e.what_without_backtrace()));
    }
    return n;
  }

  NodePtr Call(const NodePtr& callable, const NodePtr& args) {
    if (args->kind != Node::Kind::Tuple) Fail("REDUCE arguments are not a tuple");
    const auto& a = args->items;
    if (callable->kind == Node::Kind::Global) {
      const std::string& g = callable->s;
      if (g == "torch._utils._rebuild_tensor_v2" || g == "torch._utils._rebuild_tensor") return RebuildTensor(a);
      if (g == "torch._utils._rebuild_parameter" || g == "torch._utils._rebuild_parameter_with_state") {
        if (a.empty() || a[0]->kind != Node::Kind::Tensor) Fail("malformed _rebuild_parameter arguments");
        return a[0];
      }
      if (g == "collections.OrderedDict" || g == "builtins.dict" || g == "__builtin__.dict") {
        auto d = Make(Node::Kind::Dict);
        if (!a.empty() && (a[0]->kind == Node::Kind::List || a[0]->kind == Node::Kind::Tuple))
          for (const auto& pair : a[0]->items)
            if (pair->kind == Node::Kind::Tuple && pair->items.size() == 2)
              d->dict.emplace_back(pair->items[0], pair->items[1]);
        return d;
      }
      if (g == "builtins.set" || g == "__builtin__.set" || g == "builtins.frozenset") {
        auto s = Make(Node::Kind::Set);
        if (!a.empty() && (a[0]->kind == Node::Kind::List || a[0]->kind == Node::Kind::Tuple)) s->items = a[0]->items;
        return s;
      }
      if (g == "_codecs.encode" && !a.empty() && a[0]->is_str()) {
        // protocol-2 bytes: _codecs.encode(<latin-1 text as str>, 'latin1')
        std::string out;
        const std::string& u = a[0]->s;
        for (size_t i = 0; i < u.size(); ++i) {
          unsigned char c = u[i];
          if (c < 0x80) {
            out += static_cast<char>(c);
          } else if ((c & 0xE0) == 0xC0 && i + 1 < u.size()) {
            out += static_cast<char>(((c & 0x1F) << 6) | (u[i + 1] & 0x3F));
            ++i;
          } else {
            out += '?';
          }
        }
        return Str(out, Node::Kind::Bytes);
      }
    }
    auto o = Make(Node::Kind::Object);  // any other class or function: kept opaque
    o->items = {callable, args, nullptr};
    return o;
  }

  void Step(uint8_t op) {
    switch (op) {
      case 0x80: U8(); break;        // PROTO
      case 0x95: LE(8); break;       // FRAME
      case '(': marks_.push_back(stack_.size()); break;
      case '}': Push(Make(Node::Kind::Dict)); break;
      case ']': Push(Make(Node::Kind::List)); break;
      case ')': Push(Tuple({})); break;
      case 0x8f: Push(Make(Node::Kind::Set)); break;  // EMPTY_SET
      case 't': Push(Tuple(PopMark())); break;
      case 0x85: {
        auto a = Pop();
        Push(Tuple({a}));
        break;
      }
      case 0x86: {
        auto b = Pop();
        auto a = Pop();
        Push(Tuple({a, b}));
        break;
      }
      case 0x87: {
        auto c = Pop();
        auto b = Pop();
        auto a = Pop();
        Push(Tuple({a, b, c}));
        break;
      }
      case 'l': {
        auto n = Make(Node::Kind::List);
        n->items = PopMark();
        Push(n);
        break;
      }
      case 'd': {
        auto n = Make(Node::Kind::Dict);
        auto kv = PopMark();
        SetItems(n, kv);
        Push(n);
        break;
      }
      case 0x91: {  // FROZENSET
        auto n = Make(Node::Kind::Set);
        n->items = PopMark();
        Push(n);
        break;
      }
      case 'q': MemoPut(U8()); break;                        // BINPUT
      case 'r': MemoPut(LE(4)); break;                       // LONG_BINPUT
      case 'p': MemoPut(std::stoull(Line())); break;         // PUT
      case 0x94: MemoPut(memo_.size()); break;               // MEMOIZE
      case 'h': Push(MemoGet(U8())); break;                  // BINGET
      case 'j': Push(MemoGet(LE(4))); break;                 // LONG_BINGET
      case 'g': Push(MemoGet(std::stoull(Line()))); break;   // GET
      case 'J': Push(Int(static_cast<int32_t>(LE(4)))); break;  // BININT
      case 'K': Push(Int(U8())); break;                      // BININT1
      case 'M': Push(Int(static_cast<int64_t>(LE(2)))); break;  // BININT2
      case 0x8a:
      case 0x8b: {  // LONG1 / LONG4
        uint64_t n = op == 0x8a ? U8() : LE(4);
        if (n > 8) {
          // Too wide for int64: keep an approximate float (never a tensor dimension).
          std::string bytes = Bytes(n);
          double v = 0;
          for (size_t i = bytes.size(); i-- > 0;) v = v * 256 + static_cast<uint8_t>(bytes[i]);
          auto f = Make(Node::Kind::Float);
          f->f = v;
          Push(f);
          break;
        }
        uint64_t v = n ? LE(static_cast<int>(n)) : 0;
        if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~0ull << (8 * n);  // sign-extend
        Push(Int(static_cast<int64_t>(v)));
        break;
      }
      case 'I': {
        std::string l = Line();
        if (l == "01" || l == "00") {
          auto b = Make(Node::Kind::Bool);
          b->b = l == "01";
          Push(b);
        } else {
          try {
            Push(Int(std::stoll(l)));
          } catch (...) {
            Fail("bad INT");
          }
        }
        break;
      }
      case 'L': {
        std::string l = Line();
        if (!l.empty() && l.back() == 'L') l.pop_back();
        try {
          Push(Int(std::stoll(l)));
        } catch (...) {
          Fail("bad LONG");
        }
        break;
      }
      case 'G': {  // BINFLOAT (big-endian)
        Need(8);
        uint64_t v = 0;
        for (int i = 0; i < 8; ++i) v = (v << 8) | p_[i];
        p_ += 8;
        double d;
        std::memcpy(&d, &v, 8);
        auto f = Make(Node::Kind::Float);
        f->f = d;
        Push(f);
        break;
      }
      case 'F': {
        auto f = Make(Node::Kind::Float);
        try {
          f->f = std::stod(Line());
        } catch (...) {
          Fail("bad FLOAT");
        }
        Push(f);
        break;
      }
      case 'X': Push(Str(Bytes(LE(4)))); break;                     // BINUNICODE
      case 0x8c: Push(Str(Bytes(U8()))); break;                     // SHORT_BINUNICODE
      case 0x8d: Push(Str(Bytes(LE(8)))); break;                    // BINUNICODE8
      case 'T': Push(Str(Bytes(LE(4)))); break;                     // BINSTRING
      case 'U': Push(Str(Bytes(U8()))); break;                      // SHORT_BINSTRING
      case 'B': Push(Str(Bytes(LE(4)), Node::Kind::Bytes)); break;  // BINBYTES
      case 'C': Push(Str(Bytes(U8()), Node::Kind::Bytes)); break;   // SHORT_BINBYTES
      case 0x8e: Push(Str(Bytes(LE(8)), Node::Kind::Bytes)); break; // BINBYTES8
      case 'V': Push(Str(Line())); break;                           // UNICODE (raw-unicode-escape; ASCII kept)
      case 'S': {                                                   // STRING: a quoted repr
        std::string l = Line();
        if (l.size() >= 2 && (l[0] == '\'' || l[0] == '"') && l.back() == l[0]) l = l.substr(1, l.size() - 2);
        Push(Str(l));
        break;
      }
      case 'N': Push(Make(Node::Kind::None)); break;
      case 0x88:
      case 0x89: {
        auto b = Make(Node::Kind::Bool);
        b->b = op == 0x88;
        Push(b);
        break;
      }
      case 'a': {  // APPEND
        auto v = Pop();
        auto& list = Top();
        if (list->kind == Node::Kind::List) list->items.push_back(v);
        break;
      }
      case 'e': {  // APPENDS
        auto items = PopMark();
        auto& list = Top();
        if (list->kind == Node::Kind::List) list->items.insert(list->items.end(), items.begin(), items.end());
        break;
      }
      case 0x90: {  // ADDITEMS
        auto items = PopMark();
        auto& set = Top();
        if (set->kind == Node::Kind::Set) set->items.insert(set->items.end(), items.begin(), items.end());
        break;
      }
      case 's': {  // SETITEM
        auto v = Pop();
        auto k = Pop();
        SetItems(Top(), {k, v});
        break;
      }
      case 'u': {  // SETITEMS
        auto kv = PopMark();
        SetItems(Top(), kv);
        break;
      }
      case 'c': {  // GLOBAL
        std::string module = Line();
        std::string name = Line();
        Push(Str(module + "." + name, Node::Kind::Global));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        auto name = Pop();
        auto module = Pop();
        if (!name->is_str() || !module->is_str()) Fail("STACK_GLOBAL needs two strings");
        Push(Str(module->s + "." + name->s, Node::Kind::Global));
        break;
      }
      case 'R': {  // REDUCE
        auto args = Pop();
        auto callable = Pop();
        Push(Call(callable, args));
        break;
      }
      case 0x81: {  // NEWOBJ
        auto args = Pop();
        auto cls = Pop();
        auto o = Make(Node::Kind::Object);
        o->items = {cls, args, nullptr};
        Push(o);
        break;
      }
      case 0x92: {  // NEWOBJ_EX
        Pop();  // kwargs
        auto args = Pop();
        auto cls = Pop();
        auto o = Make(Node::Kind::Object);
        o->items = {cls, args, nullptr};
        Push(o);
        break;
      }
      case 'b': {  // BUILD
        auto state = Pop();
        auto& obj = Top();
        if (obj->kind == Node::Kind::Object) obj->items[2] = state;
        break;  // OrderedDict.__dict__ (state_dict._metadata) and the like are not needed
      }
      case 'Q': Push(PersistentLoad(Pop())); break;  // BINPERSID
      case '0': Pop(); break;                        // POP
      case '1': PopMark(); break;                    // POP_MARK
      case '2': Push(Top()); break;                  // DUP
      default: {
        char buf[8];
        std::snprintf(buf, sizeof buf, "0x%02x", op);
        Fail(std::string("unsupported opcode ") + buf);
      }
    }
  }

  std::string path_;
  const uint8_t* p_;
  const uint8_t* end_;
  caffe2::serialize::PyTorchStreamReader* reader_;
  std::shared_ptr<MappedFile> file_;
  std::vector<NodePtr> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, NodePtr> memo_;
  std::map<std::string, NodePtr> storages_;
};

}  // namespace

NodePtr LoadTorchSave(const std::string& path) {
  auto file = MappedFile::Open(path);
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader;
  try {
    reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
  } catch (const c10::Error& e) {
    throw XtError(kIo, path + ": not a readable torch.save zip archive: " +
                           std::string(e.what_without_backtrace()).substr(0, 200));
  }
  if (!reader->hasRecord("data.pkl")) throw XtError(kIo, path + ": zip archive has no data.pkl (not a torch.save file)");
  at::DataPtr pkl;
  size_t size = 0;
  try {
    std::tie(pkl, size) = reader->getRecord("data.pkl");
  } catch (const c10::Error& e) {
    throw XtError(kIo, path + ": cannot read data.pkl: " + std::string(e.what_without_backtrace()).substr(0, 200));
  }
  try {
    Unpickler u(path, static_cast<const uint8_t*>(pkl.get()), size, reader.get(), file);
    return u.Run();
  } catch (const XtError&) {
    throw;
  } catch (const c10::Error& e) {
    throw XtError(kIo, path + ": " + std::string(e.what_without_backtrace()).substr(0, 300));
  } catch (const std::exception& e) {
    throw XtError(kIo, path + ": corrupt pickle: " + e.what());
  }
}

}  // namespace pkl
}  // namespace io
}  // namespace xt
