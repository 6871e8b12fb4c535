#pragma once
// The control plane's HTTP server on the admin port: /healthz, /readyz,
// /metrics, /connections, the /tap WebSocket and the web viewer at /. It runs
// on the admin thread's io_context and learns about the data plane only
// through the callbacks it is given (which read atomics or post to workers)
// and the tap hub, never by touching a session.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <string>

#include "proxy/options.hpp"

namespace wsproxy::tap {
class hub;
}

namespace wsproxy::admin {

struct admin_hooks {
    std::function<bool()> ready;           // false while draining
    std::function<std::string()> metrics;  // Prometheus text
    // /connections: gathers a snapshot from every worker and calls `done` with the JSON
    // text, on the admin thread.
    std::function<void(std::function<void(std::string)> done)> connections;
    tap::hub* tap{nullptr};  // /tap; outlives the admin server
    // Non-empty: everything but /healthz and /readyz needs "Authorization: Bearer <token>"
    // (or ?token=<token>, for a browser opening the viewer and its WebSocket).
    std::string token;
};

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
