#pragma once
// The control plane's HTTP server on the admin port: /healthz, /readyz,
// /metrics, /connections (live and lately closed), /connections/ID (one connection and its
// timeline), the /tap WebSocket (history first with ?history=N, then live) and the web
// viewer at /. It runs
// on the admin thread's io_context and learns about the data plane only
// through the callbacks it is given (which read atomics or post to workers)
// and the tap hub, never by touching a session.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/base/options.hpp"

namespace wsproxy::tap {
class hub;
}

namespace wsproxy::admin {

struct admin_hooks {
    std::function<bool()> ready;           // false while draining
    std::function<std::string()> metrics;  // Prometheus text
    // /connections: gathers a snapshot from every worker and calls `done` with the array of
    // live connections (by id), on the admin thread.
    std::function<void(std::function<void(nlohmann::json)> done)> connections;
    tap::hub* tap{nullptr};  // /tap; outlives the admin server
    // Non-empty: everything but /healthz and /readyz needs "Authorization: Bearer <token>"
    // (or ?token=<token>, for a browser opening the viewer and its WebSocket).
    std::string token;
    // Browser origins besides the admin port's own (--admin-allow-origin), and host
    // names besides loopback names and IP literals (--admin-allow-host).
    std::vector<std::string> allowed_origins;
    std::vector<std::string> allowed_hosts;
};

// DNS rebinding: a page at attacker.example whose name now resolves to this host sends
// "Host: attacker.example". IP literals and loopback names cannot be rebound; other
// names must be listed. True when `host` (a Host header, maybe with a port) may be served.
bool admin_host_allowed(std::string_view host, const std::vector<std::string>& allowed);
// A browser's Origin may use the admin port when it is the admin port itself (same
// scheme-less host:port as the Host header) or listed. No Origin: not a browser page.
bool admin_origin_allowed(std::string_view origin, std::string_view host,
                          const std::vector<std::string>& allowed);

class admin_server {
public:
    // Binds at once, so that a busy port is a startup error.
    admin_server(boost::asio::io_context& ioc, const host_port& where, admin_hooks hooks);
    ~admin_server();
    void start();
    void stop();
    unsigned short port() const;

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace wsproxy::admin
