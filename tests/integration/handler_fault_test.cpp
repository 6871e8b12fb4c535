// A pair whose handler throws (a bug, std::bad_alloc) is torn down whole: the connection
// is closed, its registrations and the connection gauges are released, the failure is
// logged once with the connection id, and the worker thread goes on serving the others.
// The fault is injected through ws_pair::fault_for_tests, which throws on one payload.
#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

#include "proxy/relay/ws_pair.hpp"
#include "proxy_fixture.hpp"
#include "relay_client.hpp"
#include "test_upstream.hpp"

using namespace relay_test;

namespace {

void throw_on_boom(std::string_view payload) {
    if (payload == "boom") throw std::runtime_error("injected fault");
}

// Sets the hook for one test and always clears it, even when the test fails.
struct fault_injected {
    fault_injected() { wsproxy::ws_pair::fault_for_tests = throw_on_boom; }
    ~fault_injected() { wsproxy::ws_pair::fault_for_tests = nullptr; }
};

}  // namespace

TEST_CASE("a pair whose handler throws is closed and leaves no registration or gauge behind",
          "[fault]") {
    test_upstream::server up;
    auto opts = proxy_options_for(up.port());
    opts.threads = 1;  // the bystander shares the failing pair's worker thread
    running_proxy proxy(std::move(opts));
    fault_injected hook;

    client bystander;
    REQUIRE_FALSE(bystander.connect(proxy.port()));
    client victim;
    client_options with_session;
    with_session.headers = {{"Cookie", "mip_session=fault-test"}};
    REQUIRE_FALSE(victim.connect(proxy.port(), with_session));
    REQUIRE_FALSE(victim.send("fine"));
    CHECK(victim.read().data == "fine");
    REQUIRE(metric(proxy, "wsproxy_connections_active") == 2);

    REQUIRE_FALSE(victim.send("boom"));
    // The socket is closed under it: the client's read ends, without the upstream's echo.
    auto m = victim.read();
    CHECK(m.ec);
    CHECK(m.data.empty());
    // Both legs released: the upstream saw its connection end, the slot and gauge came back.
    CHECK(eventually([&] { return up.connections_closed() == 1; }));
    CHECK(eventually([&] { return proxy.server->connections() == 1; }));
    CHECK(metric(proxy, "wsproxy_connections_active") == 1);
    CHECK(metric(proxy, "wsproxy_connections_closed_total", {{"reason", "error"}}) == 1);

    // The worker thread still serves the bystander, and new connections.
    REQUIRE_FALSE(bystander.send("still here"));
    CHECK(bystander.read().data == "still here");
    client fresh;
    REQUIRE_FALSE(fresh.connect(proxy.port(), with_session));
    REQUIRE_FALSE(fresh.send("fresh"));
    CHECK(fresh.read().data == "fresh");
    CHECK(metric(proxy, "wsproxy_connections_active") == 2);
}
