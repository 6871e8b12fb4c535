#pragma once
// The server half of a WebSocket opening handshake on a blocking socket, for test upstreams
// that then speak raw frames (valid or not) to the proxy.
#include <boost/asio/ip/tcp.hpp>
#include <string>

namespace raw_ws_peer {

// Reads the request head from `socket` and answers 101 with the matching accept key, then
// `after` (raw frames sent in the same write). Returns false on a socket error or a request
// without Sec-WebSocket-Key. `in` keeps what arrived after the head (the first frames).
bool accept_upgrade(boost::asio::ip::tcp::socket& socket, std::string& in, const std::string& after = {});

}  // namespace raw_ws_peer
