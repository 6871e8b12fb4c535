#pragma once
// Hand-off from an HTTP session to a WebSocket session (upgrade requests).

#include <memory>

#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "state.hpp"

namespace chat_backend {

// Accepts the upgrade in req on stream and serves the connection until it
// closes. Call on the stream's executor.
void run_ws_session(std::shared_ptr<shared_state> st, boost::beast::tcp_stream stream,
                    boost::beast::http::request<boost::beast::http::string_body> req);

}  // namespace chat_backend
