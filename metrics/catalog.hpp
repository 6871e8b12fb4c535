#pragma once
// The single catalog of every metric wsproxy exports: name, help, type and the fixed
// label sets. Everything here is constexpr data, shared read-only by every thread.
// metrics/README.md is the operator-facing copy of this table; keep the two in step.
//
// Label values are positional: a series is addressed by (family, label index), where the
// index is row-major over the family's label dimensions (the last dimension varies fastest).
// For wsproxy_frames_total that is direction * type_count + type_slot, which is exactly
// rules::frame_label().
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <type_traits>

#include "rules/stats.hpp"

namespace wsproxy::metrics {

enum class metric_type : std::uint8_t { counter, gauge, histogram };

// Where a label dimension's values come from.
enum class label_source : std::uint8_t {
    fixed,          // the `values` below
    message_types,  // rules::config::message_types, then frame_type_extra
    version,        // the version string given to the registry
};

struct label_dim {
    std::string_view name;
    std::span<const std::string_view> values;  // empty unless source == fixed
    label_source source{label_source::fixed};
};

// Every family, in exposition order.
enum class family : std::uint8_t {
    // Counted by the rules engine (rules::stat).
    frames,
    join_chat,
    join_missing,
    chat_joined,
    client_id,
    isolation_violations,
    client_id_repaired,
    frames_uninspected,
    isolation_dropped,
    leave_injected,
    answers,
    answers_dropped,
    // Observed by the proxy body from the engine's observe actions (rules::latency).
    answer_first_frame_seconds,
    answer_complete_seconds,
    // Counted by the proxy body.
    connections_active,
    connections_total,
    user_messages,
    broadcasts,  // deprecated: user_messages under its old name, for one release
    upstream_errors,
    handshake_errors,
    connections_closed,
    slow_peers,
    http_requests,
    rejected,
    bytes,
    tap_dropped,
    tap_subscribers,
    tap_history_events,
    tap_history_capacity,
    rules_reload,
    rules_last_reload_success,
    rules_last_reload_timestamp,
    rest_join_wait,
    frame_processing_seconds,
    shared_state_up,
    shared_state_operations,
    shared_state_degraded,
    shared_state_join_seconds,
    build_info,
    // The standard process metrics of every Prometheus client, read from /proc at scrape.
    process_cpu_seconds,
    process_resident_memory,
    process_open_fds,
    process_max_fds,
    process_start_time,
    count_  // keep last
};
inline constexpr std::size_t family_count = static_cast<std::size_t>(family::count_);

// Body-level counters the proxy counts itself through shard::count(proxy_stat, label).
// The label meaning is the label set of the family it maps to (proxy_stat_family).
enum class proxy_stat : std::uint8_t {
    user_messages,       // 0 registered, 1 not registered (per user message sent upstream)
    broadcasts = user_messages,  // deprecated name of user_messages
    upstream_errors,     // upstream_error
    handshake_errors,    // handshake_error
    connections_closed,  // close_reason
    http_requests,       // http_code_label(status)
    rejected,            // reject_reason
    bytes,               // direction; n = payload bytes
    tap_dropped,         // 0
    rules_reload,        // 0 success, 1 failure
    rest_join_wait,      // join_wait_result
    shared_state_operations,  // shared_state_label(op, result)
    shared_state_degraded,    // 0
    slow_peers,               // slow_cause
    count_               // keep last
};

// Typed labels for the body-level families. Enumerator order is the order of the label
// values in the catalog below.
enum class direction : std::uint32_t { client_to_server, server_to_client };
enum class upstream_error : std::uint32_t {
    connect,
    tls,
    handshake_rejected,
    timeout,
    closed,
    bad_response  // a response head or framing RFC 9112 forbids: 502, connection dropped
};
enum class handshake_error : std::uint32_t { bad_request, timeout, tls, too_large };
enum class close_reason : std::uint32_t {
    client_close,
    server_close,
    client_gone,
    server_gone,
    idle_timeout,
    too_big,
    slow_consumer,
    drain,
    error
};
// Why a peer was closed as too slow: it took nothing for --write-timeout, or less than
// --min-rate's bytes in its window.
enum class slow_cause : std::uint32_t { stalled, below_min_rate };
enum class reject_reason : std::uint32_t { max_connections, header_too_large, body_too_large };
enum class join_wait_result : std::uint32_t { acknowledged, timeout, failed };
// Redis operations of the shared state (--shared-state), docs/shared-state.md.
enum class shared_state_op : std::uint32_t {
    connect,       // a connection (both links, AUTH, SELECT, SUBSCRIBE) made
    register_,     // a session's first socket on this pod listed, or its last one removed
    heartbeat,     // this pod's sessions listed again (one pipeline)
    remember,      // a chat a session joined, kept for rejoin
    lookup,        // a session's remembered chats read for a socket that opens
    join_request,  // a REST message asked the pods holding its session to join
    join_answer    // this pod answered another pod's join request
};
enum class shared_state_result : std::uint32_t { ok, error, skipped };
constexpr std::uint32_t shared_state_label(shared_state_op op, shared_state_result r) noexcept {
    return static_cast<std::uint32_t>(op) * 3 + static_cast<std::uint32_t>(r);
}

template <class E>
requires std::is_enum_v<E>
constexpr std::uint32_t label(E e) noexcept {
    return static_cast<std::uint32_t>(e);
}

// The status codes wsproxy_http_requests_total names: those RFC 9110 defines (without the
// two it marks unused, 306 and 418), plus 103 Early Hints (RFC 8297). Any other status is
// counted as "other", so that a backend cannot grow the label set.
inline constexpr std::array<std::uint16_t, 46> http_codes{
    100, 101, 103, 200, 201, 202, 203, 204, 205, 206, 300, 301, 302, 303, 304,
    305, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411,
    412, 413, 414, 415, 416, 417, 421, 422, 426, 429, 500, 501, 502, 503, 504, 505};

// The wsproxy_http_requests_total label of a status: its index in http_codes, or
// http_codes.size() ("other") for a status not in it.
constexpr std::uint32_t http_code_label(unsigned status) noexcept {
    for (std::uint32_t i = 0; i < http_codes.size(); ++i)
        if (http_codes[i] == status) return i;
    return static_cast<std::uint32_t>(http_codes.size());
}

// The family whose cells a family renders: itself, except for a deprecated name kept for a
// release, which shows the same series as its successor (counted once, exported twice).
constexpr family cells_of(family f) noexcept {
    return f == family::broadcasts ? family::user_messages : f;
}

// Which proxy_stat a typed label belongs to, so that shard::count(close_reason::drain) works.
// A direction alone counts payload bytes (the frames family is counted by the engine).
template <class E>
struct stat_of;
template <>
struct stat_of<direction> {  // count(direction::client_to_server, payload_bytes)
    static constexpr proxy_stat value = proxy_stat::bytes;
};
template <>
struct stat_of<upstream_error> {
    static constexpr proxy_stat value = proxy_stat::upstream_errors;
};
template <>
struct stat_of<handshake_error> {
    static constexpr proxy_stat value = proxy_stat::handshake_errors;
};
template <>
struct stat_of<close_reason> {
    static constexpr proxy_stat value = proxy_stat::connections_closed;
};
template <>
struct stat_of<slow_cause> {
    static constexpr proxy_stat value = proxy_stat::slow_peers;
};
template <>
struct stat_of<reject_reason> {
    static constexpr proxy_stat value = proxy_stat::rejected;
};
template <>
struct stat_of<join_wait_result> {
    static constexpr proxy_stat value = proxy_stat::rest_join_wait;
};
template <class E>
concept typed_label = requires {
    stat_of<E>::value;
};

// Frame types appended after the configured message types, in this order (rules/stats.hpp).
inline constexpr std::string_view frame_type_extra[] = {"other", "invalid", "binary"};

// Upper bounds of wsproxy_frame_processing_seconds, in nanoseconds; +Inf is implicit.
inline constexpr std::array<std::uint64_t, 10> processing_bounds_ns{
    100, 250, 500, 1'000, 2'500, 5'000, 10'000, 50'000, 100'000, 1'000'000};
// Upper bounds of the answer latencies (wsproxy_answer_*_seconds), in nanoseconds: 10 ms to
// 2 min, for answers that stream for seconds; the engine's clock counts milliseconds.
inline constexpr std::array<std::uint64_t, 14> answer_bounds_ns{
    10'000'000,    25'000'000,    50'000'000,     100'000'000,    250'000'000,
    500'000'000,   1'000'000'000, 2'500'000'000,  5'000'000'000,  10'000'000'000,
    20'000'000'000, 30'000'000'000, 60'000'000'000, 120'000'000'000};

// Upper bounds of wsproxy_shared_state_join_seconds, in nanoseconds: 100 us to 5 s (a
// cross-pod join is two Redis round trips and the backend's chat_joined).
inline constexpr std::array<std::uint64_t, 14> shared_join_bounds_ns{
    100'000,     250'000,     500'000,       1'000'000,     2'500'000,
    5'000'000,   10'000'000,  25'000'000,    50'000'000,    100'000'000,
    250'000'000, 500'000'000, 1'000'000'000, 5'000'000'000};

// The histograms, for shard::observe(); each is one family (histogram_family).
enum class histogram : std::uint8_t {
    frame_processing,    // wsproxy_frame_processing_seconds
    answer_first_frame,  // wsproxy_answer_first_frame_seconds (rules::latency)
    answer_complete,     // wsproxy_answer_complete_seconds (rules::latency)
    shared_state_join,   // wsproxy_shared_state_join_seconds
    count_
};
inline constexpr std::array<family, static_cast<std::size_t>(histogram::count_)> histogram_family{
    family::frame_processing_seconds, family::answer_first_frame_seconds,
    family::answer_complete_seconds, family::shared_state_join_seconds};
// The histogram an engine observe action records into.
constexpr histogram histogram_of(rules::latency l) noexcept {
    return l == rules::latency::answer_first_frame ? histogram::answer_first_frame
                                                   : histogram::answer_complete;
}
// The bucket bounds of a histogram family (empty for any other family).
constexpr std::span<const std::uint64_t> histogram_bounds_ns(family f) noexcept {
    switch (f) {
        case family::frame_processing_seconds:
            return processing_bounds_ns;
        case family::answer_first_frame_seconds:
        case family::answer_complete_seconds:
            return answer_bounds_ns;
        case family::shared_state_join_seconds:
            return shared_join_bounds_ns;
        default:
            return {};
    }
}

namespace values {
inline constexpr std::string_view direction[] = {"client_to_server", "server_to_client"};
inline constexpr std::string_view join_source[] = {"client", "injected"};
inline constexpr std::string_view true_false[] = {"true", "false"};
inline constexpr std::string_view client_id[] = {"captured", "missing"};
inline constexpr std::string_view uninspected[] = {"too_deep", "too_large"};
inline constexpr std::string_view upstream_error[] = {"connect", "tls", "handshake_rejected",
                                                      "timeout", "closed", "bad_response"};
inline constexpr std::string_view handshake_error[] = {"bad_request", "timeout", "tls",
                                                       "too_large"};
inline constexpr std::string_view close_reason[] = {"client_close",  "server_close", "client_gone",
                                                    "server_gone",   "idle_timeout", "too_big",
                                                    "slow_consumer", "drain",        "error"};
inline constexpr std::string_view slow_cause[] = {"stalled", "below_min_rate"};
inline constexpr std::string_view http_code[] = {
    "100", "101", "103", "200", "201", "202", "203", "204", "205", "206", "300", "301",
    "302", "303", "304", "305", "307", "308", "400", "401", "402", "403", "404", "405",
    "406", "407", "408", "409", "410", "411", "412", "413", "414", "415", "416", "417",
    "421", "422", "426", "429", "500", "501", "502", "503", "504", "505", "other"};
inline constexpr std::string_view reject_reason[] = {"max_connections", "header_too_large",
                                                     "body_too_large"};
inline constexpr std::string_view reload_result[] = {"success", "failure"};
inline constexpr std::string_view join_wait_result[] = {"acknowledged", "timeout", "failed"};
inline constexpr std::string_view answer_result[] = {"answered", "unanswered", "error", "closed"};
inline constexpr std::string_view shared_state_op[] = {
    "connect", "register", "heartbeat", "remember", "lookup", "join_request", "join_answer"};
inline constexpr std::string_view shared_state_result[] = {"ok", "error", "skipped"};
}  // namespace values

namespace dims {
inline constexpr label_dim frames[] = {{"direction", values::direction},
                                       {"type", {}, label_source::message_types}};
inline constexpr label_dim join_chat[] = {{"source", values::join_source}};
inline constexpr label_dim chat_joined[] = {{"success", values::true_false}};
inline constexpr label_dim client_id[] = {{"result", values::client_id}};
inline constexpr label_dim uninspected[] = {{"reason", values::uninspected}};
inline constexpr label_dim user_messages[] = {{"registered", values::true_false}};
inline constexpr label_dim upstream_errors[] = {{"reason", values::upstream_error}};
inline constexpr label_dim handshake_errors[] = {{"reason", values::handshake_error}};
inline constexpr label_dim connections_closed[] = {{"reason", values::close_reason}};
inline constexpr label_dim slow_peers[] = {{"cause", values::slow_cause}};
inline constexpr label_dim http_requests[] = {{"code", values::http_code}};
inline constexpr label_dim rejected[] = {{"reason", values::reject_reason}};
inline constexpr label_dim bytes[] = {{"direction", values::direction}};
inline constexpr label_dim rules_reload[] = {{"result", values::reload_result}};
inline constexpr label_dim rest_join_wait[] = {{"result", values::join_wait_result}};
inline constexpr label_dim answers[] = {{"result", values::answer_result}};
inline constexpr label_dim shared_state_operations[] = {{"op", values::shared_state_op},
                                                        {"result", values::shared_state_result}};
inline constexpr label_dim build_info[] = {{"version", {}, label_source::version}};
}  // namespace dims

struct family_info {
    family id;
    std::string_view name;
    metric_type type;
    std::span<const label_dim> labels;
    std::string_view help;
};

inline constexpr std::array<family_info, family_count> catalog{{
    {family::frames, "wsproxy_frames_total", metric_type::counter, dims::frames,
     "WebSocket frames relayed, by direction and message type (other: unlisted type, invalid: "
     "not JSON or no type, binary: binary frames)."},
    {family::join_chat, "wsproxy_join_chat_total", metric_type::counter, dims::join_chat,
     "join_chat frames sent upstream, by whether the client sent them or the proxy injected "
     "them."},
    {family::join_missing,
     "wsproxy_join_missing_total",
     metric_type::counter,
     {},
     "Times a client used a chat it had never joined (the frontend bug the proxy repairs)."},
    {family::chat_joined, "wsproxy_chat_joined_total", metric_type::counter, dims::chat_joined,
     "chat_joined answers from the backend, by their success field."},
    {family::client_id, "wsproxy_client_id_total", metric_type::counter, dims::client_id,
     "Attempts to read the client_id the backend assigned, by whether it was found."},
    {family::isolation_violations,
     "wsproxy_isolation_violations_total",
     metric_type::counter,
     {},
     "Server frames for a chat this connection never joined (cross-chat leaks seen)."},
    {family::client_id_repaired,
     "wsproxy_client_id_repaired_total",
     metric_type::counter,
     {},
     "Frames where the proxy copied data.client_id to the top level."},
    {family::frames_uninspected, "wsproxy_frames_uninspected_total", metric_type::counter,
     dims::uninspected,
     "Frames relayed without inspection because they were nested too deep or too large."},
    {family::isolation_dropped,
     "wsproxy_isolation_dropped_total",
     metric_type::counter,
     {},
     "Server frames dropped because they were for a chat the connection never joined."},
    {family::leave_injected,
     "wsproxy_leave_injected_total",
     metric_type::counter,
     {},
     "leave_chat frames the proxy injected (single_chat policy)."},
    {family::answers, "wsproxy_answers_total", metric_type::counter, dims::answers,
     "User messages by how their answer ended: answered (complete), unanswered (not complete "
     "within answers.timeout_ms), error (an error frame for the chat), closed (the socket "
     "closed first)."},
    {family::answers_dropped,
     "wsproxy_answers_dropped_total",
     metric_type::counter,
     {},
     "User messages whose answer was not tracked: answers.max_pending messages were waiting."},
    {family::answer_first_frame_seconds,
     "wsproxy_answer_first_frame_seconds",
     metric_type::histogram,
     {},
     "Time from a user message to the first answer frame for its chat delivered to the client."},
    {family::answer_complete_seconds,
     "wsproxy_answer_complete_seconds",
     metric_type::histogram,
     {},
     "Time from a user message to the frame completing its answer, delivered to the client."},
    {family::connections_active,
     "wsproxy_connections_active",
     metric_type::gauge,
     {},
     "WebSocket connection pairs (client and backend leg) open now."},
    {family::connections_total,
     "wsproxy_connections_total",
     metric_type::counter,
     {},
     "WebSocket connection pairs opened since start."},
    {family::user_messages, "wsproxy_user_messages_total", metric_type::counter,
     dims::user_messages,
     "User messages sent upstream (WebSocket or REST), by whether the sending connection was "
     "registered for their chat (false: the backend discards the broadcast answer)."},
    {family::broadcasts, "wsproxy_broadcasts_total", metric_type::counter, dims::user_messages,
     "Deprecated, removed in the next release: the same series as wsproxy_user_messages_total, "
     "under its old name."},
    {family::upstream_errors, "wsproxy_upstream_errors_total", metric_type::counter,
     dims::upstream_errors, "Failures talking to the backend, by reason."},
    {family::handshake_errors, "wsproxy_handshake_errors_total", metric_type::counter,
     dims::handshake_errors, "Client connections that failed before the WebSocket upgrade."},
    {family::connections_closed, "wsproxy_connections_closed_total", metric_type::counter,
     dims::connections_closed, "WebSocket connection pairs closed, by the reason they ended."},
    {family::slow_peers, "wsproxy_slow_peers_total", metric_type::counter, dims::slow_peers,
     "Peers closed as too slow: stalled (took nothing for --write-timeout) or below_min_rate "
     "(took less than --min-rate while data waited for them)."},
    {family::http_requests, "wsproxy_http_requests_total", metric_type::counter,
     dims::http_requests,
     "Plain HTTP requests reverse-proxied, by the status code of the response (other: a code "
     "RFC 9110 does not define)."},
    {family::rejected, "wsproxy_rejected_total", metric_type::counter, dims::rejected,
     "Client requests refused by a limit, by the limit hit."},
    {family::bytes, "wsproxy_bytes_total", metric_type::counter, dims::bytes,
     "WebSocket payload bytes relayed, by direction."},
    {family::tap_dropped,
     "wsproxy_tap_dropped_total",
     metric_type::counter,
     {},
     "Frames not delivered to a live-tap subscriber because it was too slow."},
    {family::tap_subscribers,
     "wsproxy_tap_subscribers",
     metric_type::gauge,
     {},
     "Live-tap subscribers connected now."},
    {family::tap_history_events,
     "wsproxy_tap_history_events",
     metric_type::gauge,
     {},
     "Tap events held in the history ring now, for /tap?history=N and the viewer."},
    {family::tap_history_capacity,
     "wsproxy_tap_history_capacity",
     metric_type::gauge,
     {},
     "Tap events the history ring holds at most (--tap-history; 0: off)."},
    {family::rules_reload, "wsproxy_rules_reload_total", metric_type::counter, dims::rules_reload,
     "Rules file reloads, by result."},
    {family::rules_last_reload_success,
     "wsproxy_rules_last_reload_success",
     metric_type::gauge,
     {},
     "1 when the last load or reload of the rules succeeded, 0 when it failed (the rules "
     "loaded before stay in force); stays 0 until a reload succeeds."},
    {family::rules_last_reload_timestamp,
     "wsproxy_rules_last_reload_timestamp_seconds",
     metric_type::gauge,
     {},
     "Unix time of the last load or reload of the rules, successful or not."},
    {family::rest_join_wait, "wsproxy_rest_join_wait_total", metric_type::counter,
     dims::rest_join_wait,
     "REST messages held for the joins of their chat, by outcome: acknowledged, timeout, or "
     "failed (refused by the backend or no socket could join)."},
    {family::frame_processing_seconds,
     "wsproxy_frame_processing_seconds",
     metric_type::histogram,
     {},
     "Time the proxy spent inspecting and rewriting one frame."},
    {family::shared_state_up,
     "wsproxy_shared_state_up",
     metric_type::gauge,
     {},
     "1 while the shared state (--shared-state, Redis) is connected; 0 while it is unreachable "
     "and this pod runs local-only, and always 0 without --shared-state."},
    {family::shared_state_operations, "wsproxy_shared_state_operations_total",
     metric_type::counter, dims::shared_state_operations,
     "Shared-state (Redis) operations, by operation and result (skipped: Redis was down, the "
     "pod went on local-only)."},
    {family::shared_state_degraded,
     "wsproxy_shared_state_degraded_total",
     metric_type::counter,
     {},
     "Times the shared state became unreachable (or could not be reached at start) and the pod "
     "went local-only."},
    {family::shared_state_join_seconds,
     "wsproxy_shared_state_join_seconds",
     metric_type::histogram,
     {},
     "Time from a REST message's join request to the last answer of the other pods holding its "
     "session's sockets."},
    {family::build_info, "wsproxy_build_info", metric_type::gauge, dims::build_info,
     "Always 1; the version label says which build is running."},
    {family::process_cpu_seconds,
     "process_cpu_seconds_total",
     metric_type::counter,
     {},
     "Total user and system CPU time spent in seconds."},
    {family::process_resident_memory,
     "process_resident_memory_bytes",
     metric_type::gauge,
     {},
     "Resident memory size in bytes."},
    {family::process_open_fds,
     "process_open_fds",
     metric_type::gauge,
     {},
     "Number of open file descriptors."},
    {family::process_max_fds,
     "process_max_fds",
     metric_type::gauge,
     {},
     "Maximum number of open file descriptors."},
    {family::process_start_time,
     "process_start_time_seconds",
     metric_type::gauge,
     {},
     "Start time of the process since unix epoch in seconds."},
}};

// Every family name, in catalog order.
inline constexpr std::array<std::string_view, family_count> family_names = [] {
    std::array<std::string_view, family_count> names{};
    for (std::size_t i = 0; i < family_count; ++i) names[i] = catalog[i].name;
    return names;
}();

constexpr const family_info& info(family f) noexcept {
    return catalog[static_cast<std::size_t>(f)];
}

// The family each rules::stat counts into, indexed by the stat.
inline constexpr std::array<family, static_cast<std::size_t>(rules::stat::count_)> stat_family{
    family::frames,
    family::join_chat,
    family::join_missing,
    family::chat_joined,
    family::client_id,
    family::isolation_violations,
    family::client_id_repaired,
    family::frames_uninspected,
    family::isolation_dropped,
    family::leave_injected,
    family::answers,
    family::answers_dropped};

// The family each proxy_stat counts into, indexed by the stat.
inline constexpr std::array<family, static_cast<std::size_t>(proxy_stat::count_)> proxy_stat_family{
    family::user_messages,
    family::upstream_errors,
    family::handshake_errors,
    family::connections_closed,
    family::http_requests,
    family::rejected,
    family::bytes,
    family::tap_dropped,
    family::rules_reload,
    family::rest_join_wait,
    family::shared_state_operations,
    family::shared_state_degraded,
    family::slow_peers};

namespace detail {
constexpr bool catalog_consistent() {
    for (std::size_t i = 0; i < family_count; ++i) {
        if (static_cast<std::size_t>(catalog[i].id) != i) return false;
        for (std::size_t j = 0; j < i; ++j)
            if (catalog[i].name == catalog[j].name) return false;
    }
    return true;
}
}  // namespace detail
static_assert(detail::catalog_consistent(), "catalog rows must be in family order, names unique");
static_assert(std::size(values::direction) == 2);
static_assert(std::size(values::upstream_error) == label(upstream_error::bad_response) + 1);
static_assert(std::size(values::handshake_error) == label(handshake_error::too_large) + 1);
static_assert(std::size(values::close_reason) == label(close_reason::error) + 1);
static_assert(std::size(values::reject_reason) == label(reject_reason::body_too_large) + 1);
static_assert(std::size(values::slow_cause) == label(slow_cause::below_min_rate) + 1);
static_assert(std::size(values::join_wait_result) == label(join_wait_result::failed) + 1);
static_assert(std::size(values::shared_state_op) == label(shared_state_op::join_answer) + 1);
static_assert(std::size(values::shared_state_result) == label(shared_state_result::skipped) + 1);
static_assert(std::size(values::answer_result) ==
              static_cast<std::size_t>(rules::answer_result::closed) + 1);
namespace detail {
constexpr bool histograms_consistent() {
    for (auto f : histogram_family)
        if (info(f).type != metric_type::histogram || histogram_bounds_ns(f).empty()) return false;
    for (const auto& row : catalog)
        if ((row.type == metric_type::histogram) != !histogram_bounds_ns(row.id).empty())
            return false;
    return true;
}
}  // namespace detail
static_assert(detail::histograms_consistent(), "every histogram family has bounds and an id");
static_assert(std::size(values::http_code) == http_codes.size() + 1);
namespace detail {
constexpr bool http_code_names_match() {
    for (std::size_t i = 0; i < http_codes.size(); ++i) {
        const auto v = values::http_code[i];
        if (v.size() != 3) return false;
        const auto n = static_cast<unsigned>((v[0] - '0') * 100 + (v[1] - '0') * 10 +
                                             (v[2] - '0'));
        if (n != http_codes[i] || (i > 0 && http_codes[i - 1] >= n)) return false;
    }
    return values::http_code[http_codes.size()] == "other";
}
}  // namespace detail
static_assert(detail::http_code_names_match(), "values::http_code must name http_codes, in order");
static_assert(http_code_label(200) == 3 && http_code_label(299) == http_codes.size());

}  // namespace wsproxy::metrics
