// The answer SLIs in the engine (rules/rule_answers.cpp): each user message the connection
// relays is paired with the answer frames for its chat; every test asserts the exact actions.
#include <catch2/catch.hpp>

#include "rules_script.hpp"

using namespace wsproxy::rules;
using namespace wsproxy::rules::testing;
namespace f = wsproxy::rules::testing::frames;

namespace {



// A connection that joined X and Y itself (so nothing is injected) and is ready.
void joined_xy(script& s) {
    s.open("/ws/chat", 0);
    s.server(f::established("c-1"), 10);
    s.server(f::ready("c-1"), 20);
    s.client(f::join(X), 30);
    s.server(f::joined(X), 40);
    s.client(f::join(Y), 50);
    s.server(f::joined(Y), 60);
}

config with_answers(std::int64_t timeout_ms, std::size_t max_pending = 64) {
    config c;
    c.answers.timeout_ms = timeout_ms;
    c.answers.max_pending = max_pending;
    return c;
}

const std::string sent_x = "user_message " + X + " registered";
const std::string sent_y = "user_message " + Y + " registered";

std::string error_for(const std::string& chat) {
    return R"({"type":"error","data":{"code":"answer_failed","message":"backend error"},)"
           R"("chat_id":")" + chat + R"("})";
}

}  // namespace

TEST_CASE("a user message is answered when response_complete for its chat reaches the client",
          "[engine][answers]") {
    script s;
    joined_xy(s);
    CHECK(s.client(f::send(X), 200) ==
          fwd({"count frames c2s/send_message", sent_x, "arm_timer 30200"}));
    // typing_start is no answer (answers.first_frame_types); response_start is the first one.
    CHECK(s.server(f::broadcast("typing_start", X), 300) == fwd({"count frames s2c/typing_start"}));
    CHECK(s.server(f::broadcast("response_start", X), 450) ==
          fwd({"count frames s2c/response_start", "observe first_frame " + X + " 250"}));
    CHECK(s.server(f::broadcast("response_chunk", X), 500) == fwd({"count frames s2c/response_chunk"}));
    CHECK(s.server(f::broadcast("response_complete", X), 900) ==
          fwd({"count frames s2c/response_complete", "observe complete " + X + " 700",
               "count answers answered"}));
    CHECK(s.eng.state().pending_answers.empty());
    // Nothing waits any more: the timer arms nothing, the close counts nothing.
    CHECK(s.timer(30200).empty());
    CHECK(s.close(1000, "", "client", 31000).size() == 3);  // 2 x chat_unregistered, the log
}

TEST_CASE("a response_complete that comes first is the first answer frame too",
          "[engine][answers]") {
    script s;
    joined_xy(s);
    s.client(f::send(X), 200);
    CHECK(s.server(f::broadcast("response_complete", X), 260) ==
          fwd({"count frames s2c/response_complete", "observe first_frame " + X + " 60",
               "observe complete " + X + " 60", "count answers answered"}));
}

TEST_CASE("a message whose answer does not complete within answers.timeout_ms is unanswered",
          "[engine][answers]") {
    script s(with_answers(1000));
    joined_xy(s);
    CHECK(s.client(f::send(X), 200) ==
          fwd({"count frames c2s/send_message", sent_x, "arm_timer 1200"}));
    // A second message while one waits: the timer is armed for the oldest already.
    CHECK(s.client(f::send(Y), 500) == fwd({"count frames c2s/send_message", sent_y}));
    // An early wake-up (another timer of the engine) arms again for the oldest.
    CHECK(s.timer(900) == lines{"arm_timer 1200"});
    // Y's answer starts, but never completes: a started answer is still unanswered.
    CHECK(s.server(f::broadcast("response_start", Y), 800) ==
          fwd({"count frames s2c/response_start", "observe first_frame " + Y + " 300"}));
    CHECK(s.timer(1200) == lines{"count answers unanswered", "arm_timer 1500"});
    CHECK(s.timer(1500) == lines{"count answers unanswered"});
    CHECK(s.eng.state().pending_answers.empty());
    // A complete after the timeout answers nothing.
    CHECK(s.server(f::broadcast("response_complete", X), 1600) ==
          fwd({"count frames s2c/response_complete"}));
}

TEST_CASE("an error frame for the chat fails its oldest waiting message", "[engine][answers]") {
    script s;
    joined_xy(s);
    s.client(f::send(X), 200);
    s.client(f::send(X), 210);
    CHECK(s.server(error_for(X), 300) == fwd({"count frames s2c/error", "count answers error"}));
    // The second message is still waiting, and is answered.
    CHECK(s.server(f::broadcast("response_complete", X), 400) ==
          fwd({"count frames s2c/response_complete", "observe first_frame " + X + " 190",
               "observe complete " + X + " 190", "count answers answered"}));
}

TEST_CASE("an error frame naming no chat, or another chat, fails nothing", "[engine][answers]") {
    script s;
    joined_xy(s);
    s.client(f::send(X), 200);
    const std::string bad_request =
        R"({"type":"error","data":{"code":"bad_request","message":"not JSON"},"chat_id":null})";
    CHECK(s.server(bad_request, 300) == fwd({"count frames s2c/error"}));
    CHECK(s.server(error_for(Y), 310) == fwd({"count frames s2c/error"}));
    CHECK(s.eng.state().pending_answers.size() == 1);
}

TEST_CASE("messages still waiting when the connection closes count as closed",
          "[engine][answers]") {
    script s;
    joined_xy(s);
    s.client(f::send(X), 200);
    s.client(f::send(Y), 210);
    const lines closed = s.close(1001, "", "client", 500);
    REQUIRE(closed.size() == 5);
    CHECK(closed[2] == "count answers closed");
    CHECK(closed[3] == "count answers closed");
    CHECK(closed[4].rfind("log info connection_closed", 0) == 0);
    CHECK(s.timer(30200).empty());
}

TEST_CASE("answers pair with messages per chat, oldest first", "[engine][answers]") {
    script s;
    joined_xy(s);
    s.client(f::send(X), 100);
    s.client(f::send(Y), 200);
    s.client(f::send(X), 250);
    CHECK(s.server(f::broadcast("response_start", Y), 300) ==
          fwd({"count frames s2c/response_start", "observe first_frame " + Y + " 100"}));
    CHECK(s.server(f::broadcast("response_start", X), 400) ==
          fwd({"count frames s2c/response_start", "observe first_frame " + X + " 300"}));
    // The second X message's first frame is the next start for X, not a chunk of the first.
    CHECK(s.server(f::broadcast("response_chunk", X), 410) ==
          fwd({"count frames s2c/response_chunk", "observe first_frame " + X + " 160"}));
    CHECK(s.server(f::broadcast("response_complete", X), 500) ==
          fwd({"count frames s2c/response_complete", "observe complete " + X + " 400",
               "count answers answered"}));
    CHECK(s.server(f::broadcast("response_complete", X), 600) ==
          fwd({"count frames s2c/response_complete", "observe complete " + X + " 350",
               "count answers answered"}));
    CHECK(s.server(f::broadcast("response_complete", Y), 700) ==
          fwd({"count frames s2c/response_complete", "observe complete " + Y + " 500",
               "count answers answered"}));
    CHECK(s.eng.state().pending_answers.empty());
}

TEST_CASE("beyond answers.max_pending a message is counted as dropped and not tracked",
          "[engine][answers]") {
    script s(with_answers(30000, 2));
    joined_xy(s);
    s.client(f::send(X), 100);
    s.client(f::send(X), 110);
    CHECK(s.client(f::send(X), 120) ==
          fwd({"count frames c2s/send_message", sent_x, "count answers_dropped 0"}));
    CHECK(s.eng.state().pending_answers.size() == 2);
    s.server(f::broadcast("response_complete", X), 200);
    // Room again: the next message is tracked.
    CHECK(s.client(f::send(X), 300) == fwd({"count frames c2s/send_message", sent_x}));
    CHECK(s.eng.state().pending_answers.size() == 2);
}

TEST_CASE("answers.max_pending 0 turns answer tracking off", "[engine][answers]") {
    script s(with_answers(30000, 0));
    joined_xy(s);
    CHECK(s.client(f::send(X), 100) == fwd({"count frames c2s/send_message", sent_x}));
    CHECK(s.rest_message(X, 110).empty());
    CHECK(s.server(f::broadcast("response_complete", X), 200) ==
          fwd({"count frames s2c/response_complete"}));
}

TEST_CASE("a REST message of the session waits for its answer on the socket",
          "[engine][answers][rest]") {
    script s;
    joined_xy(s);
    CHECK(s.rest_message(X, 200) == lines{"arm_timer 30200"});
    CHECK(s.server(f::broadcast("response_chunk", X), 260) ==
          fwd({"count frames s2c/response_chunk", "observe first_frame " + X + " 60"}));
    CHECK(s.server(f::broadcast("response_complete", X), 300) ==
          fwd({"count frames s2c/response_complete", "observe complete " + X + " 100",
               "count answers answered"}));
    // An unusable chat id is not tracked; after the close nothing is.
    CHECK(s.rest_message("", 400).empty());
    s.close(1000, "", "client", 500);
    CHECK(s.rest_message(X, 600).empty());
}

TEST_CASE("a frame the client does not get answers nothing", "[engine][answers]") {
    config c;
    c.isolation_enforce = true;
    script s(c);
    joined_xy(s);
    // A REST message for a chat this socket never joined: its broadcast is dropped here.
    const std::string z = "ffffffff-0000-0000-0000-000000000000";
    s.rest_message(z, 100);
    const lines got = s.server(f::broadcast("response_complete", z), 200);
    CHECK(got.back() == "hide");
    for (const auto& l : got) CHECK(l.rfind("count answers", 0) == std::string::npos);
    CHECK(s.eng.state().pending_answers.size() == 1);
}

TEST_CASE("in observe mode the unfixed frontend's messages go unanswered", "[engine][answers]") {
    config c = with_answers(1000);
    c.run_mode = mode::observe;
    script s(c);
    s.open("/ws/chat", 0);
    s.server(f::ready("c-1"), 20);
    // Never joined: observe mode injects nothing, and the backend drops the answer.
    const lines sent = s.client(f::send(X), 100);
    CHECK(sent[sent.size() - 2] == "arm_timer 1100");
    CHECK(s.timer(1100) == lines{"count answers unanswered"});
}

TEST_CASE("the answers section loads and is validated", "[config][answers]") {
    const config c = load_config_text(
        "answers:\n  first_frame_types: [a_start]\n  complete_type: a_end\n"
        "  error_types: []\n  timeout_ms: 5000\n  max_pending: 0\n",
        "rules.yaml");
    CHECK(c.answers.first_frame_types == std::vector<std::string>{"a_start"});
    CHECK(c.answers.complete_type == "a_end");
    CHECK(c.answers.error_types.empty());
    CHECK(c.answers.timeout_ms == 5000);
    CHECK(c.answers.max_pending == 0);
    const auto error_of = [](const std::string& yaml) {
        try {
            load_config_text(yaml, "rules.yaml");
        } catch (const config_error& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    CHECK(error_of("answers:\n  timeout_ms: 0\n") ==
          R"(rules.yaml:2: key "answers.timeout_ms": expected a positive integer (milliseconds, at most 86400000), got "0")");
    CHECK(error_of("answers:\n  max_pending: 5000\n") ==
          R"(rules.yaml:2: key "answers.max_pending": expected an integer from 0 (off) to 4096, got "5000")");
    CHECK(error_of("answers:\n  complete_type: \"\"\n") ==
          R"(rules.yaml:2: key "answers.complete_type": expected a non-empty string, got "")");
}
