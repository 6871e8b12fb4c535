#include "proxy/headers.hpp"

#include <algorithm>
#include <array>
#include <boost/beast/core/string.hpp>

namespace wsproxy {
namespace http = boost::beast::http;

namespace {

constexpr std::array<std::string_view, 14> hop_headers{
    "connection",           "keep-alive",          "proxy-connection",
    "proxy-authenticate",   "proxy-authorization", "te",
    "trailer",              "transfer-encoding",   "upgrade",
    "host",                 "sec-websocket-key",   "sec-websocket-version",
    "sec-websocket-extensions", "sec-websocket-accept"};

bool token_listed(std::string_view name, std::string_view list) {
    while (!list.empty()) {
        auto comma = list.find(',');
        auto token = list.substr(0, comma);
        while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
        while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
        if (boost::beast::iequals(token, name)) return true;
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    return false;
}

}  // namespace

bool is_hop_header(std::string_view name, std::string_view connection_tokens) {
    for (auto h : hop_headers)
        if (boost::beast::iequals(name, h)) return true;
    return token_listed(name, connection_tokens);
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
    std::string_view connection = from[http::field::connection];
    for (const auto& f : from) {
        if (is_hop_header(f.name_string(), connection)) continue;
        insert_field(f, to);
    }
}

void add_forwarded(http::fields& to, const http::fields& original,
                   const std::string& client_address, bool client_tls) {
    std::string xff(original["X-Forwarded-For"]);
    xff = xff.empty() ? client_address : xff + ", " + client_address;
    to.erase("X-Forwarded-For");
    to.set("X-Forwarded-For", xff);
    to.erase("X-Forwarded-Proto");
    to.set("X-Forwarded-Proto", client_tls ? "https" : "http");
    auto host = original[http::field::host];
    to.erase("X-Forwarded-Host");
    if (!host.empty()) to.set("X-Forwarded-Host", host);
}

}  // namespace wsproxy
