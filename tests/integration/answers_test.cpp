// The answer SLIs through real sockets (issue 16): wsproxy in front of an in-process
// chat-backend --no-auto-register whose answers are slow, dropped or failing on purpose
// (--answer-delay-ms, --drop-answers, --error-answers). Every wait is bounded; no assertion
// is about speed, only about what was counted.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "backend_fixture.hpp"
#include "proxy_fixture.hpp"
#include "ws_test_client.hpp"

using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

std::string chat_uuid(int i) { return backend_test::chat_uuid(i, 9600); }

// chat-backend as backend_fixture starts it (--no-auto-register), with `tune` applied.
struct answering_backend {
    template <class F>
    explicit answering_backend(F tune) {
        chat_backend::options o;
        o.auto_register = false;
        o.chunk_delay_ms = 1;
        o.log = log.sink();
        tune(o);
        server = std::make_unique<chat_backend::server>(o);
        server->start();
    }
    answering_backend() : answering_backend([](chat_backend::options&) {}) {}
    ws_test::line_log log;
    std::unique_ptr<chat_backend::server> server;
};

// A rules file for the test's lifetime.
struct temp_rules {
    explicit temp_rules(const std::string& text) {
        path = fs::temp_directory_path() / ("wsproxy-answers-" + std::to_string(::getpid()) + "-" +
                                            std::to_string(std::rand()) + ".yaml");
        std::ofstream(path) << text;
    }
    ~temp_rules() { fs::remove(path); }
    fs::path path;
};

nlohmann::json send_message(const std::string& chat, const std::string& content) {
    return {{"type", "send_message"}, {"data", {{"chat_id", chat}, {"content", content}}}};
}

// Connects like the broken frontend: waits for connection_ready and never joins.
void connect_ready(ws_test::client& c, unsigned short port) {
    REQUIRE_FALSE(c.connect(port, "/ws/chat?tenant_id=miptech-company"));
    REQUIRE(c.read_until("connection_ready"));
}

double answers(const relay_test::running_proxy& p, const std::string& result) {
    return relay_test::metric(p, "wsproxy_answers_total", {{"result", result}});
}

// Waits (bounded) until wsproxy_answers_total{result} reaches n.
bool answers_reach(const relay_test::running_proxy& p, const std::string& result, double n) {
    return relay_test::eventually([&] { return answers(p, result) >= n; }, 10s);
}

}  // namespace

TEST_CASE("in fix mode every message sent is answered and none is unanswered", "[answers]") {
    answering_backend backend;
    relay_test::running_proxy proxy(relay_test::proxy_options_for(backend.server->port()));
    constexpr int clients = 3, messages = 4;
    std::vector<std::unique_ptr<ws_test::client>> cs;
    for (int i = 0; i < clients; ++i) {
        cs.push_back(std::make_unique<ws_test::client>());
        connect_ready(*cs.back(), proxy.port());
    }
    for (int m = 0; m < messages; ++m)
        for (int i = 0; i < clients; ++i) {
            REQUIRE_FALSE(cs[i]->send_json(send_message(chat_uuid(i), "m" + std::to_string(m))));
            REQUIRE(cs[i]->read_until("response_complete"));
        }
    REQUIRE(answers_reach(proxy, "answered", clients * messages));
    CHECK(answers(proxy, "answered") == clients * messages);
    CHECK(answers(proxy, "unanswered") == 0);
    CHECK(answers(proxy, "error") == 0);
    CHECK(answers(proxy, "closed") == 0);
    CHECK(metric(proxy, "wsproxy_answers_dropped_total") == 0);
    CHECK(metric(proxy, "wsproxy_answer_first_frame_seconds_count") == clients * messages);
    CHECK(metric(proxy, "wsproxy_answer_complete_seconds_count") == clients * messages);
    CHECK(backend.log.count("No clients registered") == 0);
}

TEST_CASE("in observe mode unanswered equals the backend's count of No clients registered",
          "[answers]") {
    answering_backend backend;
    temp_rules rules("mode: observe\nanswers:\n  timeout_ms: 300\n");
    auto opts = relay_test::proxy_options_for(backend.server->port());
    opts.rules_file = rules.path.string();
    relay_test::running_proxy proxy(opts);
    constexpr int n = 5;
    std::vector<std::unique_ptr<ws_test::client>> cs;
    for (int i = 0; i < n; ++i) {
        cs.push_back(std::make_unique<ws_test::client>());
        connect_ready(*cs.back(), proxy.port());
        REQUIRE_FALSE(cs.back()->send_json(send_message(chat_uuid(100 + i), "x")));
    }
    REQUIRE(backend.log.wait_for("No clients registered", 5s, n));
    REQUIRE(answers_reach(proxy, "unanswered", n));
    CHECK(answers(proxy, "unanswered") == backend.log.count("No clients registered"));
    CHECK(answers(proxy, "answered") == 0);
    CHECK(metric(proxy, "wsproxy_answer_first_frame_seconds_count") == 0);
}

TEST_CASE("slow answers are answered, and measured from the message", "[answers]") {
    answering_backend backend([](auto& o) { o.answer_delay_ms = 60; });
    relay_test::running_proxy proxy(relay_test::proxy_options_for(backend.server->port()));
    ws_test::client c;
    connect_ready(c, proxy.port());
    constexpr int n = 3;
    for (int i = 0; i < n; ++i) {
        REQUIRE_FALSE(c.send_json(send_message(chat_uuid(200 + i), "slow")));
        REQUIRE(c.read_until("response_complete", 5s));
    }
    REQUIRE(answers_reach(proxy, "answered", n));
    // The backend held each answer for 60 ms after the message: none can be in the buckets
    // up to 25 ms (the engine's millisecond clock may shorten a span by at most 1 ms).
    CHECK(metric(proxy, "wsproxy_answer_first_frame_seconds_bucket", {{"le", "0.025"}}) == 0);
    CHECK(metric(proxy, "wsproxy_answer_complete_seconds_bucket", {{"le", "0.025"}}) == 0);
    CHECK(metric(proxy, "wsproxy_answer_first_frame_seconds_count") == n);
    CHECK(metric(proxy, "wsproxy_answer_first_frame_seconds_sum") >= n * 0.059);
    CHECK(metric(proxy, "wsproxy_answer_complete_seconds_sum") >=
          metric(proxy, "wsproxy_answer_first_frame_seconds_sum"));
}

TEST_CASE("dropped answers are unanswered once answers.timeout_ms has passed", "[answers]") {
    answering_backend backend([](auto& o) { o.drop_answers = 2; });
    temp_rules rules("answers:\n  timeout_ms: 300\n");
    auto opts = relay_test::proxy_options_for(backend.server->port());
    opts.rules_file = rules.path.string();
    relay_test::running_proxy proxy(opts);
    ws_test::client c;
    connect_ready(c, proxy.port());
    constexpr int n = 6;  // messages 2, 4 and 6 get no answer
    for (int i = 0; i < n; ++i) REQUIRE_FALSE(c.send_json(send_message(chat_uuid(300 + i), "d")));
    REQUIRE(answers_reach(proxy, "unanswered", n / 2));
    REQUIRE(answers_reach(proxy, "answered", n / 2));
    CHECK(answers(proxy, "unanswered") == backend.server->snapshot().answers_dropped);
    CHECK(answers(proxy, "answered") == n / 2);
    CHECK(backend.log.count("Dropped the answer for chat") == n / 2);
}

TEST_CASE("an error frame for the message's chat counts as error", "[answers]") {
    answering_backend backend([](auto& o) { o.error_answers = 2; });
    relay_test::running_proxy proxy(relay_test::proxy_options_for(backend.server->port()));
    ws_test::client c;
    connect_ready(c, proxy.port());
    constexpr int n = 4;  // messages 2 and 4 get an error frame instead
    for (int i = 0; i < n; ++i) REQUIRE_FALSE(c.send_json(send_message(chat_uuid(400 + i), "e")));
    REQUIRE(answers_reach(proxy, "error", n / 2));
    REQUIRE(answers_reach(proxy, "answered", n / 2));
    CHECK(answers(proxy, "error") == backend.server->snapshot().answers_failed);
    CHECK(answers(proxy, "unanswered") == 0);
}

TEST_CASE("a socket that closes before its answer counts as closed", "[answers]") {
    answering_backend backend([](auto& o) { o.answer_delay_ms = 3000; });
    relay_test::running_proxy proxy(relay_test::proxy_options_for(backend.server->port()));
    {
        ws_test::client c;
        connect_ready(c, proxy.port());
        REQUIRE_FALSE(c.send_json(send_message(chat_uuid(500), "bye")));
        // The injected join's answer comes before the delayed answer: the message is relayed.
        REQUIRE(relay_test::eventually([&] { return backend.server->members(chat_uuid(500)) == 1; }));
    }
    REQUIRE(answers_reach(proxy, "closed", 1));
    CHECK(answers(proxy, "answered") == 0);
}

TEST_CASE("a REST message correlated to the session's socket is answered there", "[answers]") {
    answering_backend backend;
    relay_test::running_proxy proxy(relay_test::proxy_options_for(backend.server->port()));
    ws_test::client tab;
    ws_test::connect_options with_session;
    with_session.extra_headers = {{"Cookie", "mip_session=answers-rest"}};
    REQUIRE_FALSE(tab.connect(proxy.port(), "/ws/chat?tenant_id=miptech-company", with_session));
    REQUIRE(tab.read_until("connection_ready"));
    const auto chat = chat_uuid(600);
    auto r = ws_test::http_request(proxy.port(), ws_test::http::verb::post,
                                   "/api/v1/chats/" + chat + "/messages", R"({"content":"rest"})",
                                   {{"Cookie", "mip_session=answers-rest"}});
    REQUIRE(r.res.result_int() == 202);
    REQUIRE(tab.read_until("response_complete"));
    REQUIRE(answers_reach(proxy, "answered", 1));
    CHECK(metric(proxy, "wsproxy_answer_complete_seconds_count") == 1);
    // A REST message of a session with no socket here has nowhere to be answered.
    REQUIRE(ws_test::http_request(proxy.port(), ws_test::http::verb::post,
                                  "/api/v1/chats/" + chat_uuid(601) + "/messages",
                                  R"({"content":"nobody"})")
                .res.result_int() == 202);
    CHECK(backend.log.wait_for("No clients registered for specific chat " + chat_uuid(601)));
    CHECK(answers(proxy, "answered") == 1);
    CHECK(answers(proxy, "unanswered") == 0);
}
