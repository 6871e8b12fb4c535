#pragma once
// Starts wsproxy in-process on 127.0.0.1 with free ports, in front of a given upstream.
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "proxy/base/options.hpp"
#include "metrics/registry.hpp"
#include "proxy/server.hpp"

namespace relay_test {

inline wsproxy::proxy_options proxy_options_for(unsigned short upstream_port, bool tls = false,
                                                const std::string& host = "127.0.0.1") {
    wsproxy::proxy_options o;
    o.listen = {"127.0.0.1", 0};
    o.admin = {"127.0.0.1", 0};
    o.threads = 2;
    o.upstream = wsproxy::parse_upstream((tls ? "wss://" : "ws://") + host + ":" +
                                         std::to_string(upstream_port));
    return o;
}

struct running_proxy {
    explicit running_proxy(wsproxy::proxy_options o)
        : server(std::make_unique<wsproxy::server>(std::move(o))) {
        server->start();
    }
    ~running_proxy() {
        server->stop();
        server->wait();
    }
    unsigned short port() const { return server->port(); }
    unsigned short admin_port() const { return server->admin_port(); }
    std::unique_ptr<wsproxy::server> server;
};

// The value of one series of the proxy's metrics (0 when it was never counted).
inline double metric(const running_proxy& p, std::string_view name,
                     const wsproxy::metrics::label_list& labels = {}) {
    return p.server->metrics().value(name, labels);
}

// Waits (bounded) until `condition` holds; true if it did.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return condition();
}

}  // namespace relay_test
