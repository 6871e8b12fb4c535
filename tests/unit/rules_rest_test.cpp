// REST correlation and rejoin: the pure helpers of rules/rest.hpp ([rest]) and the engine's
// on_join_request, rejoin after a reconnect and the URL path's chat ([engine]). Engine
// tests assert the exact list of actions (rules_script.hpp renders them).
#include <algorithm>
#include <catch2/catch.hpp>

#include "rules/rest.hpp"
#include "rules_script.hpp"

using namespace wsproxy::rules;
using namespace wsproxy::rules::testing;
namespace f = wsproxy::rules::testing::frames;

namespace {

const std::string Z = "6f3a1c2e-0b9d-4e8f-a7c6-5d4b3a291807";

std::string inject_join(const std::string& chat) {
    return R"(inject>server {"type":"join_chat","data":{"chat_id":")" + chat + R"("}})";
}
std::string inject_leave(const std::string& chat) {
    return R"(inject>server {"type":"leave_chat","data":{"chat_id":")" + chat + R"("}})";
}
std::string injected_log(const std::string& chat, const std::string& reason) {
    return R"(log info join_injected {"chat_id":")" + chat + R"(","reason":")" + reason + R"("})";
}
// What inject_join emits in fix mode for a join with no frame behind it.
lines joins(const std::string& chat, const std::string& reason) {
    return {"count join_missing 0", inject_join(chat), "count join_chat 1", injected_log(chat, reason)};
}
lines concat(std::initializer_list<lines> parts) {
    lines out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}
// The chat_joined log line; an answer to our join names the join's reason.
std::string joined_log(const std::string& chat, bool injected, const std::string& reason = "") {
    return R"(log info chat_joined {"chat_id":")" + chat + R"(","client_id":"c-1","injected":)" +
           (injected ? "true" : "false") + (reason.empty() ? "" : R"(,"reason":")" + reason + "\"") + "}";
}

void greet(script& s, millis ready_at = 100) {
    s.server(f::established("c-1"), 10);
    s.server(f::ready("c-1"), ready_at);
}

using headers = std::vector<std::pair<std::string, std::string>>;

}  // namespace

// ---------------------------------------------------------------------------------------
// match_rest_route / match_chat_path

TEST_CASE("the default REST route yields the chat id of a user message", "[rest]") {
    const config c;
    CHECK(match_rest_route(c, "POST", "/api/v1/chats/" + X + "/messages") == X);
    // The query and fragment are ignored, trailing slashes tolerated (the backend does).
    CHECK(match_rest_route(c, "POST", "/api/v1/chats/" + X + "/messages?tenant_id=t#x") == X);
    CHECK(match_rest_route(c, "POST", "/api/v1/chats/" + X + "/messages/") == X);
    CHECK(match_rest_route(c, "POST", "/api/v1/chats/" + X + "/messages//") == X);
    // Absolute-form targets are matched by their path.
    CHECK(match_rest_route(c, "POST", "http://chat.example:8080/api/v1/chats/" + X + "/messages") == X);
    // The chat id is percent-decoded; so are the fixed segments before comparing.
    CHECK(match_rest_route(c, "POST", "/api/v1/chats/a%20b%2Fc+d/messages") == "a b/c+d");
    CHECK(match_rest_route(c, "POST", "/api/v1/%63hats/x/messages") == "x");
}

TEST_CASE("anything else is not the REST route", "[rest]") {
    const config c;
    CHECK_FALSE(match_rest_route(c, "GET", "/api/v1/chats/" + X + "/messages"));
    CHECK_FALSE(match_rest_route(c, "post", "/api/v1/chats/" + X + "/messages"));
    CHECK_FALSE(match_rest_route(c, "POST", "/api/v1/chats"));
    CHECK_FALSE(match_rest_route(c, "POST", "/api/v1/chats/" + X));
    CHECK_FALSE(match_rest_route(c, "POST", "/api/v1/chats/" + X + "/messages/extra"));
    CHECK_FALSE(match_rest_route(c, "POST", "/api/v2/chats/" + X + "/messages"));
    CHECK_FALSE(match_rest_route(c, "POST", "/api/v1/chats//messages"));
    CHECK_FALSE(match_rest_route(c, "POST", "api/v1/chats/x/messages"));
    CHECK_FALSE(match_rest_route(c, "POST", "/prefix/api/v1/chats/x/messages"));
    CHECK_FALSE(match_rest_route(c, "POST", ""));
    CHECK_FALSE(match_rest_route(c, "POST", "*"));
    // Ids that could not go into a frame: not UTF-8, longer than 256 bytes.
    CHECK_FALSE(match_rest_route(c, "POST", "/api/v1/chats/%FF%FE/messages"));
    CHECK_FALSE(match_rest_route(c, "POST", "/api/v1/chats/" + std::string(257, 'a') + "/messages"));
    CHECK(match_rest_route(c, "POST", "/api/v1/chats/" + std::string(256, 'a') + "/messages"));
    // A target longer than max_target_bytes is not looked at.
    CHECK_FALSE(match_rest_route(c, "POST", "/api/v1/chats/x/messages?" + std::string(9000, 'q')));
}

TEST_CASE("a configured route and path pattern are matched the same way", "[rest]") {
    config c;
    c.rest.route = "PUT /v2/rooms/{chat_id}";
    CHECK(match_rest_route(c, "PUT", "/v2/rooms/r1") == "r1");
    CHECK_FALSE(match_rest_route(c, "POST", "/v2/rooms/r1"));
    CHECK(match_chat_path("/rt/rooms/{chat_id}", "/rt/rooms/lobby?token=1") == "lobby");
    CHECK(match_chat_path("/{chat_id}/ws", "/abc/ws") == "abc");
    CHECK_FALSE(match_chat_path("/rt/rooms/{chat_id}", "/rt/rooms"));
    CHECK_FALSE(match_chat_path("/rt/rooms/{chat_id}", "/rt/rooms/"));
    CHECK_FALSE(match_chat_path("", "/rt/rooms/x"));
}

TEST_CASE("route and path patterns are validated", "[rest]") {
    CHECK(valid_rest_route("POST /api/v1/chats/{chat_id}/messages"));
    CHECK(valid_rest_route("M-SEARCH /{chat_id}"));
    CHECK_FALSE(valid_rest_route("/api/{chat_id}"));
    CHECK_FALSE(valid_rest_route("POST /api/chat_id"));
    CHECK_FALSE(valid_rest_route(" POST /api/{chat_id}"));
    CHECK(valid_chat_path_pattern("/rt/rooms/{chat_id}"));
    CHECK_FALSE(valid_chat_path_pattern("/rt/rooms/{chat_id}/"));
    CHECK_FALSE(valid_chat_path_pattern("/rt/{room}/{chat_id}"));
    CHECK_FALSE(valid_chat_path_pattern("/rt/{chat_id}/{chat_id}"));
    CHECK_FALSE(valid_chat_path_pattern("/rt rooms/{chat_id}"));
    CHECK_FALSE(valid_chat_path_pattern("/"));
}

// ---------------------------------------------------------------------------------------
// session_of

TEST_CASE("the session is the session cookie among the request's cookies", "[rest]") {
    const config c;
    CHECK(session_of(c, headers{{"cookie", "a=1; mip_session=xyz; b=2"}}) == "xyz");
    CHECK(session_of(c, headers{{"cookie", "mip_session=xyz"}}) == "xyz");
    CHECK(session_of(c, headers{{"cookie", "  a=1 ;mip_session = \"q-1\" ;b"}}) == "q-1");
    // Several Cookie headers (HTTP/2 splits them): searched in order; names ignore case.
    CHECK(session_of(c, headers{{"host", "h"}, {"Cookie", "a=1"}, {"COOKIE", "mip_session=s2"}}) == "s2");
    // The first non-empty value wins.
    CHECK(session_of(c, headers{{"cookie", "mip_session=; mip_session=first; mip_session=second"}}) ==
          "first");
    // Names are compared exactly: neither a prefix, a suffix nor another case counts.
    CHECK(session_of(c, headers{{"cookie", "xmip_session=1; mip_session_old=2; MIP_SESSION=3"}}).empty());
    CHECK(session_of(c, headers{{"cookie", "mip_session"}}).empty());
    CHECK(session_of(c, headers{{"x-mip-session", "abc"}}).empty());
    CHECK(session_of(c, headers{}).empty());
}

TEST_CASE("with session_header the session is that header, not the cookie", "[rest]") {
    config c;
    c.rest.session_header = "x-session-id";
    CHECK(session_of(c, headers{{"cookie", "mip_session=xyz"}, {"X-Session-Id", " h-1 "}}) == "h-1");
    CHECK(session_of(c, headers{{"cookie", "mip_session=xyz"}}).empty());
    c.rest.session_header.clear();
    c.rest.session_cookie = "sid";
    CHECK(session_of(c, headers{{"cookie", "mip_session=xyz; sid=s"}}) == "s");
}

TEST_CASE("session_of bounds its work on long headers", "[rest]") {
    const config c;
    // A session id beyond max_session_bytes is no session at all.
    CHECK(session_of(c, headers{{"cookie", "mip_session=" + std::string(5000, 'a')}}).empty());
    // A Cookie header beyond max_cookie_header_bytes is not parsed.
    CHECK(session_of(c, headers{{"cookie", std::string(70'000, ';') + "mip_session=x"}}).empty());
    // Many separators within the bound are fine (linear time).
    CHECK(session_of(c, headers{{"cookie", std::string(60'000, ';') + "mip_session=x"}}) == "x");
    // Only the first max_headers_scanned headers are looked at.
    headers many(300, {"accept", "*/*"});
    many.emplace_back("cookie", "mip_session=late");
    CHECK(session_of(c, many).empty());
}

// ---------------------------------------------------------------------------------------
// engine::on_join_request

TEST_CASE("a REST message for an unjoined chat injects join_chat and waits for its answer",
          "[engine]") {
    script s;
    s.open("/ws/chat?tenant_id=miptech-company", 0);
    greet(s);
    CHECK(s.join_request(X, 200) == joins(X, "rest_session"));
    CHECK_FALSE(s.acked);
    CHECK(s.out[1].injected);
    CHECK_FALSE(s.eng.joined(X));
    // A second REST message before the answer: no second join, still waiting.
    CHECK(s.join_request(X, 210).empty());
    CHECK_FALSE(s.acked);
    // The answer registers the chat (the body settles its waiters on chat_registered).
    CHECK(s.server(f::joined(X), 220) ==
          lines{"count frames s2c/chat_joined", "count chat_joined 0", "chat_registered " + X,
                joined_log(X, true, "rest_session"), "hide"});
    CHECK(s.eng.joined(X));
    CHECK(s.join_request(X, 300).empty());
    CHECK(s.acked);
    // The client's own frames for the chat need nothing more.
    CHECK(s.client(f::send(X), 310) ==
          lines{"count frames c2s/send_message", "user_message " + X + " registered",
                "arm_timer 30310", "forward"});
}

TEST_CASE("a REST message for a chat the client joined itself waits for the client's join",
          "[engine]") {
    script s;
    greet(s);
    s.client(f::join(X), 150);
    CHECK(s.join_request(X, 160).empty());
    CHECK_FALSE(s.acked);
    CHECK(s.server(f::joined(X), 170).back() == "forward");  // the client's answer is shown
    CHECK(s.join_request(X, 180).empty());
    CHECK(s.acked);
}

TEST_CASE("a REST message before connection_ready joins at connection_ready", "[engine]") {
    script s;
    s.open("/ws/chat", 0);
    s.server(f::established("c-1"), 10);
    CHECK(s.join_request(X, 20).empty());
    CHECK_FALSE(s.acked);
    CHECK(s.join_request(X, 30).empty());  // queued once
    CHECK(s.server(f::ready("c-1"), 100) ==
          concat({{"count frames s2c/connection_ready"}, joins(X, "rest_session"), {"forward"}}));
    CHECK(s.join_request(X, 110).empty());
    CHECK_FALSE(s.acked);
    s.server(f::joined(X), 120);
    CHECK(s.join_request(X, 130).empty());
    CHECK(s.acked);
}

TEST_CASE("a queued REST join is not sent again when the client joined before ready",
          "[engine]") {
    script s;
    s.join_request(X, 5);
    s.client(f::join(X), 10);
    CHECK(s.server(f::ready("c-1"), 100) ==
          lines{"count frames s2c/connection_ready",
                R"(log info client_id_captured {"client_id":"c-1","source":"data.client_id"})",
                "count client_id 0", "forward"});
}

TEST_CASE("observe mode logs the join a REST message would cause, once", "[engine]") {
    config c;
    c.run_mode = mode::observe;
    script s(c);
    greet(s);
    CHECK(s.join_request(X, 200) ==
          lines{"count join_missing 0",
                R"(log info join_would_inject {"chat_id":")" + X + R"(","reason":"rest_session"})"});
    CHECK_FALSE(s.acked);
    CHECK(s.join_request(X, 210).empty());
    CHECK(s.eng.state().chats.empty());
}

TEST_CASE("a REST message retries a failed join, which a frame never does", "[engine]") {
    script s;
    greet(s);
    s.client(f::send(X), 150);
    s.server(f::joined(X, false, "chat not found"), 160);
    CHECK(s.client(f::send(X), 170).back() == "forward");  // no retry by a frame
    CHECK(s.join_request(X, 200) == joins(X, "rest_session"));
    REQUIRE(s.eng.state().chats.size() == 1);
    CHECK(s.eng.state().chats[0].state == join_state::requested);
    s.server(f::joined(X), 210);
    CHECK(s.eng.joined(X));
}

TEST_CASE("a refused join of a REST message says so, so that the request is not held", "[engine]") {
    script s;
    greet(s);
    CHECK(s.join_request(X, 200) == joins(X, "rest_session"));
    CHECK_FALSE(s.acked);
    const auto answer = s.server(f::joined(X, false, "chat not found"), 210);
    CHECK(std::find(answer.begin(), answer.end(), "chat_join_failed " + X) != answer.end());
    CHECK_FALSE(s.eng.joined(X));
}

TEST_CASE("with single_chat a REST message for another chat leaves the current one",
          "[engine]") {
    config c;
    c.single_chat = true;
    script s(c);
    greet(s);
    s.client(f::join(X), 110);
    s.server(f::joined(X), 120);
    CHECK(s.join_request(Y, 200) ==
          lines{"count join_missing 0", inject_leave(X), "count leave_injected 0",
                R"(log info leave_injected {"chat_id":")" + X + R"(","joining":")" + Y + R"(","reason":"single_chat_leave"})",
                inject_join(Y), "count join_chat 1", injected_log(Y, "rest_session")});
    CHECK(s.server(f::left(X), 210) == lines{"count frames s2c/chat_left", "chat_unregistered " + X, "hide"});
}

TEST_CASE("join requests with unusable ids, beyond the bounds or after close do nothing",
          "[engine]") {
    script s;
    greet(s);
    CHECK(s.join_request("", 200) ==
          lines{R"(log warn join_request_ignored {"reason":"invalid_chat_id"})"});
    CHECK(s.join_request(std::string(257, 'a'), 200) ==
          lines{R"(log warn join_request_ignored {"reason":"invalid_chat_id"})"});
    CHECK(s.join_request("\xFF", 200) ==
          lines{R"(log warn join_request_ignored {"reason":"invalid_chat_id"})"});
    for (int i = 0; i < 64; ++i) s.join_request("chat-" + std::to_string(i), 300);
    CHECK(s.eng.state().chats.size() == 64);
    CHECK(s.join_request("one-more", 400) ==
          lines{R"(log warn join_request_ignored {"chat_id":"one-more","reason":"too_many_chats"})"});
    s.server(f::joined("chat-0"), 460);
    CHECK(s.eng.joined("chat-0"));
    s.close(1000, "", "client", 500);
    CHECK_FALSE(s.eng.joined("chat-0"));  // the close unregistered it
    CHECK(s.join_request("chat-0", 600).empty());
    CHECK_FALSE(s.acked);
}

TEST_CASE("a REST join inside the grace period of the URL's chat makes the timer a no-op",
          "[engine]") {
    script s;
    s.open("/ws/chat?chat_id=" + X, 0);
    s.server(f::established("c-1"), 10);
    CHECK(s.server(f::ready("c-1"), 100) == lines{"count frames s2c/connection_ready", "arm_timer 350", "forward"});
    CHECK(s.join_request(X, 150) == joins(X, "rest_session"));
    CHECK(s.timer(350).empty());
}

// ---------------------------------------------------------------------------------------
// Rejoin after a reconnect

TEST_CASE("a reconnected socket that joins nothing is joined to the session's most recent chat",
          "[engine]") {
    script s;
    CHECK(s.open_remembering("/ws/chat?tenant_id=t", {Y, X}, 0).empty());
    s.server(f::established("c-1"), 10);
    CHECK(s.server(f::ready("c-1"), 100) ==
          lines{"count frames s2c/connection_ready", "arm_timer 350", "forward"});
    CHECK(s.timer(349) == lines{"arm_timer 350"});
    CHECK(s.timer(350) == joins(Y, "rejoin"));
    CHECK(s.timer(400).empty());
    CHECK(s.server(f::joined(Y), 410) ==
          lines{"count frames s2c/chat_joined", "count chat_joined 0", "chat_registered " + Y,
                joined_log(Y, true, "rejoin"), "hide"});
}

TEST_CASE("rejoin policy all joins every remembered chat, most recent first", "[engine]") {
    config c;
    c.rejoin.policy = rejoin_policy::all;
    script s(c);
    // Duplicates and unusable ids in the body's list are dropped.
    s.open_remembering("/ws/chat", {Y, X, Y, "", std::string(300, 'z'), Z}, 0);
    CHECK(s.eng.state().rejoin_chats == std::vector<std::string>{Y, X, Z});
    greet(s);
    CHECK(s.timer(350) == concat({joins(Y, "rejoin"), joins(X, "rejoin"), joins(Z, "rejoin")}));
}

TEST_CASE("rejoin keeps at most max_chats remembered chats", "[engine]") {
    config c;
    c.rejoin.policy = rejoin_policy::all;
    c.rejoin.max_chats = 2;
    script s(c);
    s.open_remembering("/ws/chat", {Y, X, Z}, 0);
    greet(s);
    CHECK(s.timer(350) == concat({joins(Y, "rejoin"), joins(X, "rejoin")}));
}

TEST_CASE("with single_chat, rejoin policy all joins only the most recent chat", "[engine]") {
    config c;
    c.rejoin.policy = rejoin_policy::all;
    c.single_chat = true;
    script s(c);
    s.open_remembering("/ws/chat", {Y, X}, 0);
    greet(s);
    CHECK(s.timer(350) == joins(Y, "rejoin"));
}

TEST_CASE("a client that joins any chat during the grace period is not rejoined", "[engine]") {
    script s;
    s.open_remembering("/ws/chat", {Y}, 0);
    greet(s);
    CHECK(s.client(f::join(X), 200) == lines{"count frames c2s/join_chat", "count join_chat 0", "forward"});
    CHECK(s.eng.state().grace_deadline == -1);
    CHECK(s.timer(350).empty());
    CHECK(s.eng.state().chats.size() == 1);
}

TEST_CASE("a join we made during the grace period also ends the rejoin", "[engine]") {
    SECTION("for a client frame naming a chat") {
        script s;
        s.open_remembering("/ws/chat", {Y}, 0);
        greet(s);
        s.client(f::send(X), 200);
        CHECK(s.timer(350) == lines{"arm_timer 30200"});  // the answer's timeout, no rejoin
    }
    SECTION("for a REST message") {
        script s;
        s.open_remembering("/ws/chat", {Y}, 0);
        greet(s);
        s.join_request(X, 200);
        CHECK(s.timer(350).empty());
    }
    SECTION("for a REST message before connection_ready: no timer at all") {
        script s;
        s.open_remembering("/ws/chat", {Y}, 0);
        s.join_request(X, 50);
        CHECK(s.server(f::ready("c-1"), 100) ==
              concat({{"count frames s2c/connection_ready",
                       R"(log info client_id_captured {"client_id":"c-1","source":"data.client_id"})",
                       "count client_id 0"},
                      joins(X, "rest_session"),
                      {"forward"}}));
    }
    SECTION("a join and leave by the client still counts as a join") {
        script s;
        s.open_remembering("/ws/chat", {Y}, 0);
        greet(s);
        s.client(f::join(X), 200);
        s.client(f::leave(X), 210);
        CHECK(s.timer(350).empty());
    }
}

TEST_CASE("the URL's chat takes precedence over rejoin", "[engine]") {
    script s;
    s.open_remembering("/ws/chat?chat_id=" + X, {Y}, 0);
    greet(s);
    CHECK(s.timer(350) == joins(X, "url_grace"));
    CHECK(s.eng.state().chats.size() == 1);
    SECTION("and when the client joins the URL's chat, nothing is joined") {
        script t;
        t.open_remembering("/ws/chat?chat_id=" + X, {Y}, 0);
        greet(t);
        t.client(f::join(X), 200);
        CHECK(t.timer(350).empty());
    }
}

TEST_CASE("rejoin disabled or nothing remembered arms no timer", "[engine]") {
    const lines ready_only{"count frames s2c/connection_ready", "forward"};
    SECTION("disabled") {
        config c;
        c.rejoin.enabled = false;
        script s(c);
        s.open_remembering("/ws/chat", {Y}, 0);
        CHECK(s.eng.state().rejoin_chats.empty());
        s.server(f::established("c-1"), 10);
        CHECK(s.server(f::ready("c-1"), 100) == ready_only);
        CHECK(s.timer(350).empty());
    }
    SECTION("nothing remembered") {
        script s;
        s.open_remembering("/ws/chat", {}, 0);
        s.server(f::established("c-1"), 10);
        CHECK(s.server(f::ready("c-1"), 100) == ready_only);
    }
}

TEST_CASE("observe mode logs the rejoin it would make", "[engine]") {
    config c;
    c.run_mode = mode::observe;
    script s(c);
    s.open_remembering("/ws/chat", {Y}, 0);
    greet(s);
    CHECK(s.timer(350) ==
          lines{"count join_missing 0",
                R"(log info join_would_inject {"chat_id":")" + Y + R"(","reason":"rejoin"})"});
}

// ---------------------------------------------------------------------------------------
// The URL's chat: path_chat_pattern, and single_chat at grace expiry

TEST_CASE("path_chat_pattern makes the upgrade path's chat the URL's chat", "[engine]") {
    config c;
    c.path_chat_pattern = "/rt/rooms/{chat_id}";
    SECTION("joined when the grace period runs out") {
        script s(c);
        s.open("/rt/rooms/lobby%201?tenant_id=t", 0);
        CHECK(s.eng.state().query_chat_id == "lobby 1");
        s.server(f::established("c-1"), 10);
        CHECK(s.server(f::ready("c-1"), 100) ==
              lines{"count frames s2c/connection_ready", "arm_timer 350", "forward"});
        CHECK(s.timer(350) == joins("lobby 1", "url_grace"));
    }
    SECTION("?chat_id= wins when both are there") {
        script s(c);
        s.open("/rt/rooms/lobby?chat_id=" + X, 0);
        CHECK(s.eng.state().query_chat_id == X);
    }
    SECTION("another path: no URL chat") {
        script s(c);
        s.open("/ws/chat", 0);
        CHECK(s.eng.state().query_chat_id.empty());
    }
    SECTION("off by default") {
        script s;
        s.open("/rt/rooms/lobby", 0);
        CHECK(s.eng.state().query_chat_id.empty());
    }
}

TEST_CASE("with single_chat the URL's chat is not joined over a chat joined during the grace",
          "[engine]") {
    config c;
    c.single_chat = true;
    script s(c);
    s.open("/ws/chat?chat_id=" + X, 0);
    greet(s);
    s.join_request(Y, 200);
    // Joining X now would leave Y, the chat the session just wrote to.
    CHECK(s.timer(350).empty());
    SECTION("without single_chat both are joined, as before") {
        script t;
        t.open("/ws/chat?chat_id=" + X, 0);
        greet(t);
        t.join_request(Y, 200);
        CHECK(t.timer(350) == joins(X, "url_grace"));
    }
}

TEST_CASE("with single_chat only the newest REST message before connection_ready is joined",
          "[engine]") {
    config c;
    c.single_chat = true;
    SECTION("two queued requests: the newer one") {
        script s(c);
        s.join_request(X, 20);
        s.join_request(Y, 30);
        CHECK(s.server(f::ready(""), 100) ==
              concat({{"count frames s2c/connection_ready", "log warn client_id_missing {}", "count client_id 1"},
                      joins(Y, "rest_session"),
                      {"forward"}}));
    }
    SECTION("a client frame after the request wins: no join and leave back and forth") {
        script s(c);
        s.join_request(Y, 20);
        s.client(f::send(X), 30);  // X is joined for the frame, Y's request is older
        CHECK(s.server(f::ready(""), 100) ==
              lines{"count frames s2c/connection_ready", "log warn client_id_missing {}",
                    "count client_id 1", "forward"});
        REQUIRE(s.eng.state().chats.size() == 1);
        CHECK(s.eng.state().chats[0].chat_id == X);
    }
}
