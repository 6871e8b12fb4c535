// The live tap, /connections and the admin token, over real loopback sockets:
// the proxy in-process in front of an echo upstream or the demo chat backend,
// subscribers and clients as Beast clients with bounded waits.
#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backend_fixture.hpp"
#include "proxy_fixture.hpp"
#include "relay_client.hpp"
#include "test_upstream.hpp"

namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using relay_test::eventually;

// A /tap subscriber. connect() returns once the proxy has registered it (the hello line
// comes after the subscription), so frames sent afterwards are seen.
struct tap_client {
    relay_test::client ws;
    json hello;

    bool connect(unsigned short admin_port, const std::string& query = "",
                 std::vector<std::pair<std::string, std::string>> headers = {}) {
        relay_test::client_options o;
        o.target = "/tap" + query;
        o.headers = std::move(headers);
        if (ws.connect(admin_port, o)) return false;
        auto m = ws.read();
        if (m.ec) return false;
        hello = json::parse(m.data);
        return hello.contains("tap");
    }

    // Frame events (and drop notices, in `notices`) until `done` holds for the frames so
    // far, or the time is up.
    std::vector<json> frames_until(const std::function<bool(const std::vector<json>&)>& done,
                                   std::chrono::milliseconds limit = 5000ms) {
        std::vector<json> frames;
        auto deadline = std::chrono::steady_clock::now() + limit;
        while (!done(frames)) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left <= 0ms) break;
            auto m = ws.read_for(left);
            if (m.ec) break;
            auto j = json::parse(m.data);
            if (j.contains("conn"))
                frames.push_back(std::move(j));
            else if (j.contains("dropped"))
                notices.push_back(std::move(j));
        }
        return frames;
    }

    std::vector<json> frames(std::size_t n, std::chrono::milliseconds limit = 5000ms) {
        return frames_until([n](const std::vector<json>& f) { return f.size() >= n; }, limit);
    }

    std::vector<json> notices;
};

std::string frame(const std::string& type, const std::string& chat, const std::string& content = "hi") {
    return json{{"type", type}, {"data", {{"chat_id", chat}, {"content", content}}}}.dump();
}

// Sends one frame and reads its echo.
void round_trip(relay_test::client& c, const std::string& text) {
    REQUIRE_FALSE(c.send(text));
    auto m = c.read();
    REQUIRE_FALSE(m.ec);
}

// The proxy in observe mode: it injects nothing, so the tap shows exactly the client's frames
// and their echoes.
wsproxy::proxy_options observing(unsigned short upstream_port) {
    auto o = relay_test::proxy_options_for(upstream_port);
    o.mode = "observe";
    return o;
}

bool has_type(const std::vector<json>& frames, const std::string& type) {
    for (const auto& f : frames)
        if (f["type"] == type) return true;
    return false;
}

}  // namespace

TEST_CASE("a tap subscriber sees each frame with time, connection, direction, type, chat, size and flags",
          "[tap]") {
    test_upstream::server upstream;
    relay_test::running_proxy proxy(observing(upstream.port()));
    tap_client tap;
    REQUIRE(tap.connect(proxy.admin_port()));
    CHECK(tap.hello["tap"]["payloads"] == false);

    relay_test::client c;
    REQUIRE_FALSE(c.connect(proxy.port()));
    const std::string text = frame("typing_start", "chat-a");
    round_trip(c, text);

    auto frames = tap.frames_until([](const std::vector<json>& f) {
        return has_type(f, "typing_start") && f.back()["direction"] == "server_to_client";
    });
    REQUIRE(frames.size() >= 2);
    const json* up = nullptr;
    const json* down = nullptr;
    for (const auto& f : frames) {
        if (f["type"] != "typing_start") continue;
        (f["direction"] == "client_to_server" ? up : down) = &f;
    }
    REQUIRE(up);
    REQUIRE(down);
    CHECK((*up)["chat_id"] == "chat-a");
    CHECK((*up)["size"] == text.size());
    CHECK((*up)["conn"].get<std::uint64_t>() > 0);
    CHECK((*up)["conn"] == (*down)["conn"]);
    CHECK((*up)["time"].get<std::string>().size() == 24);  // 2025-01-31T12:34:56.789Z
    CHECK((*up)["flags"] == json{{"injected", false}, {"hidden", false}, {"replaced", false},
                                 {"invalid", false}, {"binary", false}, {"uninspected", false}});
    CHECK_FALSE(up->contains("payload"));

    SECTION("invalid and binary frames are flagged") {
        round_trip(c, "not json");
        REQUIRE_FALSE(c.send("\x01\x02", false));
        REQUIRE_FALSE(c.read().ec);
        auto more = tap.frames_until([](const std::vector<json>& f) {
            int binary = 0;
            for (auto& e : f) binary += e["flags"]["binary"].get<bool>();
            return binary >= 2;
        });
        bool invalid = false, binary = false;
        for (auto& e : more) {
            invalid = invalid || (e["flags"]["invalid"] == true && e["size"] == 8);
            binary = binary || (e["flags"]["binary"] == true && e["size"] == 2);
        }
        CHECK(invalid);
        CHECK(binary);
    }
}

TEST_CASE("tap filters select by chat_id, type, direction and connection, each repeatable", "[tap]") {
    test_upstream::server upstream;
    relay_test::running_proxy proxy(observing(upstream.port()));

    tap_client by_chat, by_type_dir, by_two_chats, bad;
    REQUIRE(by_chat.connect(proxy.admin_port(), "?chat_id=chat-b"));
    REQUIRE(by_type_dir.connect(proxy.admin_port(), "?type=typing_stop&direction=server_to_client"));
    REQUIRE(by_two_chats.connect(proxy.admin_port(), "?chat_id=chat-a&chat_id=chat-c"));
    relay_test::client_options bad_opts;
    bad_opts.target = "/tap?direction=sideways";
    CHECK(bad.ws.connect(proxy.admin_port(), bad_opts) == relay_test::websocket::error::upgrade_declined);
    CHECK(bad.ws.response().result_int() == 400);

    relay_test::client c1, c2;
    REQUIRE_FALSE(c1.connect(proxy.port()));
    REQUIRE_FALSE(c2.connect(proxy.port()));
    round_trip(c1, frame("typing_start", "chat-a"));
    round_trip(c2, frame("typing_start", "chat-b"));
    round_trip(c1, frame("typing_stop", "chat-b"));
    round_trip(c2, frame("typing_stop", "chat-c"));
    round_trip(c1, frame("ping", "end"));

    auto b = by_chat.frames(4);
    REQUIRE(b.size() == 4);
    for (auto& f : b) CHECK(f["chat_id"] == "chat-b");

    auto td = by_type_dir.frames(2);
    REQUIRE(td.size() == 2);
    for (auto& f : td) {
        CHECK(f["type"] == "typing_stop");
        CHECK(f["direction"] == "server_to_client");
    }
    CHECK(td[0]["chat_id"] == "chat-b");
    CHECK(td[1]["chat_id"] == "chat-c");

    auto two = by_two_chats.frames(4);
    REQUIRE(two.size() == 4);
    for (auto& f : two) CHECK((f["chat_id"] == "chat-a" || f["chat_id"] == "chat-c"));

    // Nothing else arrives for the filtered subscribers.
    CHECK(by_chat.frames(1, 200ms).empty());
    CHECK(by_type_dir.frames(1, 200ms).empty());

    SECTION("conn selects one connection") {
        auto conn = b[0]["conn"].get<std::uint64_t>();  // c2's id (typing_start chat-b)
        tap_client by_conn;
        REQUIRE(by_conn.connect(proxy.admin_port(), "?conn=" + std::to_string(conn) +
                                                      "&direction=client_to_server"));
        round_trip(c1, frame("ping", "x"));
        round_trip(c2, frame("ping", "y"));
        auto f = by_conn.frames(1);
        REQUIRE(f.size() == 1);
        CHECK(f[0]["conn"] == conn);
        CHECK(f[0]["chat_id"] == "y");
        CHECK(by_conn.frames(1, 200ms).empty());
    }
}

TEST_CASE("payloads stay out of the tap unless --tap-payloads, and then data.content is redacted",
          "[tap]") {
    test_upstream::server upstream;
    const std::string secret = "my card number is 4111";
    const std::string text = json{{"type", "send_message"},
                                  {"data", {{"chat_id", "chat-a"}, {"content", secret}, {"note", "n1"}}},
                                  {"meta", {{"token", "t0k"}}}}
                                 .dump();

    SECTION("by default: metadata only") {
        relay_test::running_proxy proxy(observing(upstream.port()));
        tap_client tap;
        REQUIRE(tap.connect(proxy.admin_port()));
        relay_test::client c;
        REQUIRE_FALSE(c.connect(proxy.port()));
        round_trip(c, text);
        auto frames = tap.frames(2);
        REQUIRE(frames.size() == 2);
        for (auto& f : frames) {
            CHECK_FALSE(f.contains("payload"));
            CHECK(f.dump().find(secret) == std::string::npos);
        }
    }

    SECTION("with --tap-payloads: the payload with data.content and --tap-redact paths redacted") {
        auto o = observing(upstream.port());
        o.tap_payloads = true;
        o.tap_redact_paths.push_back("meta.token");
        relay_test::running_proxy proxy(o);
        tap_client tap;
        REQUIRE(tap.connect(proxy.admin_port()));
        CHECK(tap.hello["tap"]["payloads"] == true);
        CHECK(tap.hello["tap"]["redacted_paths"] == json{"data.content", "meta.token"});
        relay_test::client c;
        REQUIRE_FALSE(c.connect(proxy.port()));
        round_trip(c, text);
        round_trip(c, "plain text");
        auto frames = tap.frames(4);
        REQUIRE(frames.size() == 4);
        for (int i = 0; i < 2; ++i) {
            const auto& p = frames[i]["payload"];
            CHECK(p["type"] == "send_message");
            CHECK(p["data"]["content"] == "[redacted]");
            CHECK(p["data"]["note"] == "n1");
            CHECK(p["meta"]["token"] == "[redacted]");
            CHECK(frames[i].dump().find(secret) == std::string::npos);
        }
        CHECK(frames[2]["payload"] == "plain text");
        CHECK(frames[2]["flags"]["invalid"] == true);
    }
}

TEST_CASE("a subscriber that stops reading loses the oldest events, counted and reported, while "
          "relaying and other subscribers go on",
          "[tap]") {
    test_upstream::server upstream;
    auto o = observing(upstream.port());
    o.tap_queue_limit = 64;
    relay_test::running_proxy proxy(o);

    tap_client stalled, reader;
    REQUIRE(stalled.connect(proxy.admin_port()));
    REQUIRE(reader.connect(proxy.admin_port(), "?type=ping"));

    relay_test::client c;
    REQUIRE_FALSE(c.connect(proxy.port()));
    // Enough events to fill the stalled subscriber's socket buffers and then its queue.
    const std::string filler = json{{"type", "typing_start"},
                                    {"data", {{"chat_id", std::string(200, 'x')}}}}
                                   .dump();
    const auto started = std::chrono::steady_clock::now();
    for (int i = 0; i < 3000; ++i) round_trip(c, filler);
    round_trip(c, frame("ping", "last"));
    // The relay never waited for the stalled subscriber (no speed is asserted: the bound is
    // only there so that a proxy blocked on its tap fails instead of hanging).
    CHECK(std::chrono::steady_clock::now() - started < 60s);

    auto& metrics = proxy.server->metrics();
    CHECK(eventually([&] { return metrics.value("wsproxy_tap_dropped_total") > 0; }));

    // The reading subscriber still gets the newest events.
    auto pings = reader.frames(2);
    REQUIRE(pings.size() == 2);
    CHECK(pings[1]["chat_id"] == "last");

    // The stalled subscriber, once it reads again, is told how much it missed, and gets the
    // newest events (the oldest were the ones dropped).
    std::vector<json> late = stalled.frames_until(
        [](const std::vector<json>& f) { return has_type(f, "ping") && f.size() >= 2; }, 10000ms);
    REQUIRE_FALSE(stalled.notices.empty());
    std::uint64_t reported = 0;
    for (auto& n : stalled.notices) reported += n["dropped"].get<std::uint64_t>();
    CHECK(reported > 0);
    CHECK(reported <= metrics.value("wsproxy_tap_dropped_total"));
    REQUIRE_FALSE(late.empty());
    CHECK(late.back()["type"] == "ping");
    CHECK(late.size() < 6001);
}

TEST_CASE("an injected join_chat appears on the tap flagged injected, before the frame that caused it",
          "[tap]") {
    test_upstream::server upstream;
    relay_test::running_proxy proxy(relay_test::proxy_options_for(upstream.port()));
    tap_client tap;
    REQUIRE(tap.connect(proxy.admin_port(), "?direction=client_to_server&chat_id=chat-x"));

    relay_test::client c;
    REQUIRE_FALSE(c.connect(proxy.port()));
    REQUIRE_FALSE(c.send(frame("send_message", "chat-x", "hello")));
    auto frames = tap.frames(2);
    REQUIRE(frames.size() == 2);
    CHECK(frames[0]["type"] == "join_chat");
    CHECK(frames[0]["chat_id"] == "chat-x");
    CHECK(frames[0]["flags"]["injected"] == true);
    CHECK(frames[1]["type"] == "send_message");
    CHECK(frames[1]["flags"]["injected"] == false);
    CHECK(frames[0]["conn"] == frames[1]["conn"]);
}

TEST_CASE("/connections lists each live connection with its chats, counters and the five signals",
          "[tap]") {
    backend_test::backend_fixture backend;
    relay_test::running_proxy proxy(relay_test::proxy_options_for(backend.server->port()));

    auto connections = [&] {
        auto res = relay_test::http_request(proxy.admin_port(), relay_test::http::verb::get,
                                            "/connections");
        REQUIRE(res.result_int() == 200);
        CHECK(res[relay_test::http::field::content_type] == "application/json");
        return json::parse(res.body())["connections"];
    };
    CHECK(connections().empty());

    relay_test::client c;
    REQUIRE_FALSE(c.connect(proxy.port()));
    std::string client_id;
    for (int i = 0; i < 10; ++i) {
        auto m = c.read();
        REQUIRE_FALSE(m.ec);
        auto j = json::parse(m.data);
        if (j["type"] == "connection_established") client_id = j["data"]["client_id"];
        if (j["type"] == "connection_ready") break;
    }
    REQUIRE_FALSE(client_id.empty());
    REQUIRE_FALSE(c.send(frame("send_message", "chat-q", "what time is it?")));
    // The answer reaches this client: the proxy joined chat-q on its behalf.
    bool completed = false;
    for (int i = 0; i < 20 && !completed; ++i) {
        auto m = c.read();
        REQUIRE_FALSE(m.ec);
        completed = json::parse(m.data)["type"] == "response_complete";
    }
    REQUIRE(completed);

    json list;
    REQUIRE(eventually([&] {
        list = connections();
        return list.size() == 1 && list[0]["signals"]["D"] == true;
    }));
    const auto& conn = list[0];
    CHECK(conn["id"].get<std::uint64_t>() > 0);
    CHECK(conn["remote"] == "127.0.0.1");
    CHECK(conn["started"].get<std::string>().size() == 24);
    CHECK(conn["phase"] == "ready");
    CHECK(conn["client_id"] == client_id);
    CHECK(conn["chats"]["by_client"].empty());
    REQUIRE(conn["chats"]["by_us"].size() == 1);
    CHECK(conn["chats"]["by_us"][0] == json{{"chat_id", "chat-q"}, {"state", "acknowledged"}});
    CHECK(conn["frames"]["client_to_server"] == 1);
    CHECK(conn["frames"]["server_to_client"].get<int>() >= 7);
    CHECK(conn["bytes"]["client_to_server"].get<int>() > 0);
    CHECK(conn["last_frame"].is_string());
    CHECK(conn["signals"] == json{{"A", true}, {"B", true}, {"C", true}, {"D", true}, {"E", true}});
    CHECK(conn.dump().find("cookie") == std::string::npos);

    c.close();
    CHECK(eventually([&] { return connections().empty(); }));
}

TEST_CASE("with --admin-token every admin endpoint but /healthz and /readyz needs the bearer token",
          "[tap]") {
    test_upstream::server upstream;
    auto o = relay_test::proxy_options_for(upstream.port());
    o.admin_token = "s3cret token";
    relay_test::running_proxy proxy(o);
    using relay_test::http_request;
    namespace http = relay_test::http;
    const auto port = proxy.admin_port();
    const std::vector<std::pair<std::string, std::string>> good{{"Authorization", "Bearer s3cret token"}};
    const std::vector<std::pair<std::string, std::string>> wrong{{"Authorization", "Bearer s3cret"}};

    CHECK(http_request(port, http::verb::get, "/healthz").result_int() == 200);
    CHECK(http_request(port, http::verb::get, "/readyz").result_int() == 200);
    for (const char* path : {"/metrics", "/connections", "/", "/tap"}) {
        INFO(path);
        auto res = http_request(port, http::verb::get, path);
        CHECK(res.result_int() == 401);
        CHECK(res[http::field::www_authenticate].find("Bearer") == 0);
        CHECK(http_request(port, http::verb::get, path, {}, wrong).result_int() == 401);
    }
    CHECK(http_request(port, http::verb::get, "/metrics", {}, good).result_int() == 200);
    CHECK(http_request(port, http::verb::get, "/connections", {}, good).result_int() == 200);

    // The viewer takes the token in its address, so that a person can open it.
    auto page = http_request(port, http::verb::get, "/?token=s3cret%20token");
    CHECK(page.result_int() == 200);
    CHECK(page[http::field::content_type] == "text/html; charset=utf-8");
    CHECK(page.body().find("wsproxy viewer") != std::string::npos);
    CHECK(page["Referrer-Policy"] == "no-referrer");

    tap_client denied, by_header, by_query;
    CHECK_FALSE(denied.connect(port));
    CHECK(denied.ws.response().result_int() == 401);
    CHECK(by_header.connect(port, "", good));
    CHECK(by_query.connect(port, "?token=s3cret+token"));
}
