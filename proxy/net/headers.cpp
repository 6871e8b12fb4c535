#include "proxy/net/headers.hpp"

#include <algorithm>
#include <array>
#include <boost/beast/core/string.hpp>

#include "common/text.hpp"
#include "proxy/http/message_checks.hpp"

namespace wsproxy {
namespace http = boost::beast::http;

namespace {

constexpr std::array<std::string_view, 14> hop_headers{
    "connection",           "keep-alive",          "proxy-connection",
    "proxy-authenticate",   "proxy-authorization", "te",
    "trailer",              "transfer-encoding",   "upgrade",
    "host",                 "sec-websocket-key",   "sec-websocket-version",
    "sec-websocket-extensions", "sec-websocket-accept"};

}  // namespace

bool is_hop_header(std::string_view name, std::string_view connection_tokens) {
    for (auto h : hop_headers)
        if (boost::beast::iequals(name, h)) return true;
    return text::has_token(connection_tokens, name);
}

namespace {
void insert_field(const http::fields::value_type& f, http::fields& to) {
    if (f.name() == http::field::unknown)
        to.insert(f.name_string(), f.value());
    else
        to.insert(f.name(), f.value());
}
}  // namespace

void copy_all(const http::fields& from, http::fields& to) {
    for (const auto& f : from) insert_field(f, to);
}

void copy_end_to_end(const http::fields& from, http::fields& to) {
    // Every Connection header names hop-by-hop fields, not only the first (RFC 9110 7.6.1).
    std::string connection = http1::joined_values(from, "Connection");
    for (const auto& f : from) {
        if (is_hop_header(f.name_string(), connection)) continue;
        insert_field(f, to);
    }
}

void add_forwarded(http::fields& to, const http::fields& original,
                   const std::string& client_address, bool client_tls, bool trusted_peer) {
    // The whole incoming chain, however many headers carried it, then the peer.
    std::string xff = http1::joined_values(original, "X-Forwarded-For");
    xff = xff.empty() ? client_address : xff + ", " + client_address;
    to.erase("X-Forwarded-For");
    to.set("X-Forwarded-For", xff);
    // A trusted peer (--trusted-proxies, e.g. a TLS-terminating ingress) knows better than
    // we do what the browser spoke and asked for; anyone else's claim is replaced.
    auto keep = [&](std::string_view name, std::string_view ours) {
        std::string theirs = trusted_peer ? http1::joined_values(original, name) : std::string();
        to.erase(name);
        if (!theirs.empty())
            to.set(name, theirs);
        else if (!ours.empty())
            to.set(name, ours);
    };
    keep("X-Forwarded-Proto", client_tls ? "https" : "http");
    keep("X-Forwarded-Host", original[http::field::host]);
}

}  // namespace wsproxy
