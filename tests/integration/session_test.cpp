// Every way a chat becomes known (issue 8), through real sockets against an
// in-process chat-backend --no-auto-register: REST messages of the socket's
// browser session, rejoin after a reconnect, chat switching, rules reload, and
// a second protocol shape described only by a rules file.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "backend_fixture.hpp"
#include "http_peers.hpp"
#include "proxy_fixture.hpp"
#include "ws_test_client.hpp"

using namespace std::chrono_literals;
namespace fs = std::filesystem;

using backend_test::backend_fixture;

namespace {

std::string chat_uuid(int i) { return backend_test::chat_uuid(i, 9000); }

ws_test::connect_options with_session(const std::string& session) {
    ws_test::connect_options o;
    o.extra_headers = {{"Cookie", "theme=dark; mip_session=" + session}};
    return o;
}

void connect_ready(ws_test::client& c, unsigned short port, const std::string& session) {
    REQUIRE_FALSE(c.connect(port, "/ws/chat?tenant_id=miptech-company", with_session(session)));
    REQUIRE(c.read_until("connection_ready"));
}

ws_test::http_result rest_message(unsigned short port, const std::string& chat,
                                  const std::string& session) {
    ws_test::headers h;
    if (!session.empty()) h.emplace_back("Cookie", "mip_session=" + session);
    return ws_test::http_request(port, ws_test::http::verb::post,
                                 "/api/v1/chats/" + chat + "/messages", R"({"content":"via rest"})",
                                 h);
}

struct temp_rules {
    explicit temp_rules(const std::string& text) {
        path = fs::temp_directory_path() /
               ("wsproxy-rules-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()) +
                ".yaml");
        write(text);
    }
    ~temp_rules() { fs::remove(path); }
    void write(const std::string& text) {
        // Write aside, then rename: the way a ConfigMap update swaps the file.
        auto tmp = path.string() + ".new";
        std::ofstream(tmp) << text;
        fs::rename(tmp, path);
    }
    fs::path path;
};

}  // namespace

TEST_CASE("a REST message joins every tab of its own session and never another session's",
          "[session]") {
    backend_fixture backend;
    relay_test::running_proxy proxy(relay_test::proxy_options_for(backend.server->port()));
    auto chat = chat_uuid(1);
    ws_test::client tab1, tab2, other;
    connect_ready(tab1, proxy.port(), "alice");
    connect_ready(tab2, proxy.port(), "alice");
    connect_ready(other, proxy.port(), "bob");

    auto r = rest_message(proxy.port(), chat, "alice");
    REQUIRE(r.res.result_int() == 202);
    for (auto* tab : {&tab1, &tab2}) {
        std::vector<nlohmann::json> seen;
        auto done = tab->read_until("response_complete", 5s, &seen);
        REQUIRE(done);
        CHECK((*done)["data"]["content"] == "Echo: via rest");
        for (auto& f : seen) CHECK(f["type"] != "chat_joined");
    }
    CHECK_FALSE(other.read_until("response_start", 300ms));
    CHECK(backend.server->members(chat) == 2);
    CHECK(backend.log.count("No clients registered") == 0);
    CHECK(metric(proxy, "wsproxy_join_chat_total", {{"source", "injected"}}) == 2);
    CHECK(metric(proxy, "wsproxy_user_messages_total", {{"registered", "true"}}) == 1);
    CHECK(metric(proxy, "wsproxy_rest_join_wait_total", {{"result", "acknowledged"}}) == 1);

    // A REST message of a session with no socket here is forwarded as is, and counted.
    REQUIRE(rest_message(proxy.port(), chat_uuid(2), "carol").res.result_int() == 202);
    CHECK(backend.log.wait_for("No clients registered for specific chat " + chat_uuid(2)));
    CHECK(metric(proxy, "wsproxy_user_messages_total", {{"registered", "false"}}) == 1);
}

TEST_CASE("a REST message whose join the backend refuses is forwarded at once, not after rest.wait_ms",
          "[session]") {
    auto refused = chat_uuid(6);
    backend_fixture backend(1, chat_backend::dialect_kind::standard, {refused});
    // A hold long enough that only the refusal can release it before the test's read gives up.
    temp_rules rules("rest:\n  wait_ms: 20000\n");
    auto opts = relay_test::proxy_options_for(backend.server->port());
    opts.rules_file = rules.path.string();
    relay_test::running_proxy proxy(opts);
    ws_test::client tab;
    connect_ready(tab, proxy.port(), "grace");

    auto r = rest_message(proxy.port(), refused, "grace");
    REQUIRE_FALSE(r.ec);
    CHECK(r.res.result_int() == 202);
    CHECK(metric(proxy, "wsproxy_rest_join_wait_total", {{"result", "failed"}}) == 1);
    CHECK(metric(proxy, "wsproxy_rest_join_wait_total", {{"result", "timeout"}}) == 0);
    CHECK(metric(proxy, "wsproxy_rest_join_wait_total", {{"result", "acknowledged"}}) == 0);
    CHECK(metric(proxy, "wsproxy_user_messages_total", {{"registered", "false"}}) == 1);
    CHECK(backend.log.wait_for("No clients registered for specific chat " + refused));
    CHECK(backend.server->members(refused) == 0);
}

TEST_CASE("a late join answer for an earlier REST request settles nothing for the next one on "
          "the same connection",
          "[session]") {
    // X's join is answered after 1.2 s, Y's after 0.6 s; a hold lasts 1 s. Request A (chat
    // X) gives up at 1 s; request B (chat Y) starts then and must wait for Y's answer at
    // about 1.6 s, not be released by X's late answer at 1.2 s: released then, B's
    // message would reach the backend before the socket is in Y, and its answer be lost.
    auto x = chat_uuid(20), y = chat_uuid(21);
    backend_fixture backend(1, chat_backend::dialect_kind::standard, {}, {{x, 1200}, {y, 600}});
    temp_rules rules("rest:\n  wait_ms: 1000\n");
    auto opts = relay_test::proxy_options_for(backend.server->port());
    opts.rules_file = rules.path.string();
    relay_test::running_proxy proxy(opts);
    ws_test::client tab;
    connect_ready(tab, proxy.port(), "erin");

    http_test::http_conn rest(proxy.port());
    auto post = [](const std::string& chat) {
        std::string body = R"({"content":"via rest"})";
        return "POST /api/v1/chats/" + chat + "/messages HTTP/1.1\r\nHost: a\r\n"
               "Cookie: mip_session=erin\r\nContent-Type: application/json\r\n"
               "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    };
    REQUIRE(rest.send(post(x)));
    auto a = rest.read_final();
    REQUIRE(a);
    CHECK(a->status == 202);
    CHECK(metric(proxy, "wsproxy_rest_join_wait_total", {{"result", "timeout"}}) == 1);

    REQUIRE(rest.send(post(y)));
    auto b = rest.read_final();
    REQUIRE(b);
    CHECK(b->status == 202);
    CHECK(metric(proxy, "wsproxy_rest_join_wait_total", {{"result", "acknowledged"}}) == 1);
    // B's answer reaches the tab: the socket was in Y before B's message reached the backend.
    bool answered = false;
    for (int i = 0; i < 4 && !answered; ++i) {
        auto done = tab.read_until("response_complete", 5s);
        answered = done && (*done)["data"]["chat_id"] == y;
    }
    CHECK(answered);
    CHECK(backend.log.count("No clients registered for specific chat " + y) == 0);
}

TEST_CASE("a drain waits for a REST message held for a join, even when its sockets are gone",
          "[session]") {
    // The join is answered after 1.5 s. The drain starts while the message is held, and the
    // tab then closes its socket: no WebSocket is left, but the held request is work in
    // flight, and the process must answer it before it ends.
    auto x = chat_uuid(30);
    backend_fixture backend(1, chat_backend::dialect_kind::standard, {}, {{x, 1500}});
    temp_rules rules("rest:\n  wait_ms: 5000\n");
    auto opts = relay_test::proxy_options_for(backend.server->port());
    opts.rules_file = rules.path.string();
    opts.drain_timeout = 10;
    relay_test::running_proxy proxy(opts);
    ws_test::client tab;
    connect_ready(tab, proxy.port(), "fran");

    http_test::http_conn rest(proxy.port());
    std::string body = R"({"content":"via rest"})";
    REQUIRE(rest.send("POST /api/v1/chats/" + x + "/messages HTTP/1.1\r\nHost: a\r\n"
                      "Cookie: mip_session=fran\r\nContent-Type: application/json\r\n"
                      "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));
    // Held: its join went upstream.
    REQUIRE(relay_test::eventually(
        [&] { return metric(proxy, "wsproxy_join_chat_total", {{"source", "injected"}}) == 1; }));
    proxy.server->begin_drain();
    tab.close();
    auto r = rest.read_final();
    REQUIRE(r);
    CHECK(r->status == 202);
    CHECK_FALSE(r->keep_alive);
    CHECK(rest.closed());
    proxy.server->wait();
}

TEST_CASE("a tab that reconnects is joined again to its session's chat", "[session]") {
    backend_fixture backend;
    relay_test::running_proxy proxy(relay_test::proxy_options_for(backend.server->port()));
    auto chat = chat_uuid(3);
    {
        ws_test::client tab;
        connect_ready(tab, proxy.port(), "dave");
        REQUIRE_FALSE(tab.send_json(
            {{"type", "send_message"}, {"data", {{"chat_id", chat}, {"content", "first"}}}}));
        REQUIRE(tab.read_until("response_complete"));
        REQUIRE_FALSE(tab.close());
    }
    REQUIRE(relay_test::eventually([&] { return backend.server->members(chat) == 0; }));
    ws_test::client again;
    connect_ready(again, proxy.port(), "dave");
    // Nothing sent: after the grace period the proxy joins the remembered chat.
    REQUIRE(relay_test::eventually([&] { return backend.server->members(chat) == 1; }));
    REQUIRE(rest_message(proxy.port(), chat, "").res.result_int() == 202);
    auto done = again.read_until("response_complete");
    REQUIRE(done);
    CHECK((*done)["data"]["content"] == "Echo: via rest");

    // Another session's new socket is not joined to dave's chat.
    ws_test::client stranger;
    connect_ready(stranger, proxy.port(), "eve");
    CHECK_FALSE(stranger.read_until("chat_joined", 600ms));
    CHECK(backend.server->members(chat) == 1);
}

TEST_CASE("with single_chat, switching chats leaves the old one first", "[session]") {
    backend_fixture backend;
    temp_rules rules("policy:\n  single_chat: true\n");
    auto opts = relay_test::proxy_options_for(backend.server->port());
    opts.rules_file = rules.path.string();
    relay_test::running_proxy proxy(opts);
    auto a = chat_uuid(4), b = chat_uuid(5);
    ws_test::client tab;
    connect_ready(tab, proxy.port(), "frank");
    REQUIRE_FALSE(tab.send_json({{"type", "join_chat"}, {"data", {{"chat_id", a}}}}));
    REQUIRE(tab.read_until("chat_joined"));
    REQUIRE_FALSE(tab.send_json(
        {{"type", "send_message"}, {"data", {{"chat_id", b}, {"content", "switch"}}}}));
    std::vector<nlohmann::json> seen;
    REQUIRE(tab.read_until("response_complete", 5s, &seen));
    for (auto& f : seen) {
        CHECK(f["type"] != "chat_left");
        CHECK(f["type"] != "chat_joined");
    }
    CHECK(backend.server->members(a) == 0);
    CHECK(backend.server->members(b) == 1);
    CHECK(metric(proxy, "wsproxy_leave_injected_total") == 1);
}

TEST_CASE("reloaded rules apply to new connections, and a bad file keeps the old rules",
          "[session][reload]") {
    backend_fixture backend;
    temp_rules rules("mode: observe\n");
    auto opts = relay_test::proxy_options_for(backend.server->port());
    opts.rules_file = rules.path.string();
    relay_test::running_proxy proxy(opts);
    auto send = [&](ws_test::client& c, const std::string& chat) {
        REQUIRE_FALSE(c.send_json(
            {{"type", "send_message"}, {"data", {{"chat_id", chat}, {"content", "r"}}}}));
    };

    ws_test::client before;
    connect_ready(before, proxy.port(), "g1");

    rules.write("mode: fix\n");
    REQUIRE(proxy.server->reload_rules());
    CHECK(metric(proxy, "wsproxy_rules_reload_total", {{"result", "success"}}) == 1);

    ws_test::client after;
    connect_ready(after, proxy.port(), "g2");
    send(after, chat_uuid(6));
    CHECK(after.read_until("response_complete"));  // new rules: fix mode
    send(before, chat_uuid(7));
    CHECK_FALSE(before.read_until("response_complete", 300ms));  // kept its observe rules

    rules.write("mode: [broken\n");
    CHECK_FALSE(proxy.server->reload_rules());
    CHECK(metric(proxy, "wsproxy_rules_reload_total", {{"result", "failure"}}) == 1);
    ws_test::client third;
    connect_ready(third, proxy.port(), "g3");
    send(third, chat_uuid(8));
    CHECK(third.read_until("response_complete"));  // still fix mode

    // A change on disk is noticed without a signal.
    rules.write("mode: fix\npolicy:\n  grace_ms: 100\n");
    CHECK(relay_test::eventually(
        [&] { return metric(proxy, "wsproxy_rules_reload_total", {{"result", "success"}}) == 2; },
        5s));
}

TEST_CASE("a backend with other names and places is repaired by a rules file alone",
          "[session][dialect]") {
    backend_fixture backend(1, chat_backend::dialect_kind::rooms);
    auto opts = relay_test::proxy_options_for(backend.server->port());
    opts.rules_file = std::string(WSPROXY_SOURCE_DIR) + "/rules/examples/rooms.yaml";
    relay_test::running_proxy proxy(opts);
    ws_test::client c;
    REQUIRE_FALSE(c.connect(proxy.port(), "/rt/rooms/lobby"));
    REQUIRE(c.read_until("ready", 5s, nullptr, "event"));
    REQUIRE_FALSE(c.send_json({{"event", "post"}, {"payload", {{"room", "kitchen"}, {"text", "hi"}}}}));
    std::vector<nlohmann::json> seen;
    auto done = c.read_until("answer_end", 5s, &seen, "event");
    REQUIRE(done);
    CHECK((*done)["payload"]["room"] == "kitchen");
    for (auto& f : seen) CHECK(f["event"] != "subscribed");
    CHECK(backend.server->members("kitchen") == 1);
    // The room in the URL path is joined after the grace period.
    CHECK(relay_test::eventually([&] { return backend.server->members("lobby") == 1; }));
    CHECK(backend.log.count("No clients registered") == 0);
}
