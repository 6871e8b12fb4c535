// common/small_string: short text inline, longer on the heap, and the same text either way.
#include <catch2/catch.hpp>

#include <string>
#include <utility>

#include "allocations.hpp"
#include "common/small_string.hpp"

using wsproxy::small_string;

namespace {
const std::string uuid = "8d1d5bfc-8b1c-4e0a-9d3e-2f9a6c1e7b01";
const std::string long_text(300, 'x');
}  // namespace

TEST_CASE("small_string holds text of any length and compares as its text", "[unit][small_string]") {
    small_string<48> s;
    CHECK(s.empty());
    CHECK(s.view().empty());
    s = uuid;
    CHECK(s.size() == 36);
    CHECK(s == uuid);
    CHECK(std::string(s.view()) == uuid);
    s = long_text;
    CHECK(s.size() == 300);
    CHECK(s.str() == long_text);
    s = std::string_view("abc");
    CHECK(s == "abc");
    s.clear();
    CHECK(s.empty());
    // An empty view with a null pointer (a default-constructed one, as an unset field of the
    // engine gives): UBSan fails this if the null reaches memmove.
    s = std::string_view("abc");
    s = std::string_view{};
    CHECK(s.empty());
    // Exactly the inline capacity, and one past it.
    small_string<4> edge(std::string_view("abcd"));
    CHECK(edge == "abcd");
    edge = std::string_view("abcde");
    CHECK(edge == "abcde");
}

TEST_CASE("small_string copies and moves keep the text, inline or on the heap", "[unit][small_string]") {
    for (const std::string& text : {uuid, long_text}) {
        small_string<48> a(text);
        small_string<48> b(a);
        CHECK(b == text);
        CHECK(a == text);
        small_string<48> c(std::move(a));
        CHECK(c == text);
        CHECK(a.empty());
        small_string<48> d;
        d = c;
        CHECK(d == text);
        small_string<48> e(std::string_view("old"));
        e = std::move(d);
        CHECK(e == text);
        CHECK(d.empty());
        const small_string<48>& self = e;
        e = self;  // self-assignment keeps the text
        CHECK(e == text);
    }
}

TEST_CASE("small_string assigned a part of itself keeps that part", "[unit][small_string]") {
    small_string<48> s(long_text + "tail");
    s = s.view().substr(2);  // overlapping, on the heap
    CHECK(s.str() == long_text.substr(2) + "tail");
    s = s.view().substr(s.size() - 4);  // from the heap into the inline buffer
    CHECK(s == "tail");
    small_string<48> t(uuid);
    t = t.view().substr(1);  // overlapping, inline
    CHECK(t == uuid.substr(1));
}

#if WSPROXY_COUNTS_ALLOCATIONS
TEST_CASE("small_string allocates nothing for text within its inline capacity", "[unit][small_string]") {
    const auto before = wsproxy::testing::allocations();
    {
        small_string<48> a(uuid);
        small_string<48> b(a);
        small_string<48> c(std::move(b));
        a = c;
        c = std::string_view("short");
        c = a;
    }
    CHECK(wsproxy::testing::allocations() - before == 0);
    // Longer text allocates once, and a slot overwritten by text no longer reuses its buffer.
    small_string<48> slot;
    const auto before_long = wsproxy::testing::allocations();
    slot = long_text;
    slot = std::string_view(long_text).substr(1);
    slot = long_text;
    CHECK(wsproxy::testing::allocations() - before_long == 1);
}
#endif
