// common/utf8: the incremental validator at every boundary (overlong forms, surrogates,
// values past U+10FFFF, sequences cut at every byte), and the WebSocket reader failing fast
// on invalid text across fragments and across reads of one frame.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "common/utf8.hpp"
#include "proxy/ws/frame.hpp"

using wsproxy::utf8::validator;
namespace ws = wsproxy::ws;
using kind = ws::event::kind;

namespace {

std::string bytes(std::initializer_list<unsigned> list) {
    std::string s;
    for (unsigned b : list) s.push_back(static_cast<char>(b));
    return s;
}

// The verdict on `s` fed in the pieces [0, cut) and [cut, end): false at the first
// failing feed, else complete().
bool split_valid(const std::string& s, std::size_t cut) {
    validator v;
    if (!v.feed(std::string_view(s).substr(0, cut))) return false;
    if (!v.feed(std::string_view(s).substr(cut))) return false;
    return v.complete();
}

// The same, one byte per feed.
bool bytewise_valid(const std::string& s) {
    validator v;
    for (char c : s)
        if (!v.feed(std::string_view(&c, 1))) return false;
    return v.complete();
}

// Every way of feeding `s` (whole, split at every byte, byte by byte) gives `expected`.
void check_everywhere(const std::string& s, bool expected) {
    INFO("bytes: " << Catch::Detail::stringify(s));
    CHECK(wsproxy::utf8::valid(s) == expected);
    CHECK(bytewise_valid(s) == expected);
    for (std::size_t cut = 0; cut <= s.size(); ++cut) {
        INFO("cut at " << cut);
        CHECK(split_valid(s, cut) == expected);
    }
}

const std::vector<std::string> valid_edges = {
    bytes({0x00}),
    bytes({0x7f}),
    bytes({0xc2, 0x80}),              // U+0080, the smallest two-byte
    bytes({0xdf, 0xbf}),              // U+07FF
    bytes({0xe0, 0xa0, 0x80}),        // U+0800, the smallest three-byte
    bytes({0xed, 0x9f, 0xbf}),        // U+D7FF, just below the surrogates
    bytes({0xee, 0x80, 0x80}),        // U+E000, just above them
    bytes({0xef, 0xbf, 0xbf}),        // U+FFFF
    bytes({0xf0, 0x90, 0x80, 0x80}),  // U+10000, the smallest four-byte
    bytes({0xf4, 0x8f, 0xbf, 0xbf}),  // U+10FFFF, the largest
};

}  // namespace

TEST_CASE("utf8 accepts the first and last code point of every length and range", "[utf8]") {
    for (const auto& s : valid_edges) check_everywhere(s, true);
    check_everywhere("", true);
    // After an ASCII run long enough for the eight-byte path, and before one.
    check_everywhere("abcdefghij\xc3\xa9" "abcdefghijklmnop\xf0\x9f\x98\x80xyz", true);
}

TEST_CASE("utf8 rejects overlong forms, split anywhere", "[utf8]") {
    check_everywhere(bytes({0xc0, 0x80}), false);
    check_everywhere(bytes({0xc1, 0xbf}), false);
    check_everywhere(bytes({0xe0, 0x80, 0x80}), false);
    check_everywhere(bytes({0xe0, 0x9f, 0xbf}), false);  // U+07FF in three bytes
    check_everywhere(bytes({0xf0, 0x80, 0x80, 0x80}), false);
    check_everywhere(bytes({0xf0, 0x8f, 0xbf, 0xbf}), false);  // U+FFFF in four bytes
}

TEST_CASE("utf8 rejects surrogates and values past U+10FFFF, split anywhere", "[utf8]") {
    check_everywhere(bytes({0xed, 0xa0, 0x80}), false);  // U+D800
    check_everywhere(bytes({0xed, 0xbf, 0xbf}), false);  // U+DFFF
    check_everywhere(bytes({0xf4, 0x90, 0x80, 0x80}), false);  // U+110000
    check_everywhere(bytes({0xf5, 0x80, 0x80, 0x80}), false);
    check_everywhere(bytes({0xf7, 0xbf, 0xbf, 0xbf}), false);
    check_everywhere(bytes({0xf8, 0x88, 0x80, 0x80, 0x80}), false);
    check_everywhere(bytes({0xfe}), false);
    check_everywhere(bytes({0xff}), false);
}

TEST_CASE("utf8 rejects stray and missing continuation bytes, split anywhere", "[utf8]") {
    check_everywhere(bytes({0x80}), false);
    check_everywhere(bytes({0xbf}), false);
    check_everywhere(bytes({'a', 0x80, 'b'}), false);
    check_everywhere(bytes({0xc3, 0xa9, 0xa9}), false);
    check_everywhere(bytes({0xc3, 'a'}), false);
    check_everywhere(bytes({0xe2, 0x28, 0xa1}), false);
    check_everywhere(bytes({0xe2, 0x82, 0x28}), false);
    check_everywhere(bytes({0xf0, 0x9f, 0x98, 0x28}), false);
}

TEST_CASE("a sequence cut at any byte is incomplete, not failed, until its end", "[utf8]") {
    for (const auto& whole : valid_edges) {
        for (std::size_t n = 1; n < whole.size(); ++n) {
            INFO("first " << n << " bytes of " << Catch::Detail::stringify(whole));
            validator v;
            CHECK(v.feed(whole.substr(0, n)));
            CHECK_FALSE(v.failed());
            CHECK_FALSE(v.complete());  // the end of a message may not fall here
            CHECK(v.feed(whole.substr(n)));
            CHECK(v.complete());
        }
    }
}

TEST_CASE("utf8 fails at the first byte that can never become valid", "[utf8]") {
    validator v;
    CHECK(v.feed("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"));  // κόσμε, then
    CHECK(v.feed(bytes({0xed})));                                 // a lead that may be fine
    CHECK_FALSE(v.feed(bytes({0xa0})));                           // a surrogate: no future helps
    CHECK(v.failed());
    CHECK_FALSE(v.feed("plain"));  // failed stays failed
    CHECK_FALSE(v.complete());
    v.reset();
    CHECK(v.feed("plain"));
    CHECK(v.complete());
}

// ---- the WebSocket reader, fed as the relay feeds it ----

namespace {

// A masked client frame (RFC 6455 5.7's key).
std::string client_frame(unsigned b0, std::string_view payload) {
    const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
    std::string f;
    f.push_back(static_cast<char>(b0));
    f.push_back(static_cast<char>(0x80 | payload.size()));  // payloads here are < 126
    f.append(reinterpret_cast<const char*>(key), 4);
    for (std::size_t i = 0; i < payload.size(); ++i)
        f.push_back(static_cast<char>(static_cast<unsigned char>(payload[i]) ^ key[i % 4]));
    return f;
}

struct feed {
    ws::reader r{true, 1 << 20};
    std::string buf;
    std::size_t pos{0};
    // The first event after appending `bytes`, the used bytes dropped as the relay does.
    kind add(std::string_view bytes, std::string* payload = nullptr) {
        buf.erase(0, pos);
        pos = 0;
        buf.append(bytes);
        auto e = r.next(buf.data(), buf.size(), pos);
        if (payload) *payload = std::string(e.payload);
        return e.what;
    }
};

constexpr unsigned FIN = 0x80, TEXT = 0x1, CONT = 0x0;

}  // namespace

TEST_CASE("invalid UTF-8 in a text fragment is an error before the final fragment", "[utf8][ws]") {
    // Autobahn 6.4.1: a valid first fragment, then one carrying the invalid bytes; the final
    // fragment never needs to come.
    feed f;
    CHECK(f.add(client_frame(TEXT, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5")) ==
          kind::need_more);
    CHECK(f.add(client_frame(CONT, bytes({0xf4, 0x90, 0x80, 0x80}))) == kind::error);
}

TEST_CASE("invalid UTF-8 is an error while its frame is still incomplete", "[utf8][ws]") {
    // Autobahn 6.4.3/6.4.4: one frame sent in chops; the chop with the bad byte decides.
    std::string good = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5";
    std::string wire = client_frame(FIN | TEXT, good + bytes({0xf4, 0x90, 0x80, 0x80}) + "edited");
    feed f;
    std::size_t head = 6;
    CHECK(f.add(wire.substr(0, head + good.size())) == kind::need_more);
    CHECK(f.add(wire.substr(head + good.size(), 2)) == kind::error);
}

TEST_CASE("a text frame read in single bytes unmasks and delivers its whole payload",
          "[utf8][ws]") {
    std::string text = "abc\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5 \xf0\x9f\x98\x80 end";
    std::string wire = client_frame(FIN | TEXT, text);
    feed f;
    std::string got;
    for (std::size_t i = 0; i + 1 < wire.size(); ++i)
        REQUIRE(f.add(wire.substr(i, 1)) == kind::need_more);
    CHECK(f.add(wire.substr(wire.size() - 1), &got) == kind::message);
    CHECK(got == text);
}

TEST_CASE("a fragmented text message whose end cuts a character is an error", "[utf8][ws]") {
    feed f;
    CHECK(f.add(client_frame(TEXT, "ab\xe2")) == kind::need_more);
    CHECK(f.add(client_frame(CONT, "\x82")) == kind::need_more);  // still a prefix of €
    CHECK(f.add(client_frame(FIN | CONT, "")) == kind::error);
}

TEST_CASE("each text message, the empty one too, is checked from a clean state", "[utf8][ws]") {
    feed f;
    std::string got;
    CHECK(f.add(client_frame(FIN | TEXT, "\xe2\x82\xac"), &got) == kind::message);
    CHECK(got == "\xe2\x82\xac");
    CHECK(f.add(client_frame(FIN | TEXT, "")) == kind::message);
    CHECK(f.add(client_frame(FIN | TEXT, "x")) == kind::message);
}
