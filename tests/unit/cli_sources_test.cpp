// proxy/cli: the admin addresses of `wsproxy tap` and `wsproxy connections`, the source field
// spliced into the proxy's JSON lines, and the reconnect delays. No sockets: the verbs
// themselves are tested as processes in tests/e2e/tap_cli_*_test.sh.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "proxy/cli/sources.hpp"

using namespace wsproxy::cli;

namespace {

std::string refusal(const std::string& text, const char* flag = "--admin") {
    try {
        parse_source(text, flag);
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "accepted";
}

}  // namespace

TEST_CASE("an admin address is HOST:PORT or http://HOST:PORT, labelled by HOST:PORT",
          "[unit][cli]") {
    for (const char* text : {"10.0.0.7:9090", "http://10.0.0.7:9090", "http://10.0.0.7:9090/"}) {
        auto s = parse_source(text, "--admin-url");
        CHECK(s.host == "10.0.0.7");
        CHECK(s.port == "9090");
        CHECK(s.label == "10.0.0.7:9090");
    }
    auto v6 = parse_source("[::1]:9090", "--admin");
    CHECK(v6.host == "::1");
    CHECK(v6.label == "[::1]:9090");
    CHECK(parse_source(":9090", "--admin").host == "127.0.0.1");
}

TEST_CASE("NAME= in front of an admin address names its source", "[unit][cli]") {
    auto s = parse_source("wsproxy-5f7c-a=http://127.0.0.1:19901", "--admin-url");
    CHECK(s.label == "wsproxy-5f7c-a");
    CHECK(s.where() == "127.0.0.1:19901");
}

TEST_CASE("a bad admin address is refused with what to write instead", "[unit][cli]") {
    CHECK_THAT(refusal("https://10.0.0.7:9090", "--admin-url"),
               Catch::Contains("plain HTTP") && Catch::Contains("--admin-url"));
    CHECK_THAT(refusal("10.0.0.7"), Catch::Contains("expected HOST:PORT"));
    CHECK_THAT(refusal("10.0.0.7:"), Catch::Contains("expected HOST:PORT"));
    CHECK_THAT(refusal("http://10.0.0.7:9090/tap"), Catch::Contains("expected HOST:PORT"));
    CHECK_THAT(refusal("10.0.0.7:admin"), Catch::Contains("not a number"));
    CHECK_THAT(refusal("=10.0.0.7:9090"), Catch::Contains("empty name"));
}

TEST_CASE("every --admin and --admin-url is a source; none means 127.0.0.1:9090", "[unit][cli]") {
    admin_targets none;
    auto d = resolve_sources(none);
    REQUIRE(d.size() == 1);
    CHECK(d[0].where() == "127.0.0.1:9090");

    admin_targets two;
    two.admins = {"a=127.0.0.1:1"};
    two.admin_urls = {"http://127.0.0.1:2"};
    auto s = resolve_sources(two);
    REQUIRE(s.size() == 2);
    CHECK(s[0].label == "a");
    CHECK(s[1].label == "127.0.0.1:2");

    admin_targets twice;
    twice.admins = {"127.0.0.1:1"};
    twice.admin_urls = {"http://127.0.0.1:1"};
    CHECK_THROWS_WITH(resolve_sources(twice), Catch::Contains("given twice"));
}

TEST_CASE("the source field goes first and the proxy's own bytes follow unchanged", "[unit][cli]") {
    const std::string line = R"({"ts":1,"conn":7,"type":"join_chat"})";
    const std::string out = with_source(line, "pod \"a\"");
    CHECK(out == R"({"source":"pod \"a\"","ts":1,"conn":7,"type":"join_chat"})");
    CHECK(nlohmann::json::parse(out)["source"] == "pod \"a\"");
    CHECK(with_source("{}", "a") == R"({"source":"a"})");
    CHECK(with_source(" { } ", "a") == R"({"source":"a" } )");
    CHECK(with_source("[1]", "a") == "[1]");
    CHECK(with_source("", "a").empty());
}

TEST_CASE(
    "reconnect delays double from 0.2 s to 5 s, each in the upper half of its step, and "
    "start over after a success",
    "[unit][cli]") {
    backoff b;
    const double steps[] = {0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0};
    for (int round = 0; round < 2; ++round) {
        for (double step : steps) {
            const double d = b.next_seconds();
            CHECK(d >= step / 2);
            CHECK(d <= step);
        }
        b.reset();
    }
}
