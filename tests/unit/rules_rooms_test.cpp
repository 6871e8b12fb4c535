// The rules are data: rules/examples/rooms.yaml drives the same engine through chat-backend's
// `--dialect rooms` (event/payload/room envelope, subscribe/subscribed, post, answer_*).
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "rules_script.hpp"

using namespace wsproxy::rules;
using namespace wsproxy::rules::testing;

namespace {

config rooms_config() { return load_config_file(std::string(WSPROXY_SOURCE_DIR) + "/rules/examples/rooms.yaml"); }

// Frames as backend/dialect.cpp's rooms_dialect writes them.
std::string envelope(const std::string& event, const std::string& payload, const std::string& room) {
    return R"({"event":")" + event + R"(","payload":)" + payload + R"(,"room":)" +
           (room.empty() ? "null" : "\"" + room + "\"") + R"(,"ts":1754045352545})";
}
std::string hello(const std::string& sid) { return envelope("hello", R"({"session_id":")" + sid + R"("})", ""); }
std::string ready(const std::string& sid) { return envelope("ready", R"({"session_id":")" + sid + R"("})", ""); }
std::string subscribed(const std::string& room, bool ok = true) {
    return envelope("subscribed", R"({"room":")" + room + R"(","ok":)" + (ok ? "true" : "false") +
                                      (ok ? "" : R"(,"error":"no such room")") + "}",
                    room);
}
std::string post(const std::string& room, const std::string& text = "Hi") {
    return R"({"event":"post","payload":{"room":")" + room + R"(","text":")" + text + R"("}})";
}
std::string delta(const std::string& room) {
    return envelope("answer_delta", R"({"room":")" + room + R"(","answer_id":"a-1","index":0,"text":"Echo"})", room);
}
std::string subscribe_injected(const std::string& room) {
    return R"(inject>server {"event":"subscribe","payload":{"room":")" + room + R"("}})";
}

}  // namespace

TEST_CASE("rules/examples/rooms.yaml loads and names the rooms dialect's fields", "[config]") {
    const config c = rooms_config();
    CHECK(c.type_path == json_path{"event"});
    CHECK(c.chat_id_paths == std::vector<json_path>{{"payload", "room"}, {"room"}});
    CHECK(c.client_id_paths == std::vector<json_path>{{"payload", "session_id"}, {"session_id"}});
    CHECK(c.success_path == json_path{"payload", "ok"});
    CHECK(c.error_path == json_path{"payload", "error"});
    CHECK(c.join_chat_id_path == json_path{"payload", "room"});
    CHECK(c.join_chat == "subscribe");
    CHECK(c.chat_joined == "subscribed");
    CHECK(c.user_message_types == std::vector<std::string>{"post"});
    CHECK(c.path_chat_pattern == "/rt/rooms/{chat_id}");
    CHECK(c.rest == config{}.rest);
}

TEST_CASE("in the rooms dialect a post for an unsubscribed room gets a subscribe first, and "
          "the subscribed answer is hidden",
          "[engine]") {
    script s(rooms_config());
    CHECK(s.open("/rt/rooms/lobby?tenant_id=t", 0).empty());
    CHECK(s.eng.state().query_chat_id == "lobby");
    CHECK(s.server(hello("s-1"), 10) ==
          lines{"count frames s2c/hello",
                R"(log info client_id_captured {"client_id":"s-1","source":"payload.session_id"})",
                "count client_id 0", "forward"});
    CHECK(s.server(ready("s-1"), 100) == lines{"count frames s2c/ready", "arm_timer 350", "forward"});

    CHECK(s.client(post("r2"), 200) ==
          lines{"count frames c2s/post", "count join_missing 0", subscribe_injected("r2"),
                "count join_chat 1",
                R"(log info join_injected {"chat_id":"r2","reason":"frame","type":"post"})",
                "user_message r2 registered", "arm_timer 30200", "forward"});
    const auto sub = nlohmann::json::parse(s.out[2].payload);
    CHECK(sub == nlohmann::json{{"event", "subscribe"}, {"payload", {{"room", "r2"}}}});

    CHECK(s.server(subscribed("r2"), 210) ==
          lines{"count frames s2c/subscribed", "count chat_joined 0", "chat_registered r2",
                R"(log info chat_joined {"chat_id":"r2","client_id":"s-1","injected":true,"reason":"frame"})", "hide"});
    CHECK(s.server(delta("r2"), 220) ==
          lines{"count frames s2c/answer_delta", "observe first_frame r2 20", "forward"});
    CHECK(s.eng.state().answers_delivered);

    // The path's room is subscribed when the grace period runs out.
    CHECK(s.timer(350) ==
          lines{"count join_missing 0", subscribe_injected("lobby"), "count join_chat 1",
                R"(log info join_injected {"chat_id":"lobby","reason":"url_grace"})",
                "arm_timer 30200"});  // the post's answer is still awaited
    CHECK(s.server(subscribed("lobby", false), 360) ==
          lines{"count frames s2c/subscribed", "count chat_joined 1", "chat_join_failed lobby",
                R"(log warn chat_join_failed {"chat_id":"lobby","error":"no such room","injected":true,"reason":"url_grace"})",
                "hide"});

    // A REST message of the session for another room subscribes this socket too.
    CHECK(s.join_request("r3", 400) ==
          lines{"count join_missing 0", subscribe_injected("r3"), "count join_chat 1",
                R"(log info join_injected {"chat_id":"r3","reason":"rest_session"})"});

    // A broadcast for a room never subscribed is an isolation violation.
    CHECK(s.server(delta("elsewhere"), 500) ==
          lines{"count frames s2c/answer_delta", "count isolation_violations 0",
                R"(log error isolation_violation {"chat_id":"elsewhere","type":"answer_delta"})",
                "forward"});
}
