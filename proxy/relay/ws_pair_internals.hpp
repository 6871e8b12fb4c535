#pragma once
// What the ws_pair_*.cpp files share besides the class itself: the leg index arithmetic,
// a seconds-to-milliseconds conversion and the state of the upstream opening handshake.
// Included only by them.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <string>

#include "proxy/relay/ws_pair.hpp"

namespace wsproxy {

namespace ws_pair_internals {

constexpr int other(int s) { return 1 - s; }

inline std::int64_t millis(double s) { return static_cast<std::int64_t>(s * 1000); }

}  // namespace ws_pair_internals

struct ws_pair::upstream_handshake {
    boost::beast::http::request<boost::beast::http::empty_body> req;
    std::string key;
    boost::beast::flat_buffer buffer;
    boost::beast::http::response_parser<boost::beast::http::string_body> parser;
};

}  // namespace wsproxy
