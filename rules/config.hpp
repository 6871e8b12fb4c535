#pragma once
// The rules configuration: every name, JSON path and policy the engine uses.
// Built-in defaults follow shared/protocol.md; a YAML file overrides any of
// them. Immutable once loaded and shared by every thread (shared_ptr<const>).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace wsproxy::rules {

using json_path = std::vector<std::string>;  // "data.chat_id" -> {"data", "chat_id"}

enum class mode : std::uint8_t { fix, observe };

// Which of a session's sockets a REST message joins (rest.sockets).
enum class rest_sockets : std::uint8_t {
    all,          // every socket (browser tab) of the session
    most_recent,  // the session's socket with the latest client frame
};

// Which remembered chats a reconnected socket joins again (rejoin.policy).
enum class rejoin_policy : std::uint8_t {
    most_recent,  // the session's most recently joined chat
    all,          // every remembered chat (most recent first; single_chat: the first only)
};

// REST correlation: a user message sent over REST joins its session's sockets first.
// The engine only matches and decides (rules/rest.hpp, engine::on_join_request); the
// body holds the request and finds the sockets.
struct rest_config {
    // "<METHOD> <path>", the path with one {chat_id} segment; the query is ignored.
    std::string route{"POST /api/v1/chats/{chat_id}/messages"};
    std::string session_cookie{"mip_session"};  // the cookie naming the browser session
    std::string session_header{};  // non-empty: this header (lower-case) instead of the cookie
    std::int64_t wait_ms{500};     // how long a REST request is held for the joins' answers
    rest_sockets sockets{rest_sockets::all};

    friend bool operator==(const rest_config&, const rest_config&) = default;
};

// Rejoin after a reconnect: the body remembers per session the chats its sockets joined;
// a new socket of that session that joins nothing within grace_ms is joined again.
struct rejoin_config {
    bool enabled{true};
    rejoin_policy policy{rejoin_policy::most_recent};
    std::int64_t ttl_s{600};      // the body forgets a chat this long after its last join
    std::size_t max_chats{16};    // chats remembered per session (and used by the engine)

    friend bool operator==(const rejoin_config&, const rejoin_config&) = default;
};

// Answer tracking (the answer SLIs): each user message the connection relays is paired with
// the first answer frame for its chat delivered to the client, and with the frame that
// completes the answer; without one within timeout_ms it is unanswered.
struct answers_config {
    // Server frames that carry an answer: the first one for the chat delivered to the client
    // ends the first-frame latency.
    std::vector<std::string> first_frame_types{"response_start", "response_chunk",
                                               "response_complete"};
    std::string complete_type{"response_complete"};  // the frame that ends an answer
    std::vector<std::string> error_types{"error"};   // one for the chat: the answer failed
    std::int64_t timeout_ms{30'000};                 // no complete by then: unanswered
    std::size_t max_pending{64};  // user messages awaiting an answer per connection; 0: off

    friend bool operator==(const answers_config&, const answers_config&) = default;
};

struct config {
    mode run_mode{mode::fix};

    // Where fields live in a frame; the first path that holds a string wins.
    json_path type_path{"type"};
    std::vector<json_path> chat_id_paths{{"data", "chat_id"}, {"chat_id"}};
    std::vector<json_path> client_id_paths{{"data", "client_id"}, {"client_id"}};
    json_path success_path{"data", "success"};  // in the join answer
    json_path error_path{"data", "error"};      // in a failed join answer

    // Message names.
    std::string connection_established{"connection_established"};
    std::string connection_ready{"connection_ready"};
    std::string join_chat{"join_chat"};
    std::string chat_joined{"chat_joined"};
    std::string leave_chat{"leave_chat"};
    std::string chat_left{"chat_left"};
    std::vector<std::string> user_message_types{"send_message"};
    std::vector<std::string> broadcast_types{"response_start", "response_chunk",
                                             "response_complete", "typing_start",
                                             "typing_stop"};
    // Types that get their own label in wsproxy_frames_total; anything else is "other".
    std::vector<std::string> message_types{
        "connection_established", "initialization_progress", "connection_ready",
        "join_chat", "chat_joined", "leave_chat", "chat_left", "send_message",
        "typing_start", "typing_stop", "response_start", "response_chunk",
        "response_complete", "ping", "pong", "error"};

    // The frame we inject to join: {"<type_path>": join_chat, <join_chat_path>: chat_id}.
    json_path join_chat_id_path{"data", "chat_id"};

    // Injection policy.
    std::string query_chat_key{"chat_id"};  // ?chat_id=X on the upgrade URL
    // A path pattern with one {chat_id} segment, e.g. "/rt/rooms/{chat_id}"; when the
    // upgrade URL's path matches, that chat is treated like ?chat_id=. Empty: off.
    std::string path_chat_pattern{};
    std::int64_t grace_ms{250};             // wait this long after connection_ready
    bool hide_injected_replies{true};       // hide chat_joined/chat_left answers to our frames
    bool repair_client_id{false};           // copy data.client_id to the top level
    bool isolation_enforce{false};          // drop server broadcasts for chats never joined
    bool single_chat{false};                // joining chat B first leaves the chat joined before

    // Inspection bounds: beyond them a frame is relayed uninspected and counted.
    std::size_t max_depth{64};
    std::size_t max_inspect_bytes{1 << 20};

    rest_config rest;
    rejoin_config rejoin;
    answers_config answers;

    friend bool operator==(const config&, const config&) = default;
};

// Hard bounds that load_config_text() enforces (classify() relies on them too).
inline constexpr std::size_t max_depth_limit = 1024;      // config::max_depth
inline constexpr std::size_t max_path_components = 16;   // components in one json_path
inline constexpr std::size_t max_paths_per_field = 8;     // chat_id_paths, client_id_paths
inline constexpr std::size_t max_message_types = 64;      // label cardinality of frames_total
inline constexpr std::size_t max_rejoin_chats = 64;       // rejoin.max_chats
inline constexpr std::int64_t max_rest_wait_ms = 60'000;  // rest.wait_ms
inline constexpr std::int64_t max_rejoin_ttl_s = 30 * 86'400;  // rejoin.ttl_s
inline constexpr std::int64_t max_answer_timeout_ms = 86'400'000;  // answers.timeout_ms
inline constexpr std::size_t max_pending_answers = 4096;           // answers.max_pending

// "data.chat_id" -> {"data", "chat_id"}, and back.
json_path split_path(const std::string& dotted);
std::string join_path(const json_path& path);

// A rules file that cannot be used. what() names the file, the line and what was expected.
class config_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Parses YAML text on top of the defaults. `source_name` is used in error messages.
config load_config_text(const std::string& yaml_text, const std::string& source_name);
// Reads and parses a file; throws config_error when unreadable or invalid.
config load_config_file(const std::string& path);
// The built-in defaults as a commented YAML file (embedded rules/default_rules.yaml).
const std::string& default_rules_yaml();

}  // namespace wsproxy::rules
