// What the proxy logs about a real connection, captured through log::set_sink: a client
// that puts a forged log line in its chat id and its close reason, and bytes that are not
// UTF-8 in its User-Agent, cannot add a line or a field to the log, in either format;
// connection_opened and connection_closed carry what operators look for.
#include <catch2/catch.hpp>
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "../support/logfmt_reader.hpp"
#include "backend_fixture.hpp"
#include "proxy/base/log.hpp"
#include "proxy_fixture.hpp"
#include "ws_test_client.hpp"

using namespace std::chrono_literals;
namespace wlog = wsproxy::log;

namespace {

const std::string forged_line =
    "2026-01-02T03:04:05.678Z level=error event=isolation_violation chat_id=y";
// A chat id that, written raw, would end its line and start a forged one.
const std::string hostile_chat = "x\nts=" + forged_line;
// A close reason (at most 123 bytes) with quotes, CR, LF and `=`.
const std::string hostile_reason = "bye\" closed_by=server\r\nts=1 level=error event=forged";
const std::string hostile_agent = "agent\xff\xfe \"quoted\" level=error";

// Restores the process-wide log settings when the test ends, whatever happens.
struct log_capture {
    explicit log_capture(wlog::format f) {
        wlog::configure(f, wlog::level::info);
        wlog::set_sink(lines.sink());
    }
    ~log_capture() {
        wlog::set_sink({});
        wlog::configure(wlog::format::text, wlog::level::info);
    }
    ws_test::line_log lines;
};

// One line as name -> value, for either format; fails the test if it is not well-formed
// or names ts, level or event other than once, first.
std::map<std::string, std::string> fields_of(wlog::format f, const std::string& line) {
    INFO(line);
    CHECK(line.find('\n') == std::string::npos);
    CHECK(line.find('\r') == std::string::npos);
    std::vector<std::string> keys;
    std::map<std::string, std::string> out;
    if (f == wlog::format::json) {
        auto j = nlohmann::ordered_json::parse(line, nullptr, false);
        REQUIRE(j.is_object());
        for (const auto& [k, v] : j.items()) {
            keys.push_back(k);
            out[k] = v.is_string() ? v.get<std::string>() : v.dump();
        }
    } else {
        auto p = logfmt_test::parse(line);
        REQUIRE(p);
        keys = logfmt_test::keys(*p);
        for (const auto& [k, v] : *p) out[k] = v;
    }
    REQUIRE(keys.size() >= 3);
    CHECK(keys[0] == "ts");
    CHECK(keys[1] == "level");
    CHECK(keys[2] == "event");
    CHECK(std::count(keys.begin(), keys.end(), "level") == 1);
    CHECK(std::count(keys.begin(), keys.end(), "event") == 1);
    CHECK(out.size() == keys.size());  // no key twice
    return out;
}

}  // namespace

TEST_CASE("a client's chat id, close reason and user agent cannot forge a log line or field",
          "[log]") {
    for (auto f : {wlog::format::text, wlog::format::json}) {
        INFO((f == wlog::format::text ? "text" : "json"));
        log_capture capture(f);  // outlives the proxy and the backend below
        backend_test::backend_fixture backend;
        relay_test::running_proxy proxy(relay_test::proxy_options_for(backend.server->port()));

        ws_test::client c;
        ws_test::connect_options opt;
        opt.extra_headers = {{"User-Agent", hostile_agent}};
        REQUIRE_FALSE(c.connect(proxy.port(), "/ws/chat?tenant_id=miptech-company&token=s3cret",
                                opt));
        REQUIRE(c.read_until("connection_ready"));
        REQUIRE_FALSE(c.send_json(
            {{"type", "send_message"}, {"data", {{"chat_id", hostile_chat}, {"content", "hi"}}}}));
        const bool joined = capture.lines.wait_for("join_injected");
        const auto close_ec = joined ? c.close(boost::beast::websocket::close_code::normal,
                                               hostile_reason)
                                     : boost::system::error_code{};
        const bool closed = joined && capture.lines.wait_for("connection_closed");
        std::string captured;  // shown when a check fails
        for (const auto& line : capture.lines.lines()) captured += line + "\n";
        INFO("captured log:\n" << captured);
        REQUIRE(joined);
        REQUIRE_FALSE(close_ec);
        REQUIRE(closed);

        bool saw_open = false, saw_join = false, saw_close = false;
        for (const auto& line : capture.lines.lines()) {
            auto fields = fields_of(f, line);
            const auto& event = fields["event"];
            CHECK(event != "isolation_violation");
            CHECK(event != "forged");
            CHECK(fields["level"] != "error");
            CHECK(line.find("s3cret") == std::string::npos);  // the query is never logged
            if (event == "connection_opened") {
                saw_open = true;
                CHECK(fields["remote"].rfind("127.0.0.1:", 0) == 0);
                CHECK(fields["remote"].size() > std::string("127.0.0.1:").size());
                CHECK(fields["path"] == "/ws/chat");
                // Invalid UTF-8 replaced by U+FFFD, the rest kept.
                CHECK(fields["user_agent"] ==
                      "agent\xEF\xBF\xBD\xEF\xBF\xBD \"quoted\" level=error");
            } else if (event == "join_injected") {
                saw_join = true;
                CHECK(fields["chat_id"] == hostile_chat);  // all there, and escaped
            } else if (event == "connection_closed") {
                saw_close = true;
                CHECK(fields["reason"] == hostile_reason);
                CHECK(fields["closed_by"] == "client");
                CHECK(fields["code"] == "1000");
                CHECK(fields["client_code"] == "1000");
                CHECK(fields["server_code"] == "1000");
                CHECK_FALSE(fields["client_id"].empty());
                CHECK(std::stoll(fields["duration_ms"]) >= 0);
                CHECK(std::stoll(fields["frames_client_to_server"]) == 1);
                CHECK(std::stoll(fields["frames_server_to_client"]) >= 2);
                CHECK(std::stoll(fields["bytes_client_to_server"]) > 0);
                CHECK(std::stoll(fields["bytes_server_to_client"]) > 0);
            }
        }
        CHECK(saw_open);
        CHECK(saw_join);
        CHECK(saw_close);
    }
}
