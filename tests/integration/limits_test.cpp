// Limits that relay_test.cpp does not already cover, each configurable and counted:
// inspection depth and size (rules `limits:`), the message size limit on a fragmented
// message, and the connection limit freeing its slots when connections end.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "proxy_fixture.hpp"
#include "raw_client.hpp"
#include "relay_client.hpp"
#include "test_upstream.hpp"

using namespace relay_test;
namespace websocket = boost::beast::websocket;

namespace {

// A rules file in a temporary folder, removed with the object.
struct rules_file {
    std::filesystem::path path;
    explicit rules_file(const std::string& yaml) {
        static int n = 0;
        path = std::filesystem::temp_directory_path() /
               ("wsproxy-limits-" + std::to_string(::getpid()) + "-" + std::to_string(++n) + ".yaml");
        std::ofstream(path) << yaml;
    }
    ~rules_file() { std::filesystem::remove(path); }
};

}  // namespace

TEST_CASE("frames beyond limits.max_depth or max_inspect_bytes are relayed unchanged and counted",
          "[limits]") {
    rules_file rules("limits:\n  max_depth: 4\n  max_inspect_bytes: 1024\n");
    test_upstream::server up;
    auto o = proxy_options_for(up.port());
    o.rules_file = rules.path.string();
    running_proxy proxy(o);
    client c;
    REQUIRE_FALSE(c.connect(proxy.port()));

    // Depth 4 is inspected; depth 5 is not.
    std::string shallow = R"({"type":"ping","data":{"a":{"b":{"c":1}}}})";
    std::string deep = R"({"type":"ping","data":{"a":{"b":{"c":{"d":1}}}}})";
    REQUIRE_FALSE(c.send(shallow));
    CHECK(c.read().data == shallow);
    CHECK(metric(proxy, "wsproxy_frames_uninspected_total", {{"reason", "too_deep"}}) == 0);
    REQUIRE_FALSE(c.send(deep));
    CHECK(c.read().data == deep);
    // Once each way: the upstream echoes it.
    CHECK(metric(proxy, "wsproxy_frames_uninspected_total", {{"reason", "too_deep"}}) == 2);

    // Over 1024 bytes: relayed without being parsed, whatever it holds.
    std::string big = R"({"type":"send_message","data":{"chat_id":"c1","content":")" +
                      std::string(2000, 'x') + "\"}}";
    REQUIRE_FALSE(c.send(big));
    CHECK(c.read().data == big);
    CHECK(metric(proxy, "wsproxy_frames_uninspected_total", {{"reason", "too_large"}}) == 2);
    // Not inspected means no join was injected for c1.
    CHECK(metric(proxy, "wsproxy_join_chat_total", {{"source", "injected"}}) == 0);
}

TEST_CASE("a fragmented message over --max-message-bytes closes its sender with 1009",
          "[limits]") {
    test_upstream::server up;
    auto o = proxy_options_for(up.port());
    o.max_message_bytes = 4096;
    running_proxy proxy(o);
    client c;
    REQUIRE_FALSE(c.connect(proxy.port()));
    // Each fragment is under the limit; the message is not.
    REQUIRE_FALSE(c.send_fragmented({std::string(1500, 'a'), std::string(1500, 'b'),
                                     std::string(1500, 'c')}));
    auto reason = c.read_until_closed();
    CHECK(reason.code == websocket::close_code::too_big);
    REQUIRE(eventually([&] { return !up.close_codes().empty(); }));
    CHECK(up.close_codes().front() == 1001);
    CHECK(metric(proxy, "wsproxy_connections_closed_total", {{"reason", "too_big"}}) == 1);
}

TEST_CASE("a sender still sending when the limit hits reads its 1009, never a reset",
          "[limits]") {
    // 2 MiB in eight 256 KiB fragments against a 1 MiB limit, written in one go: when the
    // proxy refuses the message, the rest is still arriving. Closing over those unread
    // bytes sends a reset, which destroys the close frame in the client's receive buffer
    // (it saw 1006, 2 times in 4). The proxy half-closes and drops the rest instead.
    test_upstream::server up;
    auto o = proxy_options_for(up.port());
    o.max_message_bytes = 1 << 20;
    running_proxy proxy(o);
    std::string message;
    for (int i = 0; i < 8; ++i)
        message += make_frame(i == 0 ? 0x2 : 0x0, std::string(256 << 10, 'x'), i == 7);
    for (int round = 0; round < 6; ++round) {
        INFO("round " << round);
        raw_client r;
        REQUIRE(r.upgrade(proxy.port()));
        CHECK(r.write(message));
        CHECK(r.read_close_code() == 1009);
    }
    CHECK(eventually(
        [&] { return metric(proxy, "wsproxy_connections_closed_total", {{"reason", "too_big"}}) == 6; }));
}

TEST_CASE("connection slots are given back when connections end, however they end",
          "[limits]") {
    test_upstream::server up;
    auto o = proxy_options_for(up.port());
    o.max_connections = 2;
    running_proxy proxy(o);
    for (int round = 0; round < 3; ++round) {
        INFO("round " << round);
        client a, b, refused;
        REQUIRE_FALSE(a.connect(proxy.port()));
        REQUIRE_FALSE(b.connect(proxy.port()));
        REQUIRE(refused.connect(proxy.port()) == websocket::error::upgrade_declined);
        CHECK(refused.response().result_int() == 503);
        // One closes cleanly, the other vanishes.
        REQUIRE_FALSE(a.close());
        b.vanish();
        REQUIRE(eventually([&] { return proxy.server->connections() == 0; }));
    }
    CHECK(metric(proxy, "wsproxy_rejected_total", {{"reason", "max_connections"}}) == 3);
    CHECK(metric(proxy, "wsproxy_connections_active") == 0);
}

TEST_CASE("an upgrade that fails upstream gives its connection slot back", "[limits]") {
    unsigned short dead_port;
    {
        test_upstream::server gone;
        dead_port = gone.port();
    }
    auto o = proxy_options_for(dead_port);
    o.max_connections = 1;
    running_proxy proxy(o);
    for (int i = 0; i < 3; ++i) {
        client c;
        REQUIRE(c.connect(proxy.port()) == websocket::error::upgrade_declined);
        CHECK(c.response().result_int() == 502);  // never 503: the slot was released
        REQUIRE(eventually([&] { return proxy.server->connections() == 0; }));
    }
}
