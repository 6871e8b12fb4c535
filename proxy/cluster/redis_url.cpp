#include "proxy/cluster/redis_url.hpp"

#include <charconv>

#include "proxy/base/options.hpp"

namespace wsproxy::cluster {
namespace {

[[noreturn]] void bad(const std::string& text, const std::string& why) {
    throw startup_error("--shared-state: \"" + text + "\": " + why +
                        "; write redis://HOST:PORT[/DB] or rediss://HOST:PORT[/DB]");
}

template <class T>
bool parse_number(std::string_view s, T& out) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && end == s.data() + s.size() && !s.empty();
}

}  // namespace

redis_url parse_redis_url(const std::string& text) {
    redis_url u;
    std::string_view rest = text;
    if (rest.starts_with("redis://")) {
        rest.remove_prefix(8);
    } else if (rest.starts_with("rediss://")) {
        u.tls = true;
        rest.remove_prefix(9);
    } else {
        bad(text, "the scheme is neither redis:// nor rediss://");
    }
    if (auto at = rest.rfind('@'); at != std::string_view::npos) {
        std::string_view userinfo = rest.substr(0, at);
        if (userinfo.find(':') != std::string_view::npos)
            throw startup_error(
                "--shared-state: the URL carries a password, which would show in ps and the "
                "logs; put it in a file and give --shared-state-password-file FILE");
        u.user = std::string(userinfo);
        rest.remove_prefix(at + 1);
    }
    std::string_view hostport = rest.substr(0, rest.find('/'));
    std::string_view path = rest.substr(hostport.size());
    if (!path.empty() && path != "/") {
        if (!parse_number(path.substr(1), u.db) || u.db < 0 || u.db > 15)
            bad(text, "the database \"" + std::string(path.substr(1)) +
                          "\" is not a number from 0 to 15");
    }
    std::string_view host = hostport;
    if (!hostport.empty() && hostport.front() == '[') {  // [::1]:6379
        auto close = hostport.find(']');
        if (close == std::string_view::npos) bad(text, "an IPv6 address lacks its ']'");
        host = hostport.substr(1, close - 1);
        std::string_view after = hostport.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':' || !parse_number(after.substr(1), u.port) || u.port == 0)
                bad(text, "the port is not a number from 1 to 65535");
        }
    } else if (auto colon = hostport.rfind(':'); colon != std::string_view::npos) {
        host = hostport.substr(0, colon);
        if (!parse_number(hostport.substr(colon + 1), u.port) || u.port == 0)
            bad(text, "the port is not a number from 1 to 65535");
    }
    if (host.empty()) bad(text, "there is no host");
    u.host = std::string(host);
    u.text = std::string(u.tls ? "rediss://" : "redis://");
    if (!u.user.empty()) u.text.append(u.user).push_back('@');
    u.text.append(hostport);
    if (u.db) u.text.append("/").append(std::to_string(u.db));
    return u;
}

}  // namespace wsproxy::cluster
