#pragma once
// Everything the command line sets. Plain data, validated once at start
// (validate() throws startup_error with a message that says what to fix).
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/base/log.hpp"

namespace wsproxy {

// A startup problem (bad flag, unreadable file, busy port): main prints
// what() on one line and exits non-zero.
class startup_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct host_port {
    std::string host;
    unsigned short port{0};
};

struct upstream_url {
    bool tls{false};
    std::string host;
    unsigned short port{0};
    std::string url;  // as given, for logs
};

// Shared state across replicas (--shared-state): where Redis is and how this pod names
// itself there. Empty url: local-only, as a single replica always was.
struct cluster_options {
    std::string url;            // redis://[user@]HOST:PORT[/DB] or rediss://...
    std::string password_file;  // the Redis password (AUTH), read at start
    std::string password;       // from password_file
    std::string prefix{"wsproxy:"};  // put before every key and channel name
    std::string pod_id;         // empty: hostname-pid
    double socket_ttl{30};      // seconds a pod's sessions live in Redis without a heartbeat
    double timeout{1};          // seconds for a connect or an answer before Redis counts as down
};

struct proxy_options {
    host_port listen{"0.0.0.0", 8080};
    upstream_url upstream;
    host_port admin{"127.0.0.1", 9090};
    unsigned threads{0};  // 0: one per CPU

    std::string tls_cert, tls_key;  // TLS towards clients when both are set
    std::string upstream_ca;        // extra CA for a wss:// upstream

    log::format log_format{log::format::text};
    log::level log_level{log::level::info};

    std::string rules_file;                // empty: built-in defaults
    std::optional<std::string> mode;       // overrides the rules file: fix | observe

    double handshake_timeout{10};   // seconds: client request, upstream connect + handshake
    double idle_timeout{60};        // seconds without a frame before a leg is closed
    double drain_timeout{15};       // seconds between SIGTERM and closing sessions with 1001
    double write_timeout{30};       // seconds a write may wait while the peer acknowledges nothing
    // --min-rate BYTES/SECONDS: a peer with data waiting for it that takes (acknowledges)
    // fewer than min_rate_bytes in a window of min_rate_seconds is closed as too slow.
    // 0 bytes: off (the default; one message in flight per direction already bounds memory).
    std::uint64_t min_rate_bytes{0};
    double min_rate_seconds{0};
    bool keepalive_pings{true};     // ping an idle leg at half the idle timeout
    bool permessage_deflate{false}; // negotiate compression on each leg

    std::size_t max_message_bytes{16u << 20};
    std::size_t max_header_bytes{16u << 10};
    std::size_t max_body_bytes{8u << 20};
    std::size_t max_connections{0};  // 0: derived from the descriptor limit

    bool tap_payloads{false};          // /tap shows payloads (redacted at tap_redact_paths)
    std::vector<std::string> tap_redact_paths{"data.content"};  // dotted JSON paths
    std::size_t tap_queue_limit{4096};  // events queued per /tap subscriber before the oldest drop
    std::size_t tap_history{2000};          // tap events kept for /tap?history=N; 0: off
    std::size_t tap_history_per_conn{100};  // tap events kept per connection; 0: off
    double closed_connections_seconds{300};   // a closed connection stays in /connections
    std::size_t closed_connections_max{1000};  // closed connections listed at most; 0: none
    std::string admin_token;  // empty: admin endpoints are open (admin listens on loopback)
    // Origins besides the admin port's own that may open the viewer's /tap WebSocket.
    std::vector<std::string> admin_allow_origins;
    // Host names besides loopback names and IP literals that the admin port answers to
    // (DNS rebinding: a page whose name now resolves to us sends its own name as Host).
    std::vector<std::string> admin_allow_hosts;
    // Peers (CIDRs) whose X-Forwarded-Proto and X-Forwarded-Host are kept.
    std::vector<std::string> trusted_proxies;
    cluster_options cluster;
};

host_port parse_host_port(const std::string& text, const char* flag);
upstream_url parse_upstream(const std::string& text);
// The first line of a token file, without surrounding whitespace; throws startup_error
// (naming `flag`) when the file cannot be read or holds no token.
std::string read_token_file(const std::string& path, const char* flag);
// Checks the combination of flags, that files are readable and that --listen and --admin
// name IP addresses.
void validate(const proxy_options& opts);

// "--min-rate BYTES/SECONDS" (e.g. 4096/30) into opts; "0" turns it off. Throws
// startup_error saying what is wrong.
void parse_min_rate(std::string_view text, proxy_options& opts);

// Why binding `flag`'s address failed and what to do, from the bind's errno and message:
// "--listen: cannot listen on 192.0.2.1:8080: 192.0.2.1 is not an address of this machine
// (...)". A busy port, a privileged port and a missing IPv6 stack each get their own advice.
std::string listen_error(const char* flag, const host_port& where, int error,
                         const std::string& message);

// The flag (or subcommand) of `known` that a mistyped `word` most likely meant, or "" when
// none is close: the same name with other dashes, a unique prefix, or an edit distance
// (with transpositions) of at most 1 + length / 4, up to 3.
std::string nearest_name(std::string_view word, const std::vector<std::string>& known);

}  // namespace wsproxy
