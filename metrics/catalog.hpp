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
    // Counted by the proxy body.
    connections_active,
    connections_total,
    broadcasts,
    upstream_errors,
    handshake_errors,
    connections_closed,
    http_requests,
    rejected,
    bytes,
    tap_dropped,
    tap_subscribers,
    rules_reload,
    rest_join_wait,
    frame_processing_seconds,
    build_info,
    count_  // keep last
};
inline constexpr std::size_t family_count = static_cast<std::size_t>(family::count_);

// Body-level counters the proxy counts itself through shard::count(proxy_stat, label).
// The label meaning is the label set of the family it maps to (proxy_stat_family).
enum class proxy_stat : std::uint8_t {
    broadcasts,          // 0 registered, 1 not registered (per user message sent upstream)
    upstream_errors,     // upstream_error
    handshake_errors,    // handshake_error
    connections_closed,  // close_reason
    http_requests,       // http_code_label(status)
    rejected,            // reject_reason
    bytes,               // direction; n = payload bytes
    tap_dropped,         // 0
    rules_reload,        // 0 success, 1 failure
    rest_join_wait,      // join_wait_result
    count_               // keep last
};

// Typed labels for the body-level families. Enumerator order is the order of the label
// values in the catalog below.
enum class direction : std::uint32_t { client_to_server, server_to_client };
enum class upstream_error : std::uint32_t { connect, tls, handshake_rejected, timeout, closed };
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
enum class reject_reason : std::uint32_t { max_connections, header_too_large, body_too_large };
enum class join_wait_result : std::uint32_t { acknowledged, timeout, failed };

template <class E>
requires std::is_enum_v<E>
constexpr std::uint32_t label(E e) noexcept {
    return static_cast<std::uint32_t>(e);
}

// The class of a final HTTP status as a wsproxy_http_requests_total label:
// 0 "2xx", 1 "3xx", 2 "4xx", 3 "5xx". Anything outside 200..599 is a bug upstream of us
// and is counted as 5xx, since the client saw no valid answer.
constexpr std::uint32_t http_code_label(unsigned status) noexcept {
    if (status >= 200 && status < 600) return status / 100 - 2;
    return 3;
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

namespace values {
inline constexpr std::string_view direction[] = {"client_to_server", "server_to_client"};
inline constexpr std::string_view join_source[] = {"client", "injected"};
inline constexpr std::string_view true_false[] = {"true", "false"};
inline constexpr std::string_view client_id[] = {"captured", "missing"};
inline constexpr std::string_view uninspected[] = {"too_deep", "too_large"};
inline constexpr std::string_view upstream_error[] = {"connect", "tls", "handshake_rejected",
                                                      "timeout", "closed"};
inline constexpr std::string_view handshake_error[] = {"bad_request", "timeout", "tls",
                                                       "too_large"};
inline constexpr std::string_view close_reason[] = {"client_close",  "server_close", "client_gone",
                                                    "server_gone",   "idle_timeout", "too_big",
                                                    "slow_consumer", "drain",        "error"};
inline constexpr std::string_view http_code[] = {"2xx", "3xx", "4xx", "5xx"};
inline constexpr std::string_view reject_reason[] = {"max_connections", "header_too_large",
                                                     "body_too_large"};
inline constexpr std::string_view reload_result[] = {"success", "failure"};
inline constexpr std::string_view join_wait_result[] = {"acknowledged", "timeout", "failed"};
}  // namespace values

namespace dims {
inline constexpr label_dim frames[] = {{"direction", values::direction},
                                       {"type", {}, label_source::message_types}};
inline constexpr label_dim join_chat[] = {{"source", values::join_source}};
inline constexpr label_dim chat_joined[] = {{"success", values::true_false}};
inline constexpr label_dim client_id[] = {{"result", values::client_id}};
inline constexpr label_dim uninspected[] = {{"reason", values::uninspected}};
inline constexpr label_dim broadcasts[] = {{"registered", values::true_false}};
inline constexpr label_dim upstream_errors[] = {{"reason", values::upstream_error}};
inline constexpr label_dim handshake_errors[] = {{"reason", values::handshake_error}};
inline constexpr label_dim connections_closed[] = {{"reason", values::close_reason}};
inline constexpr label_dim http_requests[] = {{"code", values::http_code}};
inline constexpr label_dim rejected[] = {{"reason", values::reject_reason}};
inline constexpr label_dim bytes[] = {{"direction", values::direction}};
inline constexpr label_dim rules_reload[] = {{"result", values::reload_result}};
inline constexpr label_dim rest_join_wait[] = {{"result", values::join_wait_result}};
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
    {family::broadcasts, "wsproxy_broadcasts_total", metric_type::counter, dims::broadcasts,
     "User messages sent upstream, by whether the connection was registered for their chat "
     "(false: the backend discards the broadcast answer)."},
    {family::upstream_errors, "wsproxy_upstream_errors_total", metric_type::counter,
     dims::upstream_errors, "Failures talking to the backend, by reason."},
    {family::handshake_errors, "wsproxy_handshake_errors_total", metric_type::counter,
     dims::handshake_errors, "Client connections that failed before the WebSocket upgrade."},
    {family::connections_closed, "wsproxy_connections_closed_total", metric_type::counter,
     dims::connections_closed, "WebSocket connection pairs closed, by the reason they ended."},
    {family::http_requests, "wsproxy_http_requests_total", metric_type::counter,
     dims::http_requests, "Plain HTTP requests reverse-proxied, by response status class."},
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
    {family::rules_reload, "wsproxy_rules_reload_total", metric_type::counter, dims::rules_reload,
     "Rules file reloads, by result."},
    {family::rest_join_wait, "wsproxy_rest_join_wait_total", metric_type::counter,
     dims::rest_join_wait,
     "REST messages held for the joins of their chat, by outcome: acknowledged, timeout, or "
     "failed (refused by the backend or no socket could join)."},
    {family::frame_processing_seconds,
     "wsproxy_frame_processing_seconds",
     metric_type::histogram,
     {},
     "Time the proxy spent inspecting and rewriting one frame."},
    {family::build_info, "wsproxy_build_info", metric_type::gauge, dims::build_info,
     "Always 1; the version label says which build is running."},
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
    family::leave_injected};

// The family each proxy_stat counts into, indexed by the stat.
inline constexpr std::array<family, static_cast<std::size_t>(proxy_stat::count_)> proxy_stat_family{
    family::broadcasts,
    family::upstream_errors,
    family::handshake_errors,
    family::connections_closed,
    family::http_requests,
    family::rejected,
    family::bytes,
    family::tap_dropped,
    family::rules_reload,
    family::rest_join_wait};

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
static_assert(std::size(values::upstream_error) == label(upstream_error::closed) + 1);
static_assert(std::size(values::handshake_error) == label(handshake_error::too_large) + 1);
static_assert(std::size(values::close_reason) == label(close_reason::error) + 1);
static_assert(std::size(values::reject_reason) == label(reject_reason::body_too_large) + 1);
static_assert(std::size(values::join_wait_result) == label(join_wait_result::failed) + 1);
static_assert(std::size(values::http_code) == http_code_label(500) + 1);

}  // namespace wsproxy::metrics
