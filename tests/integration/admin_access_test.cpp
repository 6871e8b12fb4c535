// Who may use the admin port (issue 14, admin plane): a browser page of another origin
// may not open /tap, and a request whose Host is a name we do not answer to (DNS
// rebinding) is refused, whatever the path.
#include <catch2/catch.hpp>

#include "http_peers.hpp"
#include "proxy_fixture.hpp"
#include "test_upstream.hpp"

using namespace http_test;
using relay_test::proxy_options_for;
using relay_test::running_proxy;

namespace {

std::string request(const std::string& target, const std::string& host,
                    const std::string& extra = "") {
    return "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\n" + extra + "\r\n";
}

std::string tap_upgrade(const std::string& host, const std::string& origin) {
    return request("/tap", host,
                   "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
                       (origin.empty() ? std::string() : "Origin: " + origin + "\r\n"));
}

unsigned status_of(unsigned short port, const std::string& bytes) {
    http_conn c(port);
    if (!c.send(bytes)) return 0;
    auto r = c.read();
    return r ? r->status : 0;
}

}  // namespace

TEST_CASE("the admin port answers to IP addresses, loopback names and listed names only",
          "[admin]") {
    test_upstream::server up;
    auto o = proxy_options_for(up.port());
    o.admin_allow_hosts = {"wsproxy-admin.chat.svc"};
    running_proxy proxy(o);
    auto port = proxy.admin_port();
    auto self = "127.0.0.1:" + std::to_string(port);
    CHECK(status_of(port, request("/metrics", self)) == 200);
    CHECK(status_of(port, request("/metrics", "localhost:" + std::to_string(port))) == 200);
    CHECK(status_of(port, request("/metrics", "[::1]:" + std::to_string(port))) == 200);
    CHECK(status_of(port, request("/metrics", "10.1.2.3:9090")) == 200);
    CHECK(status_of(port, request("/metrics", "wsproxy-admin.chat.svc:9090")) == 200);
    // A page at attacker.example whose name was rebound to 127.0.0.1.
    CHECK(status_of(port, request("/metrics", "attacker.example:" + std::to_string(port))) == 421);
    CHECK(status_of(port, request("/connections", "attacker.example")) == 421);
    CHECK(status_of(port, tap_upgrade("attacker.example", "http://attacker.example")) == 421);
    // Probes tell nothing and come by any name (a Service's, a helm test pod's).
    CHECK(status_of(port, request("/readyz", "wsproxy.other-namespace.svc")) == 200);
    CHECK(status_of(port, request("/healthz", "anything.example")) == 200);
}

TEST_CASE("/tap accepts a browser only from its own origin or a listed one", "[admin]") {
    test_upstream::server up;
    auto o = proxy_options_for(up.port());
    o.admin_allow_origins = {"https://viewer.example"};
    running_proxy proxy(o);
    auto port = proxy.admin_port();
    auto self = "127.0.0.1:" + std::to_string(port);
    CHECK(status_of(port, tap_upgrade(self, "http://" + self)) == 101);
    CHECK(status_of(port, tap_upgrade(self, "https://viewer.example")) == 101);
    CHECK(status_of(port, tap_upgrade(self, "")) == 101);  // not a browser: wsproxy tap
    CHECK(status_of(port, tap_upgrade(self, "http://evil.example")) == 403);
    CHECK(status_of(port, tap_upgrade(self, "null")) == 403);
    CHECK(status_of(port, request("/", self, "Origin: http://evil.example\r\n")) == 403);
}
