#pragma once
// The WebSocket opening handshake (RFC 6455 section 4) on both legs, as
// plain HTTP messages: the proxy writes and reads them itself so that the
// bytes after each handshake stay in its own buffers, and so that the relay
// needs no WebSocket stream object per leg.
#include <boost/beast/http.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "proxy/ws/deflate.hpp"

namespace wsproxy::ws {

// A fresh Sec-WebSocket-Key: 16 random bytes, base64.
std::string make_key();
// The Sec-WebSocket-Accept that answers `key`.
std::string accept_for(std::string_view key);

// What is wrong with a browser's upgrade request, or nothing. `status` is 426 for an
// unsupported version (the answer then names the one we speak), else 400.
struct request_problem {
    boost::beast::http::status status;
    std::string message;
};
std::optional<request_problem> check_upgrade_request(
    const boost::beast::http::request<boost::beast::http::string_body>& req);

// Checks the backend's answer to our upgrade request sent with `key`. A non-101 status
// is "declined" (passed to the browser as is); anything else wrong is an error.
// With `offered_deflate`, the agreed parameters go to `deflate` (nullopt: declined).
struct upstream_verdict {
    bool declined{false};
    std::string error;  // empty when the handshake is good
    std::optional<deflate_params> deflate;
};
upstream_verdict check_upgrade_response(
    const boost::beast::http::response<boost::beast::http::string_body>& res, std::string_view key,
    bool offered_deflate);

}  // namespace wsproxy::ws
