// common/text: the one home of trim, token lists, %XX and case-insensitive compare.
#include <catch2/catch.hpp>

#include "common/text.hpp"

using namespace wsproxy;

TEST_CASE("iequals compares ASCII letters without case and nothing else", "[unit][text]") {
    CHECK(text::iequals("Upgrade", "uPGRADE"));
    CHECK(text::iequals("", ""));
    CHECK_FALSE(text::iequals("upgrade", "upgrades"));
    CHECK_FALSE(text::iequals("a-b", "a_b"));
    // Not a locale fold: bytes >= 0x80 compare as themselves.
    CHECK_FALSE(text::iequals("\xC3\xA9", "\xC3\x89"));
    // '@' and '[' sit next to 'A' and 'Z': no off-by-one in the fold.
    CHECK_FALSE(text::iequals("@", "`"));
    CHECK_FALSE(text::iequals("[", "{"));
}

TEST_CASE("trim removes spaces and tabs at both ends only", "[unit][text]") {
    CHECK(text::trim(" \t a b \t") == "a b");
    CHECK(text::trim("   ").empty());
    CHECK(text::trim("").empty());
    CHECK(text::trim("\r\nx\n") == "\r\nx\n");  // CR and LF are not OWS
}

TEST_CASE("split_list trims elements and skips empty ones", "[unit][text]") {
    using v = std::vector<std::string_view>;
    CHECK(text::split_list("a, b,c") == v{"a", "b", "c"});
    CHECK(text::split_list(" , a ,, b ,") == v{"a", "b"});
    CHECK(text::split_list("").empty());
    CHECK(text::split_list("10.0.0.0/8 ; ::1", ';') == v{"10.0.0.0/8", "::1"});
}

TEST_CASE("has_token finds a token in a comma list without case", "[unit][text]") {
    CHECK(text::has_token("keep-alive, Upgrade", "upgrade"));
    CHECK(text::has_token("upgrade", "Upgrade"));
    CHECK_FALSE(text::has_token("upgrade-insecure", "upgrade"));
    CHECK_FALSE(text::has_token("", "upgrade"));
}

TEST_CASE("percent_decode decodes %XX, '+' only when asked, and keeps broken escapes", "[unit][text]") {
    CHECK(text::percent_decode("a%20b%2Fc", false) == "a b/c");
    CHECK(text::percent_decode("a+b", true) == "a b");
    CHECK(text::percent_decode("a+b", false) == "a+b");
    CHECK(text::percent_decode("%", false) == "%");
    CHECK(text::percent_decode("%4", false) == "%4");
    CHECK(text::percent_decode("%zz%41", false) == "%zzA");
    CHECK(text::percent_decode("%41", false) == "A");  // an escape at the very end
    CHECK(text::percent_decode("%00", false) == std::string(1, '\0'));
}

TEST_CASE("hex_value maps hex digits and refuses the rest", "[unit][text]") {
    CHECK(text::hex_value('0') == 0);
    CHECK(text::hex_value('9') == 9);
    CHECK(text::hex_value('a') == 10);
    CHECK(text::hex_value('F') == 15);
    CHECK(text::hex_value('g') == -1);
    CHECK(text::hex_value('/') == -1);
}

TEST_CASE("seconds converts a fractional number of seconds exactly enough", "[unit][text]") {
    CHECK(text::seconds(1.5) == std::chrono::milliseconds(1500));
    CHECK(text::seconds(0) == std::chrono::steady_clock::duration::zero());
}
