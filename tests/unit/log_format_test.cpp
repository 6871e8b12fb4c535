// proxy/log: both line formats against values a client controls (chat ids, close reasons,
// user agents). The logfmt side is checked with a reader written from the format's rules
// (tests/support/logfmt_reader.hpp), not with the writer's own code.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "proxy/base/log.hpp"
#include "../support/logfmt_reader.hpp"

using wsproxy::log::format;
using wsproxy::log::format_line;
using wsproxy::log::format_value;
using wsproxy::log::level;
using names = std::vector<std::string>;

namespace {

const std::string ts = "2026-01-02T03:04:05.678Z";
const std::string forged =
    "x\nts=2026-01-02T03:04:05.678Z level=error event=isolation_violation chat_id=y";

// No byte that a terminal or a line-based shipper would act on.
bool has_control(const std::string& line) {
    for (unsigned char c : line)
        if (c < 0x20 || c == 0x7F) return true;
    return false;
}

bool valid_utf8(const std::string& s) {
    try {
        (void)nlohmann::json(s).dump();  // throws type_error 316 on invalid UTF-8
        return true;
    } catch (const nlohmann::json::type_error&) {
        return false;
    }
}

}  // namespace

TEST_CASE("text lines are logfmt: ts, level and event first, plain values bare", "[log]") {
    auto line = format_line(format::text, ts, level::info, "join_injected",
                            {{"conn", 3}, {"chat_id", "8d1d5bfc-1"}, {"injected", true}});
    CHECK(line == "ts=2026-01-02T03:04:05.678Z level=info event=join_injected chat_id=8d1d5bfc-1 "
                  "conn=3 injected=true");
    auto p = logfmt_test::parse(line);
    REQUIRE(p);
    CHECK(logfmt_test::keys(*p) == names{"ts", "level", "event", "chat_id", "conn",
                                                  "injected"});
}

TEST_CASE("a hostile chat id cannot forge a text log line", "[log]") {
    auto line = format_line(format::text, ts, level::warn, "join_injected",
                            {{"conn", 7}, {"chat_id", forged}});
    INFO(line);
    CHECK(line.find('\n') == std::string::npos);
    CHECK(line.find('\r') == std::string::npos);
    CHECK_FALSE(has_control(line));
    auto p = logfmt_test::parse(line);
    REQUIRE(p);
    CHECK(logfmt_test::keys(*p) == names{"ts", "level", "event", "chat_id", "conn"});
    CHECK(logfmt_test::value(*p, "level") == "warn");
    CHECK(logfmt_test::value(*p, "event") == "join_injected");
    CHECK(logfmt_test::value(*p, "chat_id") == forged);  // every byte is still there, escaped
    CHECK(line.find(R"(chat_id="x\nts=2026)") != std::string::npos);
}

TEST_CASE("close reasons with quotes, CR, LF, = and backslashes are quoted and escaped",
          "[log]") {
    const std::string reason = "bye\" level=error\r\nevent=x \\ \t\x01\x7f end=";
    auto line = format_line(format::text, ts, level::info, "connection_closed",
                            {{"reason", reason}, {"code", 1000}});
    INFO(line);
    CHECK_FALSE(has_control(line));
    auto p = logfmt_test::parse(line);
    REQUIRE(p);
    CHECK(logfmt_test::keys(*p) == names{"ts", "level", "event", "code", "reason"});
    CHECK(logfmt_test::value(*p, "reason") == reason);
    CHECK(format_value(reason) ==
          R"("bye\" level=error\r\nevent=x \\ \t\u0001\u007f end=")");
}

TEST_CASE("values with spaces, or empty, are quoted; numbers and booleans are not", "[log]") {
    CHECK(format_value("Mozilla/5.0 (X11; Linux x86_64)") == "\"Mozilla/5.0 (X11; Linux x86_64)\"");
    CHECK(format_value("") == R"("")");
    CHECK(format_value("a=b") == R"("a=b")");
    CHECK(format_value("ünïcödé") == "ünïcödé");
    auto line = format_line(format::text, ts, level::info, "e",
                            {{"n", 42}, {"x", 1.5}, {"ok", false}, {"none", nullptr},
                             {"list", {1, 2}}, {"empty", ""}});
    CHECK(line == "ts=2026-01-02T03:04:05.678Z level=info event=e empty=\"\" list=[1,2] "
                  "n=42 none=null ok=false x=1.5");
}

TEST_CASE("invalid UTF-8 is replaced, in both formats", "[log]") {
    const std::string bad = std::string("ab\xff\xfe") + "c\xc3" + "\xe2\x82" + "\xed\xa0\x80" +
                            "\xc0\xaf";  // stray bytes, cut sequences, a surrogate, overlong
    auto text = format_line(format::text, ts, level::info, "e", {{"ua", bad}});
    INFO(text);
    CHECK(valid_utf8(text));
    CHECK_FALSE(has_control(text));
    CHECK(text.find("\xEF\xBF\xBD") != std::string::npos);
    auto p = logfmt_test::parse(text);
    REQUIRE(p);
    CHECK(logfmt_test::value(*p, "ua").rfind("ab\xEF\xBF\xBD\xEF\xBF\xBD" "c", 0) == 0);

    auto json = format_line(format::json, ts, level::info, "e", {{"ua", bad}});
    CHECK(valid_utf8(json));
    CHECK(nlohmann::json::parse(json)["ua"].get<std::string>().find("\xEF\xBF\xBD") !=
          std::string::npos);
}

TEST_CASE("line and paragraph separators and C1 controls are escaped in text", "[log]") {
    CHECK(format_value("a\u2028b\u2029c\u0085d") == R"("a\u2028b\u2029c\u0085d")");
}

TEST_CASE("no single byte, in a value or an event, escapes its field", "[log]") {
    for (int b = 0; b < 256; ++b) {
        std::string v = "p";  // (not "p" + std::string(1, c): GCC 12 warns, wrongly)
        v += static_cast<char>(b);
        v += 'q';
        auto line = format_line(format::text, ts, level::info, v, {{"k", v}});
        INFO("byte " << b << ": " << line);
        CHECK_FALSE(has_control(line));
        CHECK(valid_utf8(line));
        auto p = logfmt_test::parse(line);
        REQUIRE(p);
        CHECK(logfmt_test::keys(*p) == names{"ts", "level", "event", "k"});
        auto json = format_line(format::json, ts, level::info, v, {{"k", v}});
        CHECK_FALSE(has_control(json));
        CHECK(nlohmann::json::parse(json).size() == 4);
    }
}

TEST_CASE("keys are sanitised and ts, level and event cannot be given twice", "[log]") {
    auto line = format_line(format::text, ts, level::info, "e",
                            {{"bad key=\n", 1}, {"level", "error"}, {"event", "forged"}});
    INFO(line);
    auto p = logfmt_test::parse(line);
    REQUIRE(p);
    CHECK(logfmt_test::keys(*p) == names{"ts", "level", "event", "bad_key__",
                                                  "field_event", "field_level"});
    CHECK(logfmt_test::value(*p, "level") == "info");

    auto json = format_line(format::json, ts, level::info, "e",
                            {{"level", "error"}, {"event", "forged"}});
    auto j = nlohmann::json::parse(json);
    CHECK(j["level"] == "info");
    CHECK(j["event"] == "e");
    CHECK(j["field_level"] == "error");
}

TEST_CASE("JSON lines start with ts, level and event, then the fields", "[log]") {
    auto line = format_line(format::json, ts, level::error, "isolation_violation",
                            {{"conn", 3}, {"chat_id", forged}, {"reason", "a\"b\r\nc"}});
    INFO(line);
    const std::string prefix =
        R"({"ts":"2026-01-02T03:04:05.678Z","level":"error","event":"isolation_violation",)";
    CHECK(line.rfind(prefix, 0) == 0);
    CHECK_FALSE(has_control(line));
    auto j = nlohmann::ordered_json::parse(line);
    std::vector<std::string> keys;
    for (const auto& [k, v] : j.items()) keys.push_back(k);
    CHECK(keys == std::vector<std::string>{"ts", "level", "event", "chat_id", "conn", "reason"});
    CHECK(j["chat_id"] == forged);
    CHECK(j["reason"] == "a\"b\r\nc");
}

TEST_CASE("a sink set for tests receives every line instead of stderr", "[log]") {
    std::vector<std::string> lines;
    wsproxy::log::configure(format::text, level::info);
    wsproxy::log::set_sink([&](std::string_view l) { lines.emplace_back(l); });
    wsproxy::log::write(level::info, "one", {{"chat_id", forged}});
    wsproxy::log::write(level::debug, "below the level");
    wsproxy::log::set_sink({});
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].find("event=one chat_id=\"x\\nts=") != std::string::npos);
    CHECK(lines[0].find('\n') == std::string::npos);
}
