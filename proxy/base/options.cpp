#include "proxy/base/options.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <vector>

namespace wsproxy {
namespace {

unsigned short parse_port(std::string_view text, const std::string& context) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value > 65535)
        throw startup_error(context + ": port \"" + std::string(text) +
                            "\" is not a number from 0 to 65535");
    return static_cast<unsigned short>(value);
}

// An IPv4 or IPv6 literal (an IPv6 one may carry a %scope): the listeners bind addresses,
// they resolve no names.
bool is_ip_address(const std::string& host) {
    unsigned char buf[16];
    if (::inet_pton(AF_INET, host.c_str(), buf) == 1) return true;
    const std::string v6 = host.substr(0, host.find('%'));
    return ::inet_pton(AF_INET6, v6.c_str(), buf) == 1;
}

// Optimal string alignment distance: insertions, deletions, substitutions and swaps of
// two neighbours each cost 1.
std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
    for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    }
    return d[a.size()][b.size()];
}

std::string_view without_dashes(std::string_view s) {
    while (!s.empty() && s.front() == '-') s.remove_prefix(1);
    return s;
}

void check_readable(const std::string& path, const char* flag) {
    std::ifstream f(path);
    if (!f)
        throw startup_error(std::string(flag) + ": cannot read \"" + path +
                            "\": " + std::strerror(errno));
}

}  // namespace

host_port parse_host_port(const std::string& text, const char* flag) {
    auto colon = text.rfind(':');
    if (colon == std::string::npos)
        throw startup_error(std::string(flag) + ": expected HOST:PORT, got \"" + text + "\"");
    host_port hp;
    hp.host = text.substr(0, colon);
    if (hp.host.size() >= 2 && hp.host.front() == '[' && hp.host.back() == ']')
        hp.host = hp.host.substr(1, hp.host.size() - 2);  // [::1]:8080
    if (hp.host.empty()) hp.host = "0.0.0.0";
    hp.port = parse_port(std::string_view(text).substr(colon + 1), flag);
    return hp;
}

upstream_url parse_upstream(const std::string& text) {
    upstream_url u;
    u.url = text;
    std::string rest;
    if (text.rfind("ws://", 0) == 0) {
        rest = text.substr(5);
    } else if (text.rfind("wss://", 0) == 0) {
        u.tls = true;
        rest = text.substr(6);
    } else {
        throw startup_error("--upstream: expected ws://HOST:PORT or wss://HOST:PORT, got \"" +
                            text + "\"");
    }
    if (auto slash = rest.find('/'); slash != std::string::npos) {
        if (rest.substr(slash) != "/")
            throw startup_error("--upstream: give only scheme, host and port (\"" + text +
                                "\"); request paths are passed through as the client sent them");
        rest.resize(slash);
    }
    auto colon = rest.rfind(':');
    bool bracketed = !rest.empty() && rest.front() == '[';
    if (colon == std::string::npos || (bracketed && rest[colon - 1] != ']')) {
        u.host = rest;
        u.port = u.tls ? 443 : 80;
    } else {
        u.host = rest.substr(0, colon);
        u.port = parse_port(std::string_view(rest).substr(colon + 1), "--upstream");
    }
    if (u.host.size() >= 2 && u.host.front() == '[') u.host = u.host.substr(1, u.host.size() - 2);
    if (u.host.empty()) throw startup_error("--upstream: no host in \"" + text + "\"");
    return u;
}

std::string read_token_file(const std::string& path, const char* flag) {
    std::ifstream f(path);
    if (!f)
        throw startup_error(std::string(flag) + ": cannot read \"" + path +
                            "\": " + std::strerror(errno));
    std::string token;
    std::getline(f, token);
    auto space = [](unsigned char c) { return std::isspace(c) != 0; };
    while (!token.empty() && space(static_cast<unsigned char>(token.back()))) token.pop_back();
    std::size_t lead = 0;
    while (lead < token.size() && space(static_cast<unsigned char>(token[lead]))) ++lead;
    token.erase(0, lead);
    if (token.empty()) throw startup_error(std::string(flag) + ": \"" + path + "\" holds no token");
    return token;
}

void parse_min_rate(std::string_view text, proxy_options& opts) {
    const std::string example = " (BYTES/SECONDS, e.g. --min-rate 4096/30; 0: off)";
    if (text == "0") {
        opts.min_rate_bytes = 0;
        opts.min_rate_seconds = 0;
        return;
    }
    auto slash = text.find('/');
    if (slash == std::string_view::npos)
        throw startup_error("--min-rate: \"" + std::string(text) + "\" has no '/'" + example);
    std::string_view bytes = text.substr(0, slash), secs = text.substr(slash + 1);
    std::uint64_t b = 0;
    auto [bend, bec] = std::from_chars(bytes.data(), bytes.data() + bytes.size(), b);
    if (bec != std::errc{} || bend != bytes.data() + bytes.size() || b == 0)
        throw startup_error("--min-rate: \"" + std::string(bytes) +
                            "\" is not a positive whole number of bytes" + example);
    double s = 0;
    auto [send, sec] = std::from_chars(secs.data(), secs.data() + secs.size(), s);
    if (sec != std::errc{} || send != secs.data() + secs.size() || !(s >= 1))
        throw startup_error("--min-rate: \"" + std::string(secs) +
                            "\" is not a number of seconds of at least 1" + example);
    opts.min_rate_bytes = b;
    opts.min_rate_seconds = s;
}

void validate(const proxy_options& opts) {
    if (opts.upstream.host.empty())
        throw startup_error("--upstream is required, e.g. --upstream ws://127.0.0.1:8081");
    for (const auto& [flag, where] : {std::pair{"--listen", &opts.listen},
                                      std::pair{"--admin", &opts.admin}})
        if (!is_ip_address(where->host))
            throw startup_error(std::string(flag) + ": \"" + where->host +
                                "\" is not an IP address; give one of this machine's addresses, "
                                "0.0.0.0 for all of them, or 127.0.0.1 for this machine only");
    if (opts.tls_cert.empty() != opts.tls_key.empty())
        throw startup_error("--tls-cert and --tls-key go together: give both or neither");
    if (!opts.tls_cert.empty()) {
        check_readable(opts.tls_cert, "--tls-cert");
        check_readable(opts.tls_key, "--tls-key");
    }
    if (!opts.upstream_ca.empty()) {
        check_readable(opts.upstream_ca, "--upstream-ca");
        if (!opts.upstream.tls)
            throw startup_error("--upstream-ca needs a wss:// upstream");
    }
    if (!opts.rules_file.empty()) check_readable(opts.rules_file, "--rules");
    if (opts.mode && *opts.mode != "fix" && *opts.mode != "observe")
        throw startup_error("--mode: expected fix or observe, got \"" + *opts.mode + "\"");
    auto positive = [](double v, const char* flag) {
        if (!(v > 0)) throw startup_error(std::string(flag) + ": must be a positive number of seconds");
    };
    positive(opts.handshake_timeout, "--handshake-timeout");
    positive(opts.idle_timeout, "--idle-timeout");
    positive(opts.write_timeout, "--write-timeout");
    if (opts.min_rate_bytes > 0 && !(opts.min_rate_seconds >= 1))
        throw startup_error("--min-rate: the window must be at least 1 second, e.g. 4096/30");
    if (opts.drain_timeout < 0) throw startup_error("--drain-timeout: must not be negative");
    if (opts.max_message_bytes < 1024)
        throw startup_error("--max-message-bytes: must be at least 1024");
    if (opts.tap_queue_limit < 1) throw startup_error("--tap-queue-limit: must be at least 1");
    if (opts.tap_history > 1'000'000)
        throw startup_error("--tap-history: at most 1000000 events (each takes about 300 bytes)");
    if (opts.tap_history_per_conn > 10'000)
        throw startup_error("--tap-history-per-conn: at most 10000 events per connection");
    if (!(opts.closed_connections_seconds >= 0))
        throw startup_error("--closed-connections-seconds: must be 0 or more seconds");
    if (opts.closed_connections_max > 100'000)
        throw startup_error("--closed-connections-max: at most 100000 connections");
    if (opts.max_header_bytes < 1024)
        throw startup_error("--max-header-bytes: must be at least 1024");
    const auto& c = opts.cluster;
    if (c.url.empty() && !c.password_file.empty())
        throw startup_error("--shared-state-password-file needs --shared-state redis://HOST:PORT");
    if (!c.password_file.empty()) check_readable(c.password_file, "--shared-state-password-file");
    positive(c.socket_ttl, "--shared-state-ttl");
    positive(c.timeout, "--shared-state-timeout");
    if (c.prefix.size() > 64)
        throw startup_error("--shared-state-prefix: at most 64 bytes, got " +
                            std::to_string(c.prefix.size()));
    for (char ch : c.pod_id)
        if (static_cast<unsigned char>(ch) <= ' ' || ch == '"' || ch == '\\')
            throw startup_error("--pod-id: \"" + c.pod_id +
                                "\" holds a blank, a quote or a control character; use letters, "
                                "digits, '-', '.' and '_' (as a Kubernetes pod name)");
    for (const auto& o : opts.admin_allow_origins)
        if (o.find("://") == std::string::npos)
            throw startup_error("--admin-allow-origin: \"" + o +
                                "\" is not an origin; write it as scheme://host[:port], e.g. "
                                "https://wsproxy.example.com");
}

std::string listen_error(const char* flag, const host_port& where, int error,
                         const std::string& message) {
    const bool v6 = where.host.find(':') != std::string::npos;
    const std::string address = (v6 ? "[" + where.host + "]" : where.host) + ":" +
                                std::to_string(where.port);
    std::string why;
    switch (error) {
        case EADDRNOTAVAIL:
            why = where.host + " is not an address of this machine (give one of its own "
                               "addresses, 0.0.0.0 for all of them, or 127.0.0.1 for this "
                               "machine only)";
            break;
        case EADDRINUSE:
            why = "the port is already in use (another process listens on it: stop that "
                  "process, or choose another port)";
            break;
        case EACCES:
            why = where.port < 1024 ? "permission denied: ports below 1024 need root or "
                                      "CAP_NET_BIND_SERVICE (choose a port from 1024 up)"
                                    : "permission denied (" + message + ")";
            break;
        case EAFNOSUPPORT:
            why = std::string(v6 ? "IPv6" : "IPv4") + " is not available on this machine "
                  "(give an address of the other family, e.g. " +
                  (v6 ? "0.0.0.0" : "[::]") + ")";
            break;
        default:
            why = message;
    }
    return std::string(flag) + ": cannot listen on " + address + ": " + why;
}

std::string nearest_name(std::string_view word, const std::vector<std::string>& known) {
    const auto eq = word.find('=');  // --upstrem=ws://...
    if (eq != std::string_view::npos) word = word.substr(0, eq);
    const auto bare = without_dashes(word);
    if (bare.empty()) return {};
    // The same name with other dashes (-upstream), then a unique prefix (--max-conn).
    for (const auto& k : known)
        if (without_dashes(k) == bare) return k;
    std::string prefix_of;
    int prefixes = 0;
    for (const auto& k : known) {
        if (without_dashes(k).starts_with(bare)) {
            prefix_of = k;
            ++prefixes;
        }
    }
    if (prefixes == 1 && bare.size() >= 3) return prefix_of;
    const std::size_t limit = std::min<std::size_t>(3, 1 + bare.size() / 4);
    std::string best;
    std::size_t best_distance = limit + 1;
    for (const auto& k : known) {
        const auto d = edit_distance(bare, without_dashes(k));
        if (d < best_distance) {
            best_distance = d;
            best = k;
        }
    }
    return best;
}

}  // namespace wsproxy
