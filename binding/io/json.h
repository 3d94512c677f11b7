// A small, strict JSON value type with a parser and a writer (no external dependency: the
// system LibTorch ships no JSON library). Used for safetensors headers, Hugging Face
// config.json / model.safetensors.index.json, and our checkpoint metadata.
#pragma once
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace xt {
namespace json {

// Thrown by Parse with the byte offset of the problem; callers turn it into a coded error.
class ParseError : public std::runtime_error {
 public:
  ParseError(const std::string& msg, size_t offset)
      : std::runtime_error(msg + " at byte " + std::to_string(offset)), offset_(offset) {}
  size_t offset() const { return offset_; }

 private:
  size_t offset_;
};

class Value {
 public:
  enum class Type { Null, Bool, Number, String, Array, Object };
  using Array = std::vector<Value>;
  using Object = std::vector<std::pair<std::string, Value>>;  // insertion order kept

  Value() = default;
  static Value Null() { return Value(); }
  static Value Bool(bool b);
  static Value Int(int64_t i);
  static Value Number(double d);
  static Value Str(std::string s);
  static Value MakeArray(Array a = {});
  static Value MakeObject(Object o = {});

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::Null; }
  bool is_bool() const { return type_ == Type::Bool; }
  bool is_number() const { return type_ == Type::Number; }
  // A number written without fraction or exponent that fits in int64.
  bool is_int() const { return type_ == Type::Number && is_int_; }
  bool is_string() const { return type_ == Type::String; }
  bool is_array() const { return type_ == Type::Array; }
  bool is_object() const { return type_ == Type::Object; }

  bool as_bool() const { return bool_; }
  double as_double() const { return num_; }
  int64_t as_int() const { return int_; }
  const std::string& as_string() const { return str_; }
  const Array& as_array() const { return *arr_; }
  Array& as_array() { return *arr_; }
  const Object& as_object() const { return *obj_; }
  Object& as_object() { return *obj_; }

  // Object member lookup (first match), nullptr when absent or when this is not an object.
  const Value* get(const std::string& key) const;
  // Object: append or replace a member.
  void set(const std::string& key, Value v);
  // Array: append.
  void push(Value v);

  static Value Parse(const std::string& text, int max_depth = 64);
  std::string Dump() const;

 private:
  void DumpTo(std::string& out) const;
  Type type_ = Type::Null;
  bool bool_ = false;
  bool is_int_ = false;
  double num_ = 0;
  int64_t int_ = 0;
  std::string str_;
  std::shared_ptr<Array> arr_;
  std::shared_ptr<Object> obj_;
};

// JSON string literal (with quotes) for s.
std::string Quote(const std::string& s);

}  // namespace json
}  // namespace xt
