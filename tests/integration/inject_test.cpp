// join_chat injection through real sockets: wsproxy in front of an in-process
// chat-backend started with --no-auto-register, as in the seed's bug report.
#include <catch2/catch.hpp>
#include <map>

#include "backend_fixture.hpp"
#include "proxy_fixture.hpp"
#include "ws_test_client.hpp"

using namespace std::chrono_literals;

using backend_test::backend_fixture;

namespace {

std::string chat_uuid(int i) { return backend_test::chat_uuid(i, 8000); }

nlohmann::json send_message(const std::string& chat, const std::string& content) {
    return {{"type", "send_message"}, {"data", {{"chat_id", chat}, {"content", content}}}};
}

// Connects like the broken frontend: waits for connection_ready and never joins.
void connect_ready(ws_test::client& c, unsigned short port, const std::string& query = "") {
    REQUIRE_FALSE(c.connect(port, "/ws/chat?tenant_id=miptech-company" + query));
    REQUIRE(c.read_until("connection_ready"));
}

}  // namespace

TEST_CASE("without the proxy a client that never joins gets no answer and the backend says so",
          "[inject]") {
    backend_fixture backend;
    ws_test::client c;
    connect_ready(c, backend.server->port());
    REQUIRE_FALSE(c.send_json(send_message(chat_uuid(1), "hi")));
    CHECK(backend.log.wait_for("No clients registered for specific chat " + chat_uuid(1)));
    CHECK_FALSE(c.read_until("response_complete", 300ms));
}

TEST_CASE("through the proxy a client that never joins gets its streamed answer and metrics are exact",
          "[inject]") {
    backend_fixture backend;
    relay_test::running_proxy proxy(relay_test::proxy_options_for(backend.server->port()));
    ws_test::client c;
    connect_ready(c, proxy.port());
    REQUIRE_FALSE(c.send_json(send_message(chat_uuid(2), "hello")));
    std::vector<nlohmann::json> seen;
    auto done = c.read_until("response_complete", 5s, &seen);
    REQUIRE(done);
    CHECK((*done)["data"]["content"] == "Echo: hello");
    // The join answer was for the proxy's own join_chat: the client does not see it.
    for (auto& f : seen) CHECK(f["type"] != "chat_joined");
    CHECK(backend.log.count("No clients registered") == 0);
    CHECK(backend.log.count("joined chat " + chat_uuid(2)) == 1);
    CHECK(metric(proxy, "wsproxy_join_chat_total", {{"source", "injected"}}) == 1);
    CHECK(metric(proxy, "wsproxy_join_chat_total", {{"source", "client"}}) == 0);
    CHECK(metric(proxy, "wsproxy_join_missing_total") == 1);
    CHECK(metric(proxy, "wsproxy_chat_joined_total", {{"success", "true"}}) == 1);
    CHECK(metric(proxy, "wsproxy_user_messages_total", {{"registered", "true"}}) == 1);
    CHECK(metric(proxy, "wsproxy_user_messages_total", {{"registered", "false"}}) == 0);
    CHECK(metric(proxy, "wsproxy_client_id_total", {{"result", "captured"}}) == 1);
    CHECK(metric(proxy, "wsproxy_isolation_violations_total") == 0);
    CHECK(metric(proxy, "wsproxy_frames_total",
                 {{"direction", "client_to_server"}, {"type", "send_message"}}) == 1);
    CHECK(metric(proxy, "wsproxy_frames_total",
                 {{"direction", "server_to_client"}, {"type", "response_chunk"}}) == 3);
    CHECK(metric(proxy, "wsproxy_connections_active") == 1);
}

TEST_CASE("a client with ?chat_id that never joins is joined once the grace period has passed",
          "[inject]") {
    backend_fixture backend;
    relay_test::running_proxy proxy(relay_test::proxy_options_for(backend.server->port()));
    auto chat = chat_uuid(3);
    ws_test::client c;
    connect_ready(c, proxy.port(), "&chat_id=" + chat);
    REQUIRE(relay_test::eventually([&] { return backend.server->members(chat) == 1; }));
    // A REST message (no socket frame at all) now reaches the socket.
    auto r = ws_test::http_request(proxy.port(), ws_test::http::verb::post,
                                   "/api/v1/chats/" + chat + "/messages", R"({"content":"rest"})");
    REQUIRE(r.res.result_int() == 202);
    std::vector<nlohmann::json> seen;
    REQUIRE(c.read_until("response_complete", 5s, &seen));
    for (auto& f : seen) CHECK(f["type"] != "chat_joined");
    CHECK(backend.log.count("No clients registered") == 0);
    CHECK(metric(proxy, "wsproxy_join_chat_total", {{"source", "injected"}}) == 1);
}

TEST_CASE("a client that joins inside the grace period is never joined twice", "[inject]") {
    backend_fixture backend;
    auto opts = relay_test::proxy_options_for(backend.server->port());
    relay_test::running_proxy proxy(opts);
    auto chat = chat_uuid(4);
    ws_test::client c;
    connect_ready(c, proxy.port(), "&chat_id=" + chat);
    REQUIRE_FALSE(c.send_json({{"type", "join_chat"}, {"data", {{"chat_id", chat}}}}));
    auto joined = c.read_until("chat_joined");  // the client's own join: its answer is shown
    REQUIRE(joined);
    CHECK((*joined)["data"]["success"] == true);
    REQUIRE_FALSE(c.send_json(send_message(chat, "after join")));
    REQUIRE(c.read_until("response_complete"));
    // Past the default 250 ms grace period: still exactly one join.
    CHECK_FALSE(c.read_until("chat_joined", 600ms));
    CHECK(backend.log.count("joined chat " + chat) == 1);
    CHECK(metric(proxy, "wsproxy_join_chat_total", {{"source", "client"}}) == 1);
    CHECK(metric(proxy, "wsproxy_join_chat_total", {{"source", "injected"}}) == 0);
    CHECK(metric(proxy, "wsproxy_join_missing_total") == 0);
}

TEST_CASE("in observe mode nothing changes and the unregistered count matches the backend's log",
          "[inject]") {
    backend_fixture backend;
    auto opts = relay_test::proxy_options_for(backend.server->port());
    opts.mode = "observe";
    relay_test::running_proxy proxy(opts);
    constexpr int n = 4;
    std::vector<std::unique_ptr<ws_test::client>> clients;
    for (int i = 0; i < n; ++i) {
        clients.push_back(std::make_unique<ws_test::client>());
        connect_ready(*clients.back(), proxy.port());
        REQUIRE_FALSE(clients.back()->send_json(send_message(chat_uuid(100 + i), "x")));
    }
    REQUIRE(backend.log.wait_for("No clients registered", 5s, n));
    for (auto& c : clients) CHECK_FALSE(c->read_until("response_complete", 200ms));
    CHECK(metric(proxy, "wsproxy_user_messages_total", {{"registered", "false"}}) ==
          backend.log.count("No clients registered"));
    CHECK(metric(proxy, "wsproxy_join_chat_total", {{"source", "injected"}}) == 0);
    CHECK(metric(proxy, "wsproxy_join_missing_total") == n);
}

TEST_CASE("500 concurrent clients that never join each get exactly their own answer",
          "[inject][load]") {
    backend_fixture backend(2);
    relay_test::running_proxy proxy(relay_test::proxy_options_for(backend.server->port()));
    constexpr int n = 500;
    std::vector<std::unique_ptr<ws_test::client>> clients;
    for (int i = 0; i < n; ++i) {
        clients.push_back(std::make_unique<ws_test::client>(10s));
        connect_ready(*clients.back(), proxy.port());
    }
    for (int i = 0; i < n; ++i)
        REQUIRE_FALSE(clients[i]->send_json(send_message(chat_uuid(1000 + i), "m" + std::to_string(i))));
    int answered = 0, foreign = 0;
    for (int i = 0; i < n; ++i) {
        std::vector<nlohmann::json> seen;
        auto done = clients[i]->read_until("response_complete", 10s, &seen);
        if (done && (*done)["data"]["content"] == "Echo: m" + std::to_string(i)) ++answered;
        seen.push_back(done.value_or(nlohmann::json::object()));
        for (auto& f : seen) {
            auto chat = f.value("chat_id", nlohmann::json());
            if (chat.is_string() && chat != chat_uuid(1000 + i)) ++foreign;
        }
    }
    CHECK(answered == n);
    CHECK(foreign == 0);
    CHECK(backend.log.count("No clients registered") == 0);
    CHECK(metric(proxy, "wsproxy_join_chat_total", {{"source", "injected"}}) == n);
    CHECK(metric(proxy, "wsproxy_user_messages_total", {{"registered", "true"}}) == n);
    CHECK(metric(proxy, "wsproxy_isolation_violations_total") == 0);
}
