#pragma once
// Opens a transport to the upstream: resolve (skipped for literal addresses),
// TCP connect and, for wss://, the TLS handshake with SNI and host name
// verification. Runs on the calling worker's thread.
#include <functional>
#include <optional>
#include <string_view>

#include "proxy/net/flex_stream.hpp"
#include "proxy/base/options.hpp"

namespace wsproxy {

// `stage` names the step that failed ("resolve", "connect", "tls"), for logs and metrics.
using upstream_handler =
    std::function<void(boost::beast::error_code, std::string_view stage, std::optional<flex_stream>)>;

// `opts` (the upstream and the handshake timeout) outlives the operation; `tls` is the
// upstream TLS context, used only for wss:// upstreams.
void async_connect_upstream(boost::asio::io_context& ioc, const proxy_options& opts,
                            boost::asio::ssl::context* tls, upstream_handler done);

}  // namespace wsproxy
