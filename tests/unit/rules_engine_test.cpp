// The rules engine, driven by scripts of the seed's flows; every test asserts the exact
// list of actions. See rules_script.hpp for the rendering.
#include <catch2/catch.hpp>

#include "allocations.hpp"
#include "rules_script.hpp"

using namespace wsproxy::rules;
using namespace wsproxy::rules::testing;
namespace f = wsproxy::rules::testing::frames;

namespace {


const std::string inject_join_x = R"(inject>server {"type":"join_chat","data":{"chat_id":")" + X + R"("}})";
const std::string inject_join_y = R"(inject>server {"type":"join_chat","data":{"chat_id":")" + Y + R"("}})";


// Runs the server's greeting: established (client_id in data), 3 progress frames, ready.
void greet(script& s, millis ready_at = 100) {
    s.server(f::established("c-1"), 10);
    s.server(f::progress("starting", 0), 20);
    s.server(f::progress("services", 50), 30);
    s.server(f::progress("complete", 100), 40);
    s.server(f::ready("c-1"), ready_at);
}

}  // namespace

TEST_CASE("the happy path with the client's own join passes through untouched", "[engine]") {
    script s;
    CHECK(s.open("/ws/chat?tenant_id=miptech-company", 0).empty());
    CHECK(s.server(f::established("c-1"), 10) ==
          fwd({"count frames s2c/connection_established",
               R"(log info client_id_captured {"client_id":"c-1","source":"data.client_id"})",
               "count client_id 0"}));
    CHECK(s.server(f::progress("starting", 0), 20) == fwd({"count frames s2c/initialization_progress"}));
    CHECK(s.server(f::ready("c-1"), 100) == fwd({"count frames s2c/connection_ready"}));
    CHECK(s.eng.state().current == phase::ready);
    CHECK(s.eng.state().ready_at == 100);

    CHECK(s.client(f::join(X), 120) == fwd({"count frames c2s/join_chat", "count join_chat 0"}));
    CHECK(s.server(f::joined(X), 130) ==
          fwd({"count frames s2c/chat_joined", "count chat_joined 0", "chat_registered " + X,
               R"(log info chat_joined {"chat_id":")" + X + R"(","client_id":"c-1","injected":false})"}));
    // The message waits for its answer (answers.timeout_ms, 30 s by default).
    CHECK(s.client(f::send(X), 200) ==
          fwd({"count frames c2s/send_message", "user_message " + X + " registered",
               "arm_timer 30200"}));
    CHECK(s.server(f::broadcast("typing_start", X), 210) == fwd({"count frames s2c/typing_start"}));
    CHECK(s.server(f::broadcast("response_chunk", X), 220) ==
          fwd({"count frames s2c/response_chunk", "observe first_frame " + X + " 20"}));
    CHECK(s.eng.state().answers_delivered);
    CHECK_FALSE(s.eng.state().isolation_violated);
    CHECK(s.timer(1000) == lines{"arm_timer 30200"});

    CHECK(s.close(1000, "bye", "client", 5000) ==
          lines{"chat_unregistered " + X, "count answers closed",
                R"(log info connection_closed {"bytes_client_to_server":174,)"
                R"("bytes_server_to_client":1190,"client_id":"c-1","closed_by":"client",)"
                R"("code":1000,"duration_ms":5000,"frames_client_to_server":2,)"
                R"("frames_server_to_client":6,"reason":"bye"})"});
    CHECK(s.eng.state().current == phase::closed);
}

TEST_CASE("join_chat is injected before the first client frame that names an unjoined chat",
          "[engine]") {
    script s;
    s.open("/ws/chat?tenant_id=miptech-company", 0);
    greet(s);
    CHECK(s.client(f::send(X), 200) ==
          fwd({"count frames c2s/send_message", "count join_missing 0", inject_join_x,
               "count join_chat 1",
               R"(log info join_injected {"chat_id":")" + X +
                   R"(","reason":"frame","type":"send_message"})",
               "user_message " + X + " registered", "arm_timer 30200"}));
    // The answer to our join is hidden from the client, but the chat is registered.
    CHECK(s.server(f::joined(X), 210) ==
          lines{"count frames s2c/chat_joined", "count chat_joined 0", "chat_registered " + X,
                R"(log info chat_joined {"chat_id":")" + X + R"(","client_id":"c-1","injected":true,"reason":"frame"})",
                "hide"});
    // Never a second join for the same chat.
    CHECK(s.client(f::send(X, "again"), 300) ==
          fwd({"count frames c2s/send_message", "user_message " + X + " registered"}));
    CHECK(s.client(R"({"type":"typing_start","data":{"chat_id":")" + X + R"("}})", 310) ==
          fwd({"count frames c2s/typing_start"}));
    REQUIRE(s.eng.state().chats.size() == 1);
    CHECK(s.eng.state().chats[0].by_us);
    CHECK_FALSE(s.eng.state().chats[0].by_client);
    CHECK(s.eng.state().chats[0].state == join_state::acknowledged);
}

TEST_CASE("a typing frame for an unjoined chat also gets the join first", "[engine]") {
    script s;
    greet(s);
    CHECK(s.client(R"({"type":"typing_start","data":{"chat_id":")" + Y + R"("}})", 200) ==
          fwd({"count frames c2s/typing_start", "count join_missing 0", inject_join_y,
               "count join_chat 1",
               R"(log info join_injected {"chat_id":")" + Y +
                   R"(","reason":"frame","type":"typing_start"})"}));
}

TEST_CASE("with ?chat_id the join is injected once the grace period after connection_ready runs out",
          "[engine]") {
    script s;
    CHECK(s.open("/ws/chat?tenant_id=miptech-company&chat_id=" + X, 0).empty());
    CHECK(s.eng.state().query_chat_id == X);
    s.server(f::established("c-1"), 10);
    CHECK(s.server(f::ready("c-1"), 100) == fwd({"count frames s2c/connection_ready", "arm_timer 350"}));
    CHECK(s.eng.state().grace_deadline == 350);
    // A timer that fires early is armed again.
    CHECK(s.timer(349) == lines{"arm_timer 350"});
    CHECK(s.timer(350) ==
          lines{"count join_missing 0", inject_join_x, "count join_chat 1",
                R"(log info join_injected {"chat_id":")" + X + R"(","reason":"url_grace"})"});
    CHECK(s.eng.state().grace_deadline == -1);
    CHECK(s.timer(400).empty());
    CHECK(s.server(f::joined(X), 410) ==
          lines{"count frames s2c/chat_joined", "count chat_joined 0", "chat_registered " + X,
                R"(log info chat_joined {"chat_id":")" + X + R"(","client_id":"c-1","injected":true,"reason":"url_grace"})",
                "hide"});
    CHECK(s.client(f::send(X), 500) ==
          fwd({"count frames c2s/send_message", "user_message " + X + " registered",
               "arm_timer 30500"}));
}

TEST_CASE("a client that joins inside the grace period is never joined by us", "[engine]") {
    script s;
    s.open("/ws/chat?chat_id=" + X, 0);
    s.server(f::established("c-1"), 10);
    CHECK(s.server(f::ready("c-1"), 100) == fwd({"count frames s2c/connection_ready", "arm_timer 350"}));
    CHECK(s.client(f::join(X), 200) == fwd({"count frames c2s/join_chat", "count join_chat 0"}));
    CHECK(s.eng.state().grace_deadline == -1);
    CHECK(s.timer(350).empty());
    // The client sees its own answer.
    CHECK(s.server(f::joined(X), 360).back() == "forward");
}

TEST_CASE("the URL's chat is percent-decoded and never joined twice", "[engine]") {
    script s;
    s.open("/ws/chat?chat_id=a%20b+c&chat_id=other", 0);
    CHECK(s.eng.state().query_chat_id == "a b c");
    s.server(f::ready(""), 100);
    CHECK(s.client(f::send("a b c"), 150) ==
          fwd({"count frames c2s/send_message", "count join_missing 0",
               R"(inject>server {"type":"join_chat","data":{"chat_id":"a b c"}})", "count join_chat 1",
               R"(log info join_injected {"chat_id":"a b c","reason":"frame","type":"send_message"})",
               "user_message a b c registered", "arm_timer 30150"}));
    CHECK(s.timer(350) == lines{"arm_timer 30150"});  // the answer's timeout, not a join
}

TEST_CASE("a URL chat id that is not UTF-8 is ignored", "[engine]") {
    script s;
    s.open("/ws/chat?chat_id=%FF%FE", 0);
    CHECK(s.eng.state().query_chat_id.empty());
    CHECK(s.server(f::ready("c-1"), 100) ==
          fwd({"count frames s2c/connection_ready",
               R"(log info client_id_captured {"client_id":"c-1","source":"data.client_id"})",
               "count client_id 0"}));
}

TEST_CASE("a leave_chat removes the chat, so a later message joins it again", "[engine]") {
    script s;
    greet(s);
    s.client(f::join(X), 110);
    s.server(f::joined(X), 120);
    CHECK(s.client(f::leave(X), 200) == fwd({"count frames c2s/leave_chat"}));
    CHECK(s.eng.state().chats.empty());
    CHECK(s.server(f::left(X), 210) == fwd({"count frames s2c/chat_left", "chat_unregistered " + X}));
    CHECK(s.client(f::send(X), 300) ==
          fwd({"count frames c2s/send_message", "count join_missing 0", inject_join_x,
               "count join_chat 1",
               R"(log info join_injected {"chat_id":")" + X +
                   R"(","reason":"frame","type":"send_message"})",
               "user_message " + X + " registered", "arm_timer 30300"}));
}

TEST_CASE("client_id is captured from data, from the top level, or reported missing", "[engine]") {
    SECTION("in data") {
        script s;
        CHECK(s.server(f::established("c-data"), 10) ==
              fwd({"count frames s2c/connection_established",
                   R"(log info client_id_captured {"client_id":"c-data","source":"data.client_id"})",
                   "count client_id 0"}));
        CHECK(s.eng.state().client_id == "c-data");
        CHECK(s.eng.state().client_id_source == "data.client_id");
        CHECK(s.server(f::ready("c-data"), 20) == fwd({"count frames s2c/connection_ready"}));
    }
    SECTION("at the top level (older backends)") {
        script s;
        CHECK(s.server(f::established("", "c-top"), 10) ==
              fwd({"count frames s2c/connection_established",
                   R"(log info client_id_captured {"client_id":"c-top","source":"client_id"})",
                   "count client_id 0"}));
        CHECK(s.eng.state().client_id_source == "client_id");
    }
    SECTION("in both places: data wins") {
        script s;
        s.server(f::established("c-data", "c-top"), 10);
        CHECK(s.eng.state().client_id == "c-data");
    }
    SECTION("only in connection_ready") {
        script s;
        CHECK(s.server(f::established(""), 10) == fwd({"count frames s2c/connection_established"}));
        CHECK(s.server(f::ready("c-late"), 20) ==
              fwd({"count frames s2c/connection_ready",
                   R"(log info client_id_captured {"client_id":"c-late","source":"data.client_id"})",
                   "count client_id 0"}));
    }
    SECTION("missing") {
        script s;
        CHECK(s.server(f::established(""), 10) == fwd({"count frames s2c/connection_established"}));
        CHECK(s.server(f::ready(""), 20) ==
              fwd({"count frames s2c/connection_ready", "log warn client_id_missing {}",
                   "count client_id 1"}));
        CHECK(s.eng.state().client_id.empty());
    }
}

TEST_CASE("client_id repair adds a top-level client_id only when switched on", "[engine]") {
    const std::string frame = f::established("c-1");
    SECTION("off: byte for byte") {
        script s;
        const lines got = s.server(frame, 10);
        CHECK(got.back() == "forward");
        CHECK(s.out.back().payload.empty());
    }
    SECTION("on: the frame gains \"client_id\" right after its opening brace") {
        config c;
        c.repair_client_id = true;
        script s(c);
        CHECK(s.server(frame, 10) ==
              lines{"count frames s2c/connection_established",
                    R"(log info client_id_captured {"client_id":"c-1","source":"data.client_id"})",
                    "count client_id 0", "count client_id_repaired 0",
                    "replace {\"client_id\":\"c-1\"," + frame.substr(1)});
        // The repaired frame is still valid JSON with both ids.
        const auto j = nlohmann::json::parse(s.out.back().payload);
        CHECK(j["client_id"] == "c-1");
        CHECK(j["data"]["client_id"] == "c-1");
    }
    SECTION("on, but the top level already has it: forwarded") {
        config c;
        c.repair_client_id = true;
        script s(c);
        CHECK(s.server(f::established("c-1", "c-1"), 10).back() == "forward");
    }
    SECTION("on, in observe mode: logged, not changed") {
        config c;
        c.repair_client_id = true;
        c.run_mode = mode::observe;
        script s(c);
        CHECK(s.server(frame, 10) ==
              fwd({"count frames s2c/connection_established",
                   R"(log info client_id_captured {"client_id":"c-1","source":"data.client_id"})",
                   "count client_id 0", R"(log info client_id_would_repair {"client_id":"c-1"})"}));
    }
    SECTION("on, with escapes in the id: re-escaped") {
        config c;
        c.repair_client_id = true;
        script s(c);
        const std::string esc = R"({"type":"connection_established","data":{"client_id":"a\"b\u00e9"}})";
        CHECK(s.server(esc, 10).back() ==
              "replace {\"client_id\":\"a\\\"b\xC3\xA9\"," + esc.substr(1));
    }
}

TEST_CASE("invalid JSON, non-objects and binary frames pass through uninspected", "[engine]") {
    script s;
    CHECK(s.client("{\"type\":\"send_message\",", 1) == fwd({"count frames c2s/invalid"}));
    CHECK(s.client("hello", 2) == fwd({"count frames c2s/invalid"}));
    CHECK(s.client(R"(["send_message"])", 3) == fwd({"count frames c2s/other"}));
    CHECK(s.client("42", 4) == fwd({"count frames c2s/other"}));
    CHECK(s.client(f::send(X), 5, false) == fwd({"count frames c2s/binary"}));
    CHECK(s.server(std::string("\x00\x01\x02", 3), 6, false) == fwd({"count frames s2c/binary"}));
    CHECK(s.client(R"({"type":"made_up","data":{}})", 7) == fwd({"count frames c2s/other"}));
    CHECK(s.client(R"({"data":{}})", 8) == fwd({"count frames c2s/other"}));
    CHECK(s.eng.state().chats.empty());
    CHECK(s.eng.state().frames_in[0] == 7);
    CHECK(s.eng.state().bytes_in[1] == 3);
}

TEST_CASE("100 000 nested brackets are relayed as too deep, quickly", "[engine]") {
    script s;
    const std::string deep(100'000, '[');
    CHECK(s.client(deep, 1) == fwd({"count frames c2s/other", "count uninspected 0"}));
    CHECK(s.eng.last_frame().kind == frame_kind::too_deep);
    const std::string deep_obj = [] {
        std::string v;
        for (int i = 0; i < 100'000; ++i) v += R"({"a":)";
        return v;
    }();
    CHECK(s.server(deep_obj, 2) == fwd({"count frames s2c/other", "count uninspected 0"}));
}

TEST_CASE("a frame above max_inspect_bytes is relayed uninspected", "[engine]") {
    config c;
    c.max_inspect_bytes = 64;
    script s(c);
    const std::string big = f::send(X, std::string(100, 'a'));
    CHECK(s.client(big, 1) == fwd({"count frames c2s/other", "count uninspected 1"}));
    CHECK(s.eng.state().chats.empty());
}

TEST_CASE("a failed join is logged and counted, and never retried", "[engine]") {
    script s;
    greet(s);
    s.client(f::send(X), 200);
    CHECK(s.server(f::joined(X, false, "chat not found"), 210) ==
          lines{"count frames s2c/chat_joined", "count chat_joined 1", "chat_join_failed " + X,
                R"(log warn chat_join_failed {"chat_id":")" + X +
                    R"(","error":"chat not found","injected":true,"reason":"frame"})",
                "hide"});
    CHECK(s.eng.state().chats.at(0).state == join_state::failed);
    CHECK(s.client(f::send(X), 300) ==
          fwd({"count frames c2s/send_message", "user_message " + X + " unregistered"}));
    // The client may retry by itself; its answer is shown.
    CHECK(s.client(f::join(X), 400) == fwd({"count frames c2s/join_chat", "count join_chat 0"}));
    CHECK(s.server(f::joined(X, false, "chat not found"), 410) ==
          fwd({"count frames s2c/chat_joined", "count chat_joined 1", "chat_join_failed " + X,
               R"(log warn chat_join_failed {"chat_id":")" + X +
                   R"(","error":"chat not found","injected":false})"}));
}

TEST_CASE("observe mode changes no traffic and logs what it would have done", "[engine]") {
    config c;
    c.run_mode = mode::observe;
    c.isolation_enforce = true;
    script s(c);
    s.open("/ws/chat?chat_id=" + X, 0);
    s.server(f::established("c-1"), 10);
    CHECK(s.server(f::ready("c-1"), 100) == fwd({"count frames s2c/connection_ready", "arm_timer 350"}));
    CHECK(s.timer(350) ==
          lines{"count join_missing 0",
                R"(log info join_would_inject {"chat_id":")" + X + R"(","reason":"url_grace"})"});
    // Once per chat: the send is counted as unregistered, nothing is injected.
    CHECK(s.client(f::send(X), 400) ==
          fwd({"count frames c2s/send_message", "user_message " + X + " unregistered",
               "arm_timer 30400"}));
    CHECK(s.client(f::send(Y), 410) ==
          fwd({"count frames c2s/send_message", "count join_missing 0",
               R"(log info join_would_inject {"chat_id":")" + Y +
                   R"(","reason":"frame","type":"send_message"})",
               "user_message " + Y + " unregistered"}));
    // A broadcast for a chat that nobody here named: counted, never dropped in observe mode.
    const std::string z = "ffffffff-0000-0000-0000-000000000000";
    CHECK(s.server(f::broadcast("response_start", z), 420) ==
          fwd({"count frames s2c/response_start", "count isolation_violations 0",
               R"(log error isolation_violation {"chat_id":")" + z + R"(","type":"response_start"})"}));
    for (const auto& a : s.out) CHECK(a.what != action::kind::inject);
}

TEST_CASE("a client join after our injected join is forwarded and its answer shown", "[engine]") {
    script s;
    greet(s);
    s.client(f::send(X), 200);
    CHECK(s.client(f::join(X), 201) == fwd({"count frames c2s/join_chat", "count join_chat 0"}));
    // Answers come in order: the first is ours (hidden), the second the client's (shown).
    CHECK(s.server(f::joined(X), 210).back() == "hide");
    CHECK(s.server(f::joined(X), 211) ==
          fwd({"count frames s2c/chat_joined", "count chat_joined 0",
               R"(log info chat_joined {"chat_id":")" + X + R"(","client_id":"c-1","injected":false})"}));
}

TEST_CASE("hide_injected_replies off shows the answer to our join", "[engine]") {
    config c;
    c.hide_injected_replies = false;
    script s(c);
    greet(s);
    s.client(f::send(X), 200);
    CHECK(s.server(f::joined(X), 210).back() == "forward");
}

TEST_CASE("a chat_joined without a chat_id belongs to the oldest pending join", "[engine]") {
    script s;
    greet(s);
    s.client(f::send(X), 200);
    CHECK(s.server(R"({"type":"chat_joined","data":{"success":true}})", 210) ==
          lines{"count frames s2c/chat_joined", "count chat_joined 0", "chat_registered " + X,
                R"(log info chat_joined {"chat_id":")" + X + R"(","client_id":"c-1","injected":true,"reason":"frame"})",
                "hide"});
}

TEST_CASE("broadcasts for chats never joined are isolation violations, dropped when enforced",
          "[engine]") {
    SECTION("counted and forwarded") {
        script s;
        greet(s);
        CHECK(s.server(f::broadcast("response_chunk", Y), 300) ==
              fwd({"count frames s2c/response_chunk", "count isolation_violations 0",
                   R"(log error isolation_violation {"chat_id":")" + Y + R"(","type":"response_chunk"})"}));
        CHECK(s.eng.state().isolation_violated);
        CHECK_FALSE(s.eng.state().answers_delivered);
    }
    SECTION("enforced: hidden and counted as dropped") {
        config c;
        c.isolation_enforce = true;
        script s(c);
        greet(s);
        s.client(f::join(X), 110);
        CHECK(s.server(f::broadcast("response_chunk", X), 300) == fwd({"count frames s2c/response_chunk"}));
        CHECK(s.server(f::broadcast("response_chunk", Y), 301) ==
              lines{"count frames s2c/response_chunk", "count isolation_violations 0",
                    R"(log error isolation_violation {"chat_id":")" + Y + R"(","type":"response_chunk"})",
                    "count isolation_dropped 0", "hide"});
    }
}

TEST_CASE("single_chat leaves the old chat before joining the new one", "[engine]") {
    config c;
    c.single_chat = true;
    script s(c);
    greet(s);
    s.client(f::join(X), 110);
    s.server(f::joined(X), 120);
    SECTION("the client joins another chat itself") {
        CHECK(s.client(f::join(Y), 200) ==
              fwd({"count frames c2s/join_chat", "count join_chat 0",
                   R"(inject>server {"type":"leave_chat","data":{"chat_id":")" + X + R"("}})",
                   "count leave_injected 0",
                   R"(log info leave_injected {"chat_id":")" + X + R"(","joining":")" + Y +
                       R"(","reason":"single_chat_leave"})"}));
        // Our leave's answer is hidden; the registration ends.
        CHECK(s.server(f::left(X), 210) ==
              lines{"count frames s2c/chat_left", "chat_unregistered " + X, "hide"});
        CHECK(s.server(f::joined(Y), 220).back() == "forward");
    }
    SECTION("we join another chat for it") {
        CHECK(s.client(f::send(Y), 200) ==
              fwd({"count frames c2s/send_message", "count join_missing 0",
                   R"(inject>server {"type":"leave_chat","data":{"chat_id":")" + X + R"("}})",
                   "count leave_injected 0",
                   R"(log info leave_injected {"chat_id":")" + X + R"(","joining":")" + Y +
                       R"(","reason":"single_chat_leave"})",
                   inject_join_y, "count join_chat 1",
                   R"(log info join_injected {"chat_id":")" + Y +
                       R"(","reason":"frame","type":"send_message"})",
                   "user_message " + Y + " registered", "arm_timer 30200"}));
        REQUIRE(s.eng.state().chats.size() == 1);
        CHECK(s.eng.state().chats[0].chat_id == Y);
    }
}

TEST_CASE("without single_chat a connection stays in several chats", "[engine]") {
    script s;
    greet(s);
    s.client(f::join(X), 110);
    CHECK(s.client(f::join(Y), 120) == fwd({"count frames c2s/join_chat", "count join_chat 0"}));
    CHECK(s.eng.state().chats.size() == 2);
}

TEST_CASE("chat ids with escapes are decoded and injected re-escaped", "[engine]") {
    script s;
    greet(s);
    const std::string frame = R"({"type":"send_message","data":{"chat_id":"a\"b\\c\u00e9\ud83d\ude00","content":"x"}})";
    const std::string decoded = "a\"b\\c\xC3\xA9\xF0\x9F\x98\x80";
    const lines got = s.client(frame, 200);
    REQUIRE(got.size() == 8);  // ..., user_message, arm_timer (the answer's timeout), forward
    CHECK(got[2] == "inject>server {\"type\":\"join_chat\",\"data\":{\"chat_id\":\"a\\\"b\\\\c\xC3\xA9\xF0\x9F\x98\x80\"}}");
    CHECK(s.out[2].injected);
    CHECK(s.eng.state().chats.at(0).chat_id == decoded);
    CHECK(nlohmann::json::parse(s.out[2].payload)["data"]["chat_id"] == decoded);
}

TEST_CASE("after on_close every event is ignored", "[engine]") {
    script s;
    s.open("/ws/chat?chat_id=" + X, 0);
    s.server(f::ready("c-1"), 100);
    CHECK(s.close(1006, "", "server", 200) ==
          lines{R"(log info connection_closed {"bytes_client_to_server":0,)"
                R"("bytes_server_to_client":143,"client_id":"c-1","closed_by":"server",)"
                R"("code":1006,"duration_ms":200,"frames_client_to_server":0,)"
                R"("frames_server_to_client":1,"reason":""})"});
    CHECK(s.timer(400).empty());
    CHECK(s.client(f::send(X), 500) == lines{"forward"});
    CHECK(s.close(1000, "", "client", 600).empty());
}

TEST_CASE("connection_closed names the close code of each leg when the body knows them",
          "[engine]") {
    script s;
    s.open("/ws/chat", 0);
    actions out;
    close_info info{1000, "bye", "client"};
    info.client_code = 1000;
    info.server_code = 1006;
    s.eng.on_close(info, 50, out);
    REQUIRE(out.size() == 1);
    CHECK(out[0].fields["client_code"] == 1000);
    CHECK(out[0].fields["server_code"] == 1006);
    CHECK(out[0].fields["client_id"] == "");  // never captured: present and empty
}

TEST_CASE("logs never carry message content, cookies or the upgrade headers", "[engine]") {
    script s;
    s.open("/ws/chat?chat_id=" + X, 0);
    greet(s);
    std::string all;
    for (const auto& l : s.client(f::send(X, "top-secret-content"), 200)) all += l + "\n";
    for (const auto& l : s.server(f::broadcast("response_chunk", Y), 210)) all += l + "\n";
    for (const auto& l : s.close(1000, "", "client", 300)) all += l + "\n";
    for (const auto& a : s.out) CHECK(a.fields.dump().find("mip_session") == std::string::npos);
    CHECK(all.find("log") != std::string::npos);
    CHECK(all.find("Hello") == std::string::npos);
    for (const auto& l : s.client(f::send(Y, "top-secret-content"), 400))
        if (l.rfind("log", 0) == 0) CHECK(l.find("top-secret") == std::string::npos);
}

#if WSPROXY_COUNTS_ALLOCATIONS
TEST_CASE("steady-state frames allocate nothing", "[engine]") {
    script s;
    greet(s);
    s.client(f::join(X), 110);
    s.client(f::send(Y), 115);  // injects the join for Y; both chats are joined from now on
    s.server(f::broadcast("response_chunk", Y), 118);
    s.client(f::send(X), 120);
    // The user_message action carries the chat id, a UUID too long for std::string's inline
    // buffer: a list that freed its actions on clear() would allocate it on every message.
    const std::string send_x = f::send(X), send_y = f::send(Y);
    const std::string chunk_x = f::broadcast("response_chunk", X);
    const auto before = wsproxy::testing::allocations();
    for (int i = 0; i < 100; ++i) {
        s.out.clear();
        s.eng.on_frame(direction::client_to_server, i % 2 ? send_x : send_y, true, 200 + i, s.out);
        s.out.clear();
        s.eng.on_frame(direction::server_to_client, chunk_x, true, 200 + i, s.out);
    }
    CHECK(wsproxy::testing::allocations() - before == 0);
    // And the reused actions are right: the last client frame was for X.
    s.out.clear();
    s.eng.on_frame(direction::client_to_server, send_x, true, 400, s.out);
    bool seen = false;
    for (const auto& a : s.out)
        if (a.what == action::kind::user_message) seen = a.chat_id == X && a.registered;
    CHECK(seen);
    // A cleared list starts from defaults: nothing of the earlier actions shows through.
    s.out.clear();
    action& fresh = s.out.emplace_back();
    CHECK(fresh.what == action::kind::forward);
    CHECK(fresh.chat_id.empty());
    CHECK(fresh.payload.empty());
    CHECK(fresh.event.empty());
    CHECK(fresh.fields.is_null());
    CHECK_FALSE(fresh.registered);
    CHECK(s.out.size() == 1);
}
#endif

TEST_CASE("a client cannot grow the per-connection state without bound", "[engine]") {
    script s;
    greet(s);
    // A chat id beyond 256 bytes is relayed, never tracked or injected.
    CHECK(s.client(f::send(std::string(300, 'x')), 200) ==
          fwd({"count frames c2s/send_message", "user_message " + std::string(300, 'x') + " unregistered",
               "arm_timer 30200"}));
    for (int i = 0; i < 100; ++i) s.client(f::send("chat-" + std::to_string(i)), 300 + i);
    CHECK(s.eng.state().chats.size() == 64);
    CHECK(s.client(f::join("one-more"), 500) == fwd({"count frames c2s/join_chat", "count join_chat 0"}));
    CHECK(s.eng.state().chats.size() == 64);
}
