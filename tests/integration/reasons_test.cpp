// Why a frame was injected or hidden, as the live tap shows it (issue 16 item 1): through real
// sockets, against an in-process chat-backend --no-auto-register, with a /tap subscriber.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "backend_fixture.hpp"
#include "proxy_fixture.hpp"
#include "relay_client.hpp"
#include "ws_test_client.hpp"

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

std::string chat_uuid(int i) { return backend_test::chat_uuid(i, 9700); }

// A /tap subscriber; connect() returns once the proxy has registered it.
struct tap_client {
    relay_test::client ws;

    bool connect(unsigned short admin_port, const std::string& query = "") {
        relay_test::client_options o;
        o.target = "/tap" + query;
        if (ws.connect(admin_port, o)) return false;
        auto m = ws.read();
        return !m.ec && json::parse(m.data).contains("tap");
    }

    // Frame events until one matches `want`, or 5 s have passed; that event, or null.
    json until(const std::function<bool(const json&)>& want) {
        auto deadline = std::chrono::steady_clock::now() + 5s;
        while (std::chrono::steady_clock::now() < deadline) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            auto m = ws.read_for(left);
            if (m.ec) break;
            auto j = json::parse(m.data);
            if (j.contains("conn") && want(j)) return j;
        }
        return nullptr;
    }
};

auto injected(const std::string& type) {
    return [type](const json& e) { return e["flags"]["injected"] == true && e["type"] == type; };
}
auto hidden(const std::string& type) {
    return [type](const json& e) { return e["flags"]["hidden"] == true && e["type"] == type; };
}

ws_test::connect_options with_session(const std::string& session) {
    ws_test::connect_options o;
    o.extra_headers = {{"Cookie", "mip_session=" + session}};
    return o;
}

nlohmann::json send_message(const std::string& chat) {
    return {{"type", "send_message"}, {"data", {{"chat_id", chat}, {"content", "hi"}}}};
}

}  // namespace

TEST_CASE("the tap says why a join was injected and its answer hidden: a frame named the chat",
          "[reasons][tap]") {
    backend_test::backend_fixture backend;
    relay_test::running_proxy proxy(relay_test::proxy_options_for(backend.server->port()));
    tap_client tap;
    REQUIRE(tap.connect(proxy.admin_port()));
    ws_test::client c;
    REQUIRE_FALSE(c.connect(proxy.port(), "/ws/chat"));
    REQUIRE(c.read_until("connection_ready"));
    REQUIRE_FALSE(c.send_json(send_message(chat_uuid(1))));
    auto join = tap.until(injected("join_chat"));
    REQUIRE(join.is_object());
    CHECK(join["reason"] == "frame");
    CHECK(join["cause"] == "send_message");
    auto answer = tap.until(hidden("chat_joined"));
    REQUIRE(answer.is_object());
    CHECK(answer["reason"] == "frame");
    CHECK(answer["cause"] == "send_message");
    // The client's own frames carry no reason.
    auto own = tap.until([](const json& e) { return e["type"] == "response_complete"; });
    REQUIRE(own.is_object());
    CHECK_FALSE(own.contains("reason"));
}

TEST_CASE("the tap names the REST request behind a join, and the earlier connection behind a rejoin",
          "[reasons][tap][session]") {
    backend_test::backend_fixture backend;
    relay_test::running_proxy proxy(relay_test::proxy_options_for(backend.server->port()));
    tap_client tap;
    REQUIRE(tap.connect(proxy.admin_port()));
    const auto chat = chat_uuid(2);
    std::uint64_t first_conn = 0;
    {
        ws_test::client tab;
        REQUIRE_FALSE(tab.connect(proxy.port(), "/ws/chat", with_session("reasons")));
        REQUIRE(tab.read_until("connection_ready"));
        auto r = ws_test::http_request(proxy.port(), ws_test::http::verb::post,
                                       "/api/v1/chats/" + chat + "/messages?x=1",
                                       R"({"content":"rest"})", {{"Cookie", "mip_session=reasons"}});
        REQUIRE(r.res.result_int() == 202);
        auto join = tap.until(injected("join_chat"));
        REQUIRE(join.is_object());
        CHECK(join["reason"] == "rest_session");
        CHECK(join["cause"] == "POST /api/v1/chats/" + chat + "/messages");  // no query
        first_conn = join["conn"].get<std::uint64_t>();
        REQUIRE(tab.read_until("response_complete"));
    }
    // A new tab of the session that joins nothing is joined again after the grace period.
    ws_test::client again;
    REQUIRE_FALSE(again.connect(proxy.port(), "/ws/chat", with_session("reasons")));
    REQUIRE(again.read_until("connection_ready"));
    auto rejoin = tap.until(injected("join_chat"));
    REQUIRE(rejoin.is_object());
    CHECK(rejoin["reason"] == "rejoin");
    CHECK(rejoin["cause"] == std::to_string(first_conn));
    CHECK(rejoin["conn"] != first_conn);
    CHECK(rejoin["chat_id"] == chat);
}
