#include "proxy/options.hpp"

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>

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

void validate(const proxy_options& opts) {
    if (opts.upstream.host.empty())
        throw startup_error("--upstream is required, e.g. --upstream ws://127.0.0.1:8081");
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
    if (opts.drain_timeout < 0) throw startup_error("--drain-timeout: must not be negative");
    if (opts.max_message_bytes < 1024)
        throw startup_error("--max-message-bytes: must be at least 1024");
    if (opts.tap_queue_limit < 1) throw startup_error("--tap-queue-limit: must be at least 1");
    if (opts.max_header_bytes < 1024)
        throw startup_error("--max-header-bytes: must be at least 1024");
}

}  // namespace wsproxy
