#pragma once
// The control plane's HTTP server on the admin port: /healthz, /readyz and
// /metrics. It runs on the admin thread's io_context and learns about the
// data plane only through the callbacks it is given (which read atomics or
// post to workers), never by touching a session.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <string>

#include "proxy/options.hpp"

namespace wsproxy::admin {

struct admin_hooks {
    std::function<bool()> ready;           // false while draining
    std::function<std::string()> metrics;  // Prometheus text
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
