#pragma once
// The whole proxy in one object: rules, TLS contexts, metrics, the worker
// threads, the listener and the admin server. main() and the integration
// tests both drive it. Created and controlled from one thread (the caller's).
#include <cstddef>
#include <memory>

#include "proxy/base/options.hpp"

namespace wsproxy {
namespace metrics {
class registry;
}

class server {
public:
    // Loads the rules and TLS material and binds both ports (port 0 picks a free one).
    // Throws startup_error with a message that says what to fix.
    explicit server(proxy_options opts);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    // Starts the worker threads, the acceptor and the admin thread.
    void start();
    unsigned short port() const;
    unsigned short admin_port() const;

    // Graceful drain, as on SIGTERM: /readyz fails, no new connections, and
    // after --drain-timeout the remaining sessions are closed with 1001.
    // wait() returns once they are gone.
    void begin_drain();
    // Blocks until the server has stopped (after a drain, or stop()).
    void wait();
    // Stops at once: every thread ends, connections are dropped.
    void stop();

    // Re-reads --rules (SIGHUP, or the file changed on disk). New connections get
    // the new rules, live ones keep theirs. A bad file is logged and counted, and
    // the rules in force stay. Any thread. Returns whether the new rules were taken.
    bool reload_rules();

    metrics::registry& metrics();
    std::size_t connections() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace wsproxy
