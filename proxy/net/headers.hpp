#pragma once
// Which request and response headers cross the proxy, and the X-Forwarded-*
// headers it adds. Shared by the WebSocket upgrade and the reverse proxy.
#include <boost/beast/http/fields.hpp>
#include <string>
#include <string_view>

namespace wsproxy {

// True for headers that describe one hop (RFC 9110 7.6.1) or one leg's
// WebSocket handshake, and so must not be copied to the other leg.
// `connection_tokens` is the value of the Connection header, whose tokens are hop-by-hop too.
bool is_hop_header(std::string_view name, std::string_view connection_tokens);

// Copies every header, repeated ones included.
void copy_all(const boost::beast::http::fields& from, boost::beast::http::fields& to);

// Copies end-to-end headers from `from` to `to`.
void copy_end_to_end(const boost::beast::http::fields& from, boost::beast::http::fields& to);

// Adds X-Forwarded-For (the incoming chain from every such header, then the peer),
// X-Forwarded-Proto and X-Forwarded-Host. Those two are the peer's own when it is a
// trusted proxy (--trusted-proxies) and sent them, and ours (the scheme and Host we saw)
// otherwise.
void add_forwarded(boost::beast::http::fields& to, const boost::beast::http::fields& original,
                   const std::string& client_address, bool client_tls, bool trusted_peer);

}  // namespace wsproxy
