#pragma once
// A minimal JSON object writer for the hot path: server frames are built by
// appending to one string, instead of building and dumping a DOM (which cost
// most of the backend's CPU). Keys are trusted literals; values are escaped,
// and invalid UTF-8 in them is replaced by U+FFFD so every frame is valid JSON.

#include <cstdint>
#include <string>
#include <string_view>

namespace chat_backend {

// Appends s as a JSON string literal (with quotes).
void append_json_string(std::string& out, std::string_view s);

class json_object {
 public:
  explicit json_object(std::size_t reserve = 128) {
    out_.reserve(reserve);
    out_.push_back('{');
  }
  json_object& str(std::string_view key, std::string_view value) {
    append_json_string(put_key(key), value);
    return *this;
  }
  // A string, or null when value is empty.
  json_object& str_or_null(std::string_view key, std::string_view value) {
    if (value.empty())
      put_key(key).append("null");
    else
      append_json_string(put_key(key), value);
    return *this;
  }
  json_object& num(std::string_view key, std::int64_t value) {
    put_key(key).append(std::to_string(value));
    return *this;
  }
  json_object& boolean(std::string_view key, bool value) {
    put_key(key).append(value ? "true" : "false");
    return *this;
  }
  // value must already be JSON text.
  json_object& raw(std::string_view key, std::string_view json) {
    put_key(key).append(json);
    return *this;
  }
  // Closes the object and hands over the text; call once, last.
  std::string done() {
    out_.push_back('}');
    return std::move(out_);
  }

 private:
  std::string& put_key(std::string_view key) {
    if (out_.size() > 1) out_.push_back(',');
    out_.push_back('"');
    out_.append(key);
    out_.append("\":");
    return out_;
  }
  std::string out_;
};

}  // namespace chat_backend
