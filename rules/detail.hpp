#pragma once
// Internals shared by engine.cpp and the rule files; not part of the API.
#include <array>
#include <string>
#include <vector>
#include <string_view>

#include "rules/engine.hpp"

namespace wsproxy::rules::detail {

// The configured paths compiled for the scanner: which path has which role, and per level
// the distinct key names with the paths that share each. Built once per engine (the
// public classify() builds one per call). Holds pointers into the config it was built from.
struct path_index {
    static constexpr int max_tracked = 32;  // paths followed at once; more are ignored
    enum role : std::uint8_t { r_type, r_success, r_error, r_chat, r_client };
    struct group {
        std::string_view name;
        std::uint32_t mask;
    };

    explicit path_index(const config& cfg);

    std::array<const json_path*, max_tracked> path{};
    std::array<std::uint8_t, max_tracked> role{};
    std::array<std::uint8_t, max_tracked> index{};  // index within chat/client lists
    int n = 0;
    std::uint32_t all = 0;
    // len_eq[d]: paths with exactly d components; len_gt[d]: more than d.
    std::array<std::uint32_t, max_path_components + 2> len_eq{};
    std::array<std::uint32_t, max_path_components + 2> len_gt{};
    std::vector<group> groups;  // by level: level_begin[l] .. level_begin[l + 1]
    std::array<std::uint16_t, max_path_components + 1> level_begin{};
};

void classify(const path_index& paths, const config& cfg, std::string_view payload,
              bool is_text, frame_info& out);

// Everything one rule sees while the chain handles one event. Rules append actions to
// `out`, may change the verdict for the current frame, and set `done` to end the chain.
struct frame_ctx {
    const config& cfg;
    connection_state& st;
    const frame_info& fi;
    direction from;
    millis now;
    actions& out;
    std::string_view payload;
    action::kind verdict{action::kind::forward};
    std::string replacement{};  // the payload of a replace verdict
    inject_reason verdict_why{inject_reason::none};  // a hide verdict: why, and its cause
    std::string verdict_cause{};
    bool done{false};

    bool fix() const { return cfg.run_mode == mode::fix; }
    bool from_client() const { return from == direction::client_to_server; }
    bool is_type(const std::string& name) const { return fi.type == name; }
};

using rule_fn = void (*)(frame_ctx&);

// The chain, in order (engine.cpp runs it for every frame).
void rule_classify_count(frame_ctx& c);
void rule_client_id(frame_ctx& c);
void rule_join_client(frame_ctx& c);
void rule_leave(frame_ctx& c);
void rule_join_inject(frame_ctx& c);
void rule_user_message(frame_ctx& c);
void rule_join_answer(frame_ctx& c);
void rule_isolation(frame_ctx& c);
void rule_answers(frame_ctx& c);

// Answer tracking outside the chain (rule_answers.cpp): a REST user message of this
// connection's session for `chat_id`; the timeout (on_timer); the connection's end.
void answers_on_rest_message(frame_ctx& c, std::string_view chat_id);
void answers_on_timer(frame_ctx& c);
void answers_on_close(frame_ctx& c);

// on_timer: the grace period after connection_ready ran out (rule_join_inject.cpp).
void join_inject_on_timer(frame_ctx& c);
// on_join_request: an outside request (REST) to join `chat_id`, a usable id (rule_join_inject.cpp).
void join_on_request(frame_ctx& c, std::string_view chat_id, std::string_view cause);
// single_chat: before this connection joins `joining`, leave every other chat it is in.
void single_chat_before_join(frame_ctx& c, std::string_view joining);
// Sends join_chat for `chat_id` upstream (fix mode) or logs that it would (observe mode).
// `cause`: what caused it (see inject_reason); the frame's type is taken from the frame.
void inject_join(frame_ctx& c, std::string_view chat_id, inject_reason why,
                 std::string_view cause = {});

// Emitters (emit.cpp).
void emit_count(actions& out, stat s, std::uint32_t label = 0);
void emit_log(actions& out, log_level level, const char* event, nlohmann::json fields);
void emit_inject(actions& out, direction to, std::string payload, inject_reason why,
                 std::string_view cause);
void emit_chat(actions& out, action::kind what, std::string_view chat_id);

// Per-connection bounds: a client cannot grow our state without limit. A chat id longer
// than this, or a new chat beyond this many tracked ones, is relayed but not tracked
// (and so never injected).
inline constexpr std::size_t max_chat_id_bytes = 256;
inline constexpr std::size_t max_tracked_chats = 64;
bool trackable(const connection_state& st, std::string_view chat_id);

// State helpers (emit.cpp).
chat_entry* find_chat(connection_state& st, std::string_view chat_id);
bool is_joined(const chat_entry* e);  // requested or acknowledged
void remove_chat(connection_state& st, std::string_view chat_id);
void push_pending(connection_state& st, std::string_view chat_id, bool join, bool by_us,
                  inject_reason why = inject_reason::none, std::string_view cause = {});
bool contains(const std::vector<std::string>& list, std::string_view s);
void erase_value(std::vector<std::string>& list, std::string_view s);

// {"<type_path>": type, "<id_path>": chat_id}, keys in that order, properly escaped.
std::string build_frame(const config& cfg, const std::string& type, std::string_view chat_id);
// A chat id we may put into a frame we send: 1..max_chat_id_bytes of UTF-8.
bool usable_chat_id(std::string_view chat_id);
// Whether `s` is well-formed UTF-8 (classify.cpp).
bool valid_utf8(std::string_view s);
// A JSON string literal (with quotes) for `s`.
std::string json_quote(std::string_view s);

}  // namespace wsproxy::rules::detail
