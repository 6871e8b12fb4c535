// The tap's history and the closed connections (issue 16 item 2), over real loopback
// sockets: /tap?history=N replays what happened before the subscriber came and then goes
// live, a quiet connection's own history survives a busy neighbour, the shared ring is
// bounded and shown on /metrics, closed connections stay listed with their close codes, and
// /connections/ID shows one connection's timeline with its answers' latency.
#include <catch2/catch.hpp>

#include <chrono>
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
namespace http = relay_test::http;

std::string typing(const std::string& chat) {
    return json{{"type", "typing_start"}, {"data", {{"chat_id", chat}}}}.dump();
}

void round_trip(relay_test::client& c, const std::string& text) {
    REQUIRE_FALSE(c.send(text));
    REQUIRE_FALSE(c.read().ec);
}

// A /tap WebSocket read line by line.
struct tap_lines {
    relay_test::client ws;

    bool open(unsigned short admin_port, const std::string& query) {
        relay_test::client_options o;
        o.target = "/tap" + query;
        return !ws.connect(admin_port, o);
    }
    // The next line as JSON; null when none came in time.
    json next(std::chrono::milliseconds limit = 5000ms) {
        auto m = ws.read_for(limit);
        if (m.ec) return nullptr;
        return json::parse(m.data);
    }
};

json get_json(unsigned short admin_port, const std::string& target, unsigned expect_status = 200) {
    auto res = relay_test::http_request(admin_port, http::verb::get, target);
    REQUIRE(res.result_int() == expect_status);
    CHECK(res[http::field::content_type] == "application/json");
    return json::parse(res.body());
}

wsproxy::proxy_options observing(unsigned short upstream_port) {
    auto o = relay_test::proxy_options_for(upstream_port);
    o.mode = "observe";
    return o;
}

std::uint64_t only_live_id(unsigned short admin_port) {
    auto live = get_json(admin_port, "/connections")["connections"];
    REQUIRE(live.size() == 1);
    return live[0]["id"].get<std::uint64_t>();
}

}  // namespace

TEST_CASE("/tap?history=N sends the newest N matching events from before it came, marked "
          "history, then history_end, then live events",
          "[history]") {
    test_upstream::server upstream;
    relay_test::running_proxy proxy(observing(upstream.port()));
    relay_test::client c;
    REQUIRE_FALSE(c.connect(proxy.port()));
    for (int i = 1; i <= 5; ++i) round_trip(c, typing("h" + std::to_string(i)));

    tap_lines tap;
    REQUIRE(tap.open(proxy.admin_port(), "?history=3&type=typing_start&direction=client_to_server"));
    auto hello = tap.next();
    REQUIRE(hello.contains("tap"));
    // Every type the rules know, so that a client can warn about a type that never comes.
    REQUIRE(hello["types"].is_array());
    for (const char* t : {"send_message", "join_chat", "connection_ready", "response_complete"})
        CHECK(std::find(hello["types"].begin(), hello["types"].end(), t) != hello["types"].end());
    for (const char* chat : {"h3", "h4", "h5"}) {
        auto e = tap.next();
        INFO(e.dump());
        CHECK(e["chat_id"] == chat);
        CHECK(e["history"] == true);
        CHECK(e["direction"] == "client_to_server");
    }
    CHECK(tap.next() == json{{"history_end", true}, {"sent", 3}});

    round_trip(c, typing("live"));
    auto live = tap.next();
    CHECK(live["chat_id"] == "live");
    CHECK_FALSE(live.contains("history"));

    SECTION("history=0 sends only the end line; no history parameter sends none") {
        tap_lines none, plain;
        REQUIRE(none.open(proxy.admin_port(), "?history=0&chat_id=after"));
        REQUIRE(plain.open(proxy.admin_port(), "?chat_id=after"));
        CHECK(none.next().contains("tap"));
        CHECK(none.next() == json{{"history_end", true}, {"sent", 0}});
        CHECK(plain.next().contains("tap"));
        round_trip(c, typing("after"));
        CHECK(plain.next()["chat_id"] == "after");
        CHECK(none.next()["chat_id"] == "after");
    }

    SECTION("a history that is not a number is refused with what to send") {
        auto res = relay_test::http_request(proxy.admin_port(), http::verb::get,
                                            "/tap?history=lots",
                                            {}, {{"Upgrade", "websocket"},
                                                 {"Connection", "Upgrade"},
                                                 {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                                                 {"Sec-WebSocket-Version", "13"}});
        CHECK(res.result_int() == 400);
        CHECK(res.body().find("history: expected a number") == 0);
    }
}

TEST_CASE("a quiet connection keeps its own history while a busy neighbour overruns the shared "
          "ring, which stays at its bound and is shown on /metrics",
          "[history]") {
    test_upstream::server upstream;
    auto o = observing(upstream.port());
    o.tap_history = 10;
    o.tap_history_per_conn = 8;
    relay_test::running_proxy proxy(o);

    relay_test::client quiet, busy;
    REQUIRE_FALSE(quiet.connect(proxy.port()));
    const auto quiet_id = only_live_id(proxy.admin_port());
    for (int i = 1; i <= 3; ++i) round_trip(quiet, typing("quiet-" + std::to_string(i)));
    REQUIRE_FALSE(busy.connect(proxy.port()));
    for (int i = 0; i < 40; ++i) round_trip(busy, typing("busy"));

    // The shared ring holds only the neighbour's latest ten.
    tap_lines all;
    REQUIRE(all.open(proxy.admin_port(), "?history=1000"));
    REQUIRE(all.next().contains("tap"));
    std::vector<json> shared;
    for (json e = all.next(); e.is_object() && !e.contains("history_end"); e = all.next())
        shared.push_back(e);
    CHECK(shared.size() == 10);
    for (const auto& e : shared) CHECK(e["chat_id"] == "busy");

    // The quiet connection's own ring: its three frames and their echoes, in order.
    tap_lines mine;
    REQUIRE(mine.open(proxy.admin_port(), "?history=1000&conn=" + std::to_string(quiet_id)));
    REQUIRE(mine.next().contains("tap"));
    std::vector<json> own;
    for (json e = mine.next(); e.is_object() && !e.contains("history_end"); e = mine.next())
        own.push_back(e);
    REQUIRE(own.size() == 6);
    for (std::size_t i = 0; i < own.size(); ++i) {
        CHECK(own[i]["conn"] == quiet_id);
        CHECK(own[i]["chat_id"] == "quiet-" + std::to_string(i / 2 + 1));
        CHECK(own[i]["direction"] == (i % 2 ? "server_to_client" : "client_to_server"));
    }

    CHECK(relay_test::metric(proxy, "wsproxy_tap_history_events") == 10);
    CHECK(relay_test::metric(proxy, "wsproxy_tap_history_capacity") == 10);
    auto text = relay_test::http_request(proxy.admin_port(), http::verb::get, "/metrics").body();
    CHECK(text.find("wsproxy_tap_history_events 10") != std::string::npos);
}

TEST_CASE("closed connections stay listed newest first with the close code each side sent and "
          "why, bounded by --closed-connections-max, and take their timelines with them",
          "[history]") {
    test_upstream::server upstream;
    auto o = observing(upstream.port());
    o.closed_connections_max = 2;
    relay_test::running_proxy proxy(o);
    const auto admin = proxy.admin_port();

    auto close_one = [&](const std::function<void(relay_test::client&)>& end) {
        relay_test::client c;
        REQUIRE_FALSE(c.connect(proxy.port()));
        const auto id = only_live_id(admin);
        round_trip(c, typing("before-close"));
        end(c);
        REQUIRE(eventually([&] {
            auto doc = get_json(admin, "/connections");
            return doc["connections"].empty() && !doc["closed"].empty() &&
                   doc["closed"][0]["id"] == id;
        }));
        return id;
    };
    const auto by_client = close_one([](relay_test::client& c) { CHECK_FALSE(c.close()); });
    auto doc = get_json(admin, "/connections");
    REQUIRE(doc["closed"].size() == 1);
    const auto& first = doc["closed"][0];
    CHECK(first["close_code_client"] == 1000);
    CHECK(first["close_code_server"] == 1000);
    CHECK(first["close_reason"] == "client_close");
    CHECK(first["closed"].get<std::string>().size() == 24);
    CHECK(first["opened"] == first["started"]);
    CHECK(first["duration_ms"].get<std::int64_t>() >= 0);
    CHECK(first["frames"]["client_to_server"] == 1);

    const auto by_backend = close_one([](relay_test::client& c) {
        REQUIRE_FALSE(c.send("close:4001:bye"));
        CHECK(c.read_until_closed().code == 4001);
    });
    const auto vanished = close_one([](relay_test::client& c) { c.vanish(); });

    doc = get_json(admin, "/connections");
    REQUIRE(doc["closed"].size() == 2);
    CHECK(doc["closed"][0]["id"] == vanished);
    CHECK(doc["closed"][0]["close_code_client"].is_null());
    CHECK(doc["closed"][0]["close_reason"] == "client_gone");
    CHECK(doc["closed"][1]["id"] == by_backend);
    CHECK(doc["closed"][1]["close_code_server"] == 4001);
    CHECK(doc["closed"][1]["close_reason"] == "backend_close");
    CHECK_FALSE(get_json(admin, "/connections?closed=0").contains("closed"));

    // The first one was pushed out, with its timeline.
    auto gone = get_json(admin, "/connections/" + std::to_string(by_client), 404);
    CHECK(gone["error"].get<std::string>().find("no connection") == 0);
    tap_lines own;
    REQUIRE(own.open(admin, "?history=100&conn=" + std::to_string(by_client)));
    REQUIRE(own.next().contains("tap"));
    CHECK(own.next() == json{{"history_end", true}, {"sent", 0}});

    // A recently closed one still has its timeline, from opened to closed.
    auto one = get_json(admin, "/connections/" + std::to_string(by_backend));
    CHECK(one["connection"]["id"] == by_backend);
    const auto& tl = one["timeline"];
    REQUIRE(tl.size() >= 4);
    CHECK(tl.front()["event"] == "opened");
    CHECK(tl[1]["type"] == "typing_start");
    CHECK(tl[1]["event"] == "frame");
    CHECK(tl.back()["event"] == "closed");
    CHECK(tl.back()["close_code_server"] == 4001);
    CHECK(tl.back()["close_reason"] == "backend_close");
}

TEST_CASE("/connections/ID shows a live connection and its timeline: ready, the injected join "
          "with its reason, the message, and the answer frames with their latency",
          "[history]") {
    backend_test::backend_fixture backend;
    relay_test::running_proxy proxy(relay_test::proxy_options_for(backend.server->port()));
    const auto admin = proxy.admin_port();

    relay_test::client c;
    REQUIRE_FALSE(c.connect(proxy.port()));
    for (int i = 0; i < 10; ++i) {
        auto m = c.read();
        REQUIRE_FALSE(m.ec);
        if (json::parse(m.data)["type"] == "connection_ready") break;
    }
    REQUIRE_FALSE(c.send(json{{"type", "send_message"},
                              {"data", {{"chat_id", "chat-t"}, {"content", "secret words"}}}}
                             .dump()));
    bool complete = false;
    for (int i = 0; i < 20 && !complete; ++i) {
        auto m = c.read();
        REQUIRE_FALSE(m.ec);
        complete = json::parse(m.data)["type"] == "response_complete";
    }
    REQUIRE(complete);
    const auto id = only_live_id(admin);

    auto doc = get_json(admin, "/connections/" + std::to_string(id));
    CHECK(doc["connection"]["id"] == id);
    CHECK(doc["connection"]["phase"] == "ready");
    const auto& tl = doc["timeline"];
    CHECK(tl.front()["event"] == "opened");
    auto find = [&](const std::string& type, bool injected = false) -> const json* {
        for (const auto& e : tl)
            if (e.value("type", json()) == type && e["flags"]["injected"] == injected) return &e;
        return nullptr;
    };
    REQUIRE(find("connection_ready"));
    const json* join = find("join_chat", true);
    REQUIRE(join);
    CHECK((*join)["reason"] == "frame");
    CHECK((*join)["cause"] == "send_message");
    REQUIRE(find("send_message"));
    const json* start = find("response_start");
    REQUIRE(start);
    REQUIRE(start->contains("answer"));
    CHECK((*start)["answer"]["first_frame_ms"].get<std::int64_t>() >= 0);
    CHECK((*start)["answer"]["complete_ms"].is_null());
    const json* done = find("response_complete");
    REQUIRE(done);
    CHECK((*done)["answer"]["complete_ms"].get<std::int64_t>() >=
          (*start)["answer"]["first_frame_ms"].get<std::int64_t>());
    CHECK((*done)["answer"]["result"] == "answered");
    CHECK(doc.dump().find("secret words") == std::string::npos);

    CHECK(get_json(admin, "/connections/999999", 404)["error"].is_string());
    CHECK(get_json(admin, "/connections/abc", 400)["error"].get<std::string>().find("/connections/ID") !=
          std::string::npos);
}

TEST_CASE("a closed connection is forgotten, with its timeline, --closed-connections-seconds "
          "after it closed",
          "[history]") {
    test_upstream::server upstream;
    auto o = observing(upstream.port());
    o.closed_connections_seconds = 3;
    relay_test::running_proxy proxy(o);
    const auto admin = proxy.admin_port();

    relay_test::client c;
    REQUIRE_FALSE(c.connect(proxy.port()));
    const auto id = only_live_id(admin);
    round_trip(c, typing("soon-gone"));
    CHECK_FALSE(c.close());
    const auto target = "/connections/" + std::to_string(id);
    // Listed first (the close is seconds younger than the limit)...
    REQUIRE(eventually([&] {
        return relay_test::http_request(admin, http::verb::get, target).result_int() == 200;
    }));
    CHECK(get_json(admin, "/connections")["closed"].size() == 1);
    // ...then gone, record and timeline.
    CHECK(eventually(
        [&] { return relay_test::http_request(admin, http::verb::get, target).result_int() == 404; },
        10000ms));
    CHECK(get_json(admin, "/connections")["closed"].empty());
    tap_lines own;
    REQUIRE(own.open(admin, "?history=100&conn=" + std::to_string(id)));
    REQUIRE(own.next().contains("tap"));
    CHECK(own.next() == json{{"history_end", true}, {"sent", 0}});
}
