#pragma once
// Serves one accepted TCP connection: REST requests with keep-alive, or a
// WebSocket upgrade, which hands the connection to a WebSocket session.

#include <memory>

#include <boost/asio/ip/tcp.hpp>

#include "state.hpp"

namespace chat_backend {

// Call from any thread; the session runs on the socket's executor.
void run_http_session(std::shared_ptr<shared_state> st, boost::asio::ip::tcp::socket socket);

}  // namespace chat_backend
