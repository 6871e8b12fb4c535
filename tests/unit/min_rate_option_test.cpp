// --min-rate BYTES/SECONDS: parsed into the options, or refused with what is wrong.
#include <catch2/catch.hpp>

#include "proxy/base/options.hpp"

using wsproxy::parse_min_rate;
using wsproxy::proxy_options;
using wsproxy::startup_error;

TEST_CASE("min-rate takes BYTES/SECONDS, and 0 turns it off", "[options]") {
    proxy_options o;
    CHECK(o.min_rate_bytes == 0);  // off unless asked for
    parse_min_rate("4096/30", o);
    CHECK(o.min_rate_bytes == 4096);
    CHECK(o.min_rate_seconds == 30);
    parse_min_rate("1000/1.5", o);
    CHECK(o.min_rate_seconds == 1.5);
    parse_min_rate("0", o);
    CHECK(o.min_rate_bytes == 0);
}

TEST_CASE("min-rate refuses a value without a slash, zero bytes or a window under 1 s",
          "[options]") {
    proxy_options o;
    for (const char* bad : {"4096", "0/30", "x/30", "4096/", "4096/0.5", "4096/x", "-1/30"}) {
        INFO(bad);
        CHECK_THROWS_AS(parse_min_rate(bad, o), startup_error);
    }
    CHECK_THROWS_WITH(parse_min_rate("4096", o), Catch::Contains("e.g. --min-rate 4096/30"));
}
