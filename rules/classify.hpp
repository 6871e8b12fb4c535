#pragma once
// Frame classification: one bounded pass over a text frame that validates the
// JSON and picks out the fields the rules need (type, chat_id, client_id, the
// join answer's success), without building a document or allocating in the
// common case. Non-JSON, non-object and binary frames are reported as such.
#include <cstdint>
#include <string>
#include <string_view>

#include "config.hpp"

namespace wsproxy::rules {

enum class frame_kind : std::uint8_t {
    object,     // a JSON object: fields below are filled where found
    not_object, // valid JSON, but not an object
    invalid,    // not JSON (or not UTF-8 text)
    binary,     // a binary frame: never inspected
    too_deep,   // nesting beyond config::max_depth: uninspected
    too_large,  // larger than config::max_inspect_bytes: uninspected
};

struct frame_info {
    frame_kind kind{frame_kind::invalid};
    int type_slot{-1};            // index in config::message_types, or -1 (other / none)
    std::string_view type;        // the type string; empty when absent
    std::string_view chat_id;     // first configured chat_id path holding a string
    std::string_view client_id;   // first configured client_id path holding a string
    int client_id_path{-1};       // which client_id path matched (index), -1 none
    std::uint32_t client_id_found{0};  // bit i: client_id_paths[i] holds a string
    int success{-1};              // success_path: 1 true, 0 false, -1 absent (or not a bool)
    std::string_view error;       // error_path string, if present

    // Views point into the payload, or into `scratch_` when a string had escapes.
    std::string scratch_;
};

// Classifies `payload`. Views in `out` stay valid while payload and `out` live.
void classify(const config& cfg, std::string_view payload, bool is_text, frame_info& out);

}  // namespace wsproxy::rules
