// WebSocket framing without I/O (proxy/ws/frame.hpp): the reader's events and errors for
// bytes built by hand here, write_header, apply_mask, close_payload and valid_utf8.
#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "proxy/ws/frame.hpp"

using namespace wsproxy::ws;
using kind = event::kind;

namespace {

// First header byte: FIN, the reserved bits and the opcode.
constexpr unsigned FIN = 0x80, RSV1 = 0x40, RSV2 = 0x20, RSV3 = 0x10;
constexpr unsigned CONT = 0x0, TEXT = 0x1, BINARY = 0x2, CLOSE = 0x8, PING = 0x9, PONG = 0xa;

constexpr std::size_t big_limit = 16 * 1024 * 1024;

// The masking key of RFC 6455's examples (section 5.7).
const unsigned char rfc_key[4] = {0x37, 0xfa, 0x21, 0x3d};

// A frame as raw bytes, built without the code under test: the first byte `b0`, the length
// in 7, 7+16 or 7+64 bits, and with `mask` the key followed by the masked payload.
std::string raw_frame(unsigned b0, std::string_view payload, bool mask,
                      const unsigned char* key = rfc_key) {
    std::string f;
    f.push_back(static_cast<char>(b0));
    const unsigned m = mask ? 0x80 : 0;
    const std::size_t n = payload.size();
    if (n < 126) {
        f.push_back(static_cast<char>(m | n));
    } else if (n <= 0xffff) {
        f.push_back(static_cast<char>(m | 126));
        f.push_back(static_cast<char>(n >> 8));
        f.push_back(static_cast<char>(n & 0xff));
    } else {
        f.push_back(static_cast<char>(m | 127));
        for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>((std::uint64_t{n} >> (8 * i)) & 0xff));
    }
    if (mask) {
        f.append(reinterpret_cast<const char*>(key), 4);
        for (std::size_t i = 0; i < n; ++i)
            f.push_back(static_cast<char>(static_cast<unsigned char>(payload[i]) ^ key[i % 4]));
    } else {
        f.append(payload);
    }
    return f;
}
// What a browser sends (masked), and what a server sends (unmasked).
std::string client_frame(unsigned b0, std::string_view payload) { return raw_frame(b0, payload, true); }
std::string server_frame(unsigned b0, std::string_view payload) { return raw_frame(b0, payload, false); }

// A close frame's payload built by hand: the code big-endian, then the reason.
std::string close_body(unsigned code, std::string_view reason = {}) {
    std::string b;
    b.push_back(static_cast<char>((code >> 8) & 0xff));
    b.push_back(static_cast<char>(code & 0xff));
    b.append(reason);
    return b;
}

// An event with its payload copied out of the buffer (the event's view dies with it).
struct got {
    kind what{kind::need_more};
    std::string payload;
    bool text{false};
    std::uint16_t code{0};
    std::string error;
};
got copy(const event& e) { return {e.what, std::string(e.payload), e.text, e.code, e.error}; }

// A reader with its input buffer, fed the way the relay feeds it: bytes are appended,
// and what the reader used (data[0, pos)) is dropped before the next read.
struct feed {
    reader r;
    std::string buf;
    std::size_t pos{0};

    feed(bool masked, std::size_t max = big_limit) : r(masked, max) {}

    got next() { return copy(r.next(buf.data(), buf.size(), pos)); }
    void add(std::string_view bytes) {
        buf.erase(0, pos);
        pos = 0;
        buf.append(bytes);
    }
    // Every event in `bytes` up to the first need_more (included).
    std::vector<got> all(std::string_view bytes) {
        add(bytes);
        std::vector<got> out;
        for (;;) {
            out.push_back(next());
            if (out.back().what == kind::need_more) return out;
            if (out.size() > 100) FAIL("the reader never asked for more");
        }
    }
    // The first event in `bytes`.
    got one(std::string_view bytes) {
        add(bytes);
        return next();
    }
};

got read_client(std::string_view bytes, std::size_t max = big_limit) { return feed(true, max).one(bytes); }
got read_server(std::string_view bytes, std::size_t max = big_limit) { return feed(false, max).one(bytes); }

// A payload whose every byte differs from its neighbours, so a misplaced byte shows.
std::string pattern(std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('!' + (i * 7 + i / 94) % 94);
    return s;
}

std::string bytes(std::initializer_list<unsigned> list) {
    std::string s;
    for (unsigned b : list) s.push_back(static_cast<char>(b));
    return s;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// reader: messages

TEST_CASE("a masked client text frame yields the unmasked message with the text flag", "[ws]") {
    // RFC 6455 5.7: a single-frame masked text message containing "Hello".
    auto wire = bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
    CHECK(raw_frame(FIN | TEXT, "Hello", true) == wire);  // the helper agrees with the RFC
    feed f(true);
    auto e = f.one(wire);
    CHECK(e.what == kind::message);
    CHECK(e.payload == "Hello");
    CHECK(e.text);
    CHECK(f.pos == wire.size());
    CHECK(f.next().what == kind::need_more);
}

TEST_CASE("an unmasked server text frame yields the message to an unmasked reader", "[ws]") {
    auto wire = bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f});
    auto e = read_server(wire);
    CHECK(e.what == kind::message);
    CHECK(e.payload == "Hello");
    CHECK(e.text);
}

TEST_CASE("the message payload points into the caller's buffer, unmasked in place", "[ws]") {
    std::string wire = client_frame(FIN | BINARY, "abcdef");
    reader r(true, big_limit);
    std::size_t pos = 0;
    auto e = r.next(wire.data(), wire.size(), pos);
    REQUIRE(e.what == kind::message);
    CHECK(e.payload.data() == wire.data() + 6);  // 2 header bytes + 4 key bytes
    CHECK(wire.substr(6) == "abcdef");
}

TEST_CASE("a binary frame yields a message without the text flag", "[ws]") {
    const std::string payload = bytes({0x00, 0xff, 0x80, 0xc0, 0x01});
    auto e = read_client(client_frame(FIN | BINARY, payload));
    CHECK(e.what == kind::message);
    CHECK_FALSE(e.text);
    CHECK(e.payload == payload);
}

TEST_CASE("an empty text frame yields an empty text message", "[ws]") {
    auto e = read_client(client_frame(FIN | TEXT, ""));
    CHECK(e.what == kind::message);
    CHECK(e.text);
    CHECK(e.payload.empty());
}

TEST_CASE("a frame with a 16-bit length of 300 bytes is read whole", "[ws]") {
    const auto payload = pattern(300);
    auto wire = client_frame(FIN | BINARY, payload);
    REQUIRE(wire.size() == 4 + 4 + 300);
    CHECK(static_cast<unsigned char>(wire[1]) == (0x80 | 126));
    feed f(true);
    auto e = f.one(wire);
    CHECK(e.what == kind::message);
    CHECK(e.payload == payload);
    CHECK(f.pos == wire.size());
}

TEST_CASE("a frame with a 64-bit length of 70000 bytes is read whole", "[ws]") {
    const auto payload = pattern(70000);
    auto wire = client_frame(FIN | TEXT, payload);
    REQUIRE(wire.size() == 10 + 4 + 70000);
    CHECK(static_cast<unsigned char>(wire[1]) == (0x80 | 127));
    feed f(true);
    auto e = f.one(wire);
    CHECK(e.what == kind::message);
    CHECK(e.text);
    CHECK(e.payload == payload);
    CHECK(f.pos == wire.size());
}

TEST_CASE("a 64-bit length of 2^63 or more is a protocol error", "[ws]") {
    auto wire = bytes({0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0x01});
    auto e = read_server(wire, SIZE_MAX);
    CHECK(e.what == kind::error);
    CHECK(e.code == 1002);
}

TEST_CASE("a length not in its fewest bytes is a protocol error (RFC 6455 5.2)", "[ws]") {
    // 5 bytes announced in the 16-bit form, then 200 bytes in the 64-bit form.
    std::string five = bytes({0x82, 126, 0x00, 0x05}) + "hello";
    auto e = read_server(five, SIZE_MAX);
    CHECK(e.what == kind::error);
    CHECK(e.code == 1002);
    CHECK(e.error == "frame length not minimal");
    std::string two_hundred = bytes({0x82, 127, 0, 0, 0, 0, 0, 0, 0x00, 0xc8}) + pattern(200);
    e = read_server(two_hundred, SIZE_MAX);
    CHECK(e.what == kind::error);
    CHECK(e.code == 1002);
    // The smallest length of each form is fine.
    e = read_server(bytes({0x82, 126, 0x00, 126}) + pattern(126), SIZE_MAX);
    CHECK(e.what == kind::message);
    e = read_server(bytes({0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0}) + pattern(65536), SIZE_MAX);
    CHECK(e.what == kind::message);
}

TEST_CASE("boundary lengths 125, 126, 65535 and 65536 are all read back", "[ws]") {
    for (std::size_t n : {125u, 126u, 65535u, 65536u}) {
        CAPTURE(n);
        const auto payload = pattern(n);
        auto e = read_client(client_frame(FIN | BINARY, payload));
        CHECK(e.what == kind::message);
        CHECK(e.payload == payload);
    }
}

TEST_CASE("a frame fed one byte at a time is need_more until complete, pos at its start", "[ws]") {
    // 300 bytes: the extended length and the key are split too.
    const auto payload = pattern(300);
    const auto wire = client_frame(FIN | TEXT, payload);
    feed f(true);
    for (std::size_t i = 0; i + 1 < wire.size(); ++i) {
        f.add(wire.substr(i, 1));
        auto e = f.next();
        CAPTURE(i);
        REQUIRE(e.what == kind::need_more);
        REQUIRE(f.pos == 0);
        // The kept bytes are the wire's header, then the text received so far, already
        // unmasked (text is unmasked and checked as it comes: the reader keeps count).
        constexpr std::size_t head = 8;  // 2 + 16-bit length + key
        std::string expected = wire.substr(0, std::min(i + 1, head));
        if (i + 1 > head) expected += payload.substr(0, i + 1 - head);
        REQUIRE(f.buf == expected);
    }
    f.add(wire.substr(wire.size() - 1));
    auto e = f.next();
    CHECK(e.what == kind::message);
    CHECK(e.text);
    CHECK(e.payload == payload);
    CHECK(f.pos == wire.size());
}

TEST_CASE("a fragmented message fed one byte at a time is reassembled", "[ws]") {
    const std::string wire = client_frame(TEXT, "Hel") + client_frame(FIN | PING, "p") +
                             client_frame(CONT, "lo, ") + client_frame(FIN | CONT, "world");
    feed f(true);
    std::vector<got> events;
    for (char c : wire) {
        f.add(std::string_view(&c, 1));
        for (auto e = f.next(); e.what != kind::need_more; e = f.next()) events.push_back(e);
    }
    REQUIRE(events.size() == 2);
    CHECK(events[0].what == kind::ping);
    CHECK(events[0].payload == "p");
    CHECK(events[1].what == kind::message);
    CHECK(events[1].payload == "Hel" "lo, " "world");
    CHECK(events[1].text);
    CHECK(f.pos == f.buf.size());
}

TEST_CASE("two frames in one buffer come out one after another", "[ws]") {
    feed f(true);
    auto first = client_frame(FIN | TEXT, "one");
    auto events = f.all(first + client_frame(FIN | BINARY, "two!"));
    REQUIRE(events.size() == 3);
    CHECK(events[0].what == kind::message);
    CHECK(events[0].payload == "one");
    CHECK(events[0].text);
    CHECK(events[1].what == kind::message);
    CHECK(events[1].payload == "two!");
    CHECK_FALSE(events[1].text);
    CHECK(events[2].what == kind::need_more);
    CHECK(f.pos == f.buf.size());
}

TEST_CASE("after a complete frame, pos stops at the start of the incomplete next one", "[ws]") {
    feed f(true);
    auto first = client_frame(FIN | TEXT, "one");
    auto second = client_frame(FIN | TEXT, "second");
    f.add(first + second.substr(0, 5));
    CHECK(f.next().payload == "one");
    CHECK(f.next().what == kind::need_more);
    CHECK(f.pos == first.size());
    f.add(second.substr(5));
    auto e = f.next();
    CHECK(e.what == kind::message);
    CHECK(e.payload == "second");
}

TEST_CASE("a fragmented text message is reassembled with a ping coming out in between", "[ws]") {
    feed f(true);
    auto events = f.all(client_frame(TEXT, "frag") + client_frame(CONT, "men") +
                        client_frame(FIN | PING, "are you there") + client_frame(CONT, "") +
                        client_frame(FIN | CONT, "ted"));
    REQUIRE(events.size() == 3);
    CHECK(events[0].what == kind::ping);
    CHECK(events[0].payload == "are you there");
    CHECK(events[1].what == kind::message);
    CHECK(events[1].payload == "fragmented");
    CHECK(events[1].text);
    CHECK(events[2].what == kind::need_more);
}

TEST_CASE("a fragmented binary message keeps its binary flag", "[ws]") {
    feed f(false);
    auto events = f.all(server_frame(BINARY, "ab") + server_frame(FIN | CONT, "cd"));
    REQUIRE(events.size() == 2);
    CHECK(events[0].what == kind::message);
    CHECK_FALSE(events[0].text);
    CHECK(events[0].payload == "abcd");
}

TEST_CASE("messages after a fragmented one are read normally", "[ws]") {
    feed f(true);
    auto events = f.all(client_frame(TEXT, "a") + client_frame(FIN | CONT, "b") +
                        client_frame(FIN | BINARY, "c") + client_frame(BINARY, "d") +
                        client_frame(FIN | CONT, "e"));
    REQUIRE(events.size() == 4);
    CHECK(events[0].payload == "ab");
    CHECK(events[0].text);
    CHECK(events[1].payload == "c");
    CHECK_FALSE(events[1].text);
    CHECK(events[2].payload == "de");
    CHECK_FALSE(events[2].text);
}

TEST_CASE("ping and pong frames yield their payloads", "[ws]") {
    feed f(true);
    auto events = f.all(client_frame(FIN | PING, "ping!") + client_frame(FIN | PONG, "pong!") +
                        client_frame(FIN | PING, ""));
    REQUIRE(events.size() == 4);
    CHECK(events[0].what == kind::ping);
    CHECK(events[0].payload == "ping!");
    CHECK(events[1].what == kind::pong);
    CHECK(events[1].payload == "pong!");
    CHECK(events[2].what == kind::ping);
    CHECK(events[2].payload.empty());
}

TEST_CASE("a control frame of exactly 125 bytes is accepted", "[ws]") {
    const auto payload = pattern(125);
    auto e = read_client(client_frame(FIN | PING, payload));
    CHECK(e.what == kind::ping);
    CHECK(e.payload == payload);
}

// ---------------------------------------------------------------------------------------
// reader: protocol errors

TEST_CASE("an unmasked frame to a reader that expects masking is a protocol error", "[ws]") {
    auto e = read_client(server_frame(FIN | TEXT, "hi"));
    CHECK(e.what == kind::error);
    CHECK(e.code == 1002);
}

TEST_CASE("a masked frame to a reader that expects no masking is a protocol error", "[ws]") {
    auto e = read_server(client_frame(FIN | TEXT, "hi"));
    CHECK(e.what == kind::error);
    CHECK(e.code == 1002);
}

TEST_CASE("a frame with any reserved bit set is a protocol error without deflate", "[ws]") {
    for (unsigned rsv : {RSV1, RSV2, RSV3, RSV1 | RSV2 | RSV3}) {
        CAPTURE(rsv);
        auto e = read_client(client_frame(FIN | rsv | TEXT, "hi"));
        CHECK(e.what == kind::error);
        CHECK(e.code == 1002);
    }
}

TEST_CASE("reserved opcodes are a protocol error", "[ws]") {
    for (unsigned op : {0x3u, 0x7u, 0xbu, 0xfu}) {
        CAPTURE(op);
        auto e = read_client(client_frame(FIN | op, "x"));
        CHECK(e.what == kind::error);
        CHECK(e.code == 1002);
    }
}

TEST_CASE("a control frame of 126 bytes is a protocol error", "[ws]") {
    auto wire = client_frame(FIN | PING, pattern(126));
    auto e = read_client(wire);
    CHECK(e.what == kind::error);
    CHECK(e.code == 1002);
    // Its first two bytes are enough to tell.
    auto early = read_client(wire.substr(0, 2));
    CHECK(early.what == kind::error);
    CHECK(early.code == 1002);
}

TEST_CASE("a fragmented control frame is a protocol error", "[ws]") {
    for (unsigned op : {PING, PONG, CLOSE}) {
        CAPTURE(op);
        auto e = read_client(client_frame(op, op == CLOSE ? close_body(1000) : "p"));  // FIN=0
        CHECK(e.what == kind::error);
        CHECK(e.code == 1002);
    }
}

TEST_CASE("a continuation frame without a message started is a protocol error", "[ws]") {
    for (unsigned b0 : {FIN | CONT, CONT}) {
        CAPTURE(b0);
        auto e = read_client(client_frame(b0, "x"));
        CHECK(e.what == kind::error);
        CHECK(e.code == 1002);
    }
    // Also right after a complete message.
    feed f(true);
    auto events = f.all(client_frame(FIN | TEXT, "done") + client_frame(FIN | CONT, "more"));
    REQUIRE(events.size() == 3);
    CHECK(events[0].what == kind::message);
    CHECK(events[1].what == kind::error);
    CHECK(events[1].code == 1002);
}

TEST_CASE("a new data frame inside a fragmented message is a protocol error", "[ws]") {
    for (unsigned b0 : {FIN | TEXT, TEXT, FIN | BINARY}) {
        CAPTURE(b0);
        feed f(true);
        auto events = f.all(client_frame(TEXT, "start") + client_frame(b0, "again"));
        REQUIRE(events.size() == 2);
        CHECK(events[0].what == kind::error);
        CHECK(events[0].code == 1002);
    }
}

TEST_CASE("a frame over max_message is 1009 from its header alone", "[ws]") {
    const std::uint64_t n = 20 * 1024 * 1024;
    std::string header = bytes({FIN | BINARY, 0x80 | 127});
    for (int i = 7; i >= 0; --i) header.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
    REQUIRE(header.size() == 10);
    auto e = read_client(header, 16 * 1024 * 1024);
    CHECK(e.what == kind::error);
    CHECK(e.code == 1009);
    // With the key too.
    auto with_key = read_client(header + std::string(reinterpret_cast<const char*>(rfc_key), 4),
                                16 * 1024 * 1024);
    CHECK(with_key.what == kind::error);
    CHECK(with_key.code == 1009);
}

TEST_CASE("a message of exactly max_message bytes is accepted, one more is 1009", "[ws]") {
    auto ok = read_client(client_frame(FIN | TEXT, pattern(100)), 100);
    CHECK(ok.what == kind::message);
    CHECK(ok.payload.size() == 100);
    auto over = read_client(client_frame(FIN | TEXT, pattern(101)), 100);
    CHECK(over.what == kind::error);
    CHECK(over.code == 1009);
}

TEST_CASE("fragments summing over max_message are 1009", "[ws]") {
    feed f(true, 10);
    auto events = f.all(client_frame(TEXT, "123456") + client_frame(CONT, "7890") +
                        client_frame(FIN | CONT, "x"));
    REQUIRE(events.size() == 2);
    CHECK(events[0].what == kind::error);
    CHECK(events[0].code == 1009);

    // Exactly at the limit is fine.
    feed g(true, 10);
    auto ok = g.all(client_frame(TEXT, "123456") + client_frame(FIN | CONT, "7890"));
    REQUIRE(ok.size() == 2);
    CHECK(ok[0].what == kind::message);
    CHECK(ok[0].payload == "1234567890");
}

TEST_CASE("control frames do not count against max_message", "[ws]") {
    auto e = read_client(client_frame(FIN | PING, "0123456789"), 4);
    CHECK(e.what == kind::ping);
    CHECK(e.payload == "0123456789");
}

TEST_CASE("a text message that is not UTF-8 is 1007", "[ws]") {
    for (std::string bad : {bytes({0xff}), bytes({'a', 0xc3}), bytes({0xed, 0xa0, 0x80}),
                            bytes({0xc0, 0x80})}) {
        CAPTURE(bad);
        auto e = read_client(client_frame(FIN | TEXT, bad));
        CHECK(e.what == kind::error);
        CHECK(e.code == 1007);
    }
}

TEST_CASE("a UTF-8 character split across fragments is accepted", "[ws]") {
    // U+1F600 (F0 9F 98 80) in three fragments, then 'é' (C3 A9) across two.
    feed f(true);
    auto events = f.all(client_frame(TEXT, bytes({'a', 0xf0})) + client_frame(CONT, bytes({0x9f, 0x98})) +
                        client_frame(CONT, bytes({0x80, 0xc3})) + client_frame(FIN | CONT, bytes({0xa9})));
    REQUIRE(events.size() == 2);
    CHECK(events[0].what == kind::message);
    CHECK(events[0].payload == bytes({'a', 0xf0, 0x9f, 0x98, 0x80, 0xc3, 0xa9}));
}

TEST_CASE("invalid UTF-8 split across fragments is 1007", "[ws]") {
    // A lead byte that the next fragment does not continue.
    feed f(true);
    auto events = f.all(client_frame(TEXT, bytes({'a', 0xce})) + client_frame(FIN | CONT, "b"));
    REQUIRE(events.size() == 2);
    CHECK(events[0].what == kind::error);
    CHECK(events[0].code == 1007);
    // A message that ends in the middle of a character.
    feed g(true);
    auto cut = g.all(client_frame(TEXT, "ok") + client_frame(FIN | CONT, bytes({0xe2, 0x82})));
    REQUIRE(cut.size() == 2);
    CHECK(cut[0].what == kind::error);
    CHECK(cut[0].code == 1007);
}

TEST_CASE("a binary message with invalid UTF-8 is fine", "[ws]") {
    const auto payload = bytes({0xff, 0xfe, 0xc0, 0x80, 0xed, 0xa0, 0x80});
    auto e = read_client(client_frame(FIN | BINARY, payload));
    CHECK(e.what == kind::message);
    CHECK(e.payload == payload);
    feed f(true);
    auto frag = f.all(client_frame(BINARY, bytes({0xce})) + client_frame(FIN | CONT, "b"));
    REQUIRE(frag.size() == 2);
    CHECK(frag[0].what == kind::message);
    CHECK(frag[0].payload == bytes({0xce, 'b'}));
}

TEST_CASE("after an error, next() returns need_more even for good frames", "[ws]") {
    feed f(true);
    auto events = f.all(server_frame(FIN | TEXT, "unmasked") + client_frame(FIN | TEXT, "fine"));
    REQUIRE(events.size() == 2);
    CHECK(events[0].what == kind::error);
    CHECK(events[1].what == kind::need_more);
    f.add(client_frame(FIN | TEXT, "later"));
    CHECK(f.next().what == kind::need_more);
}

TEST_CASE("error events carry a description", "[ws]") {
    auto e = read_client(client_frame(FIN | 0x3, "x"));
    REQUIRE(e.what == kind::error);
    CHECK_FALSE(e.error.empty());
}

// ---------------------------------------------------------------------------------------
// reader: close frames

TEST_CASE("a close frame yields its code and reason", "[ws]") {
    feed f(true);
    auto wire = client_frame(FIN | CLOSE, close_body(1001, "going away"));
    auto e = f.one(wire);
    CHECK(e.what == kind::close);
    CHECK(e.code == 1001);
    CHECK(e.payload == "going away");
    CHECK(f.pos == wire.size());
}

TEST_CASE("a close frame with a UTF-8 reason keeps it", "[ws]") {
    auto e = read_server(server_frame(FIN | CLOSE, close_body(1000, "d\xc3\xa9j\xc3\xa0 vu")));
    CHECK(e.what == kind::close);
    CHECK(e.code == 1000);
    CHECK(e.payload == "d\xc3\xa9j\xc3\xa0 vu");
}

TEST_CASE("an empty close frame yields code 1005", "[ws]") {
    auto e = read_client(client_frame(FIN | CLOSE, ""));
    CHECK(e.what == kind::close);
    CHECK(e.code == 1005);
    CHECK(e.payload.empty());
}

TEST_CASE("a close frame with a 1-byte payload is a protocol error", "[ws]") {
    auto e = read_client(client_frame(FIN | CLOSE, "\x03"));
    CHECK(e.what == kind::error);
    CHECK(e.code == 1002);
}

TEST_CASE("a close frame with an invalid code is a protocol error", "[ws]") {
    for (unsigned code : {0u, 999u, 1004u, 1005u, 1006u, 1015u, 1016u, 1100u, 2000u, 2999u, 5000u, 65535u}) {
        CAPTURE(code);
        auto e = read_client(client_frame(FIN | CLOSE, close_body(code, "r")));
        CHECK(e.what == kind::error);
        CHECK(e.code == 1002);
    }
}

TEST_CASE("close frames with the defined codes and 3000-4999 are accepted", "[ws]") {
    // 1012 (service restart) and 1013 (try again later) are registered and accepted by Beast,
    // and the proxy itself sends 1013.
    for (unsigned code : {1000u, 1001u, 1002u, 1003u, 1007u, 1008u, 1009u, 1010u, 1011u, 1012u, 1013u,
                          3000u, 3999u, 4000u, 4999u}) {
        CAPTURE(code);
        auto e = read_client(client_frame(FIN | CLOSE, close_body(code)));
        CHECK(e.what == kind::close);
        CHECK(e.code == code);
        CHECK(e.payload.empty());
    }
}

TEST_CASE("a close reason that is not UTF-8 is 1007", "[ws]") {
    auto e = read_client(client_frame(FIN | CLOSE, close_body(1000, bytes({'b', 'y', 0xff}))));
    CHECK(e.what == kind::error);
    CHECK(e.code == 1007);
}

TEST_CASE("after a close frame, next() returns need_more", "[ws]") {
    feed f(true);
    auto events = f.all(client_frame(FIN | CLOSE, close_body(1000)) + client_frame(FIN | TEXT, "after"));
    REQUIRE(events.size() == 2);
    CHECK(events[0].what == kind::close);
    CHECK(events[1].what == kind::need_more);
}

TEST_CASE("a close frame may come between the fragments of a message", "[ws]") {
    feed f(true);
    auto events = f.all(client_frame(TEXT, "half") + client_frame(FIN | CLOSE, close_body(1001)));
    REQUIRE(events.size() == 2);
    CHECK(events[0].what == kind::close);
    CHECK(events[0].code == 1001);
}

// ---------------------------------------------------------------------------------------
// write_header

namespace {

std::string header(opcode op, std::uint64_t size, bool compressed, std::uint32_t key) {
    unsigned char out[14];
    std::memset(out, 0xee, sizeof out);
    auto n = write_header(out, op, size, compressed, key);
    REQUIRE(n <= 14);
    return std::string(reinterpret_cast<const char*>(out), n);
}

std::string key_bytes(std::uint32_t key) {
    char k[4];
    std::memcpy(k, &key, 4);
    return std::string(k, 4);
}

}  // namespace

TEST_CASE("write_header uses 2, 4 and 10 byte headers by payload size", "[ws]") {
    CHECK(header(opcode::text, 0, false, 0) == bytes({0x81, 0x00}));
    CHECK(header(opcode::binary, 125, false, 0) == bytes({0x82, 125}));
    CHECK(header(opcode::binary, 126, false, 0) == bytes({0x82, 126, 0x00, 0x7e}));
    CHECK(header(opcode::text, 65535, false, 0) == bytes({0x81, 126, 0xff, 0xff}));
    CHECK(header(opcode::binary, 65536, false, 0) ==
          bytes({0x82, 127, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}));
    CHECK(header(opcode::binary, 0x0102030405060708ull, false, 0) ==
          bytes({0x82, 127, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08}));
}

TEST_CASE("write_header with a mask key sets the mask bit and appends the key", "[ws]") {
    const std::uint32_t key = 0x3d21fa37;
    const auto k = key_bytes(key);
    CHECK(header(opcode::text, 0, false, key) == bytes({0x81, 0x80}) + k);
    CHECK(header(opcode::text, 125, false, key) == bytes({0x81, 0x80 | 125}) + k);
    CHECK(header(opcode::text, 126, false, key) == bytes({0x81, 0x80 | 126, 0x00, 0x7e}) + k);
    CHECK(header(opcode::text, 65535, false, key) == bytes({0x81, 0x80 | 126, 0xff, 0xff}) + k);
    CHECK(header(opcode::text, 65536, false, key) ==
          bytes({0x81, 0x80 | 127, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}) + k);
    CHECK(header(opcode::text, 65536, false, key).size() == 14);
}

TEST_CASE("write_header writes the opcode with FIN, and 0x40 for a compressed message", "[ws]") {
    CHECK(header(opcode::close, 2, false, 0)[0] == '\x88');
    CHECK(header(opcode::ping, 0, false, 0)[0] == '\x89');
    CHECK(header(opcode::pong, 0, false, 0)[0] == '\x8a');
    CHECK(header(opcode::text, 5, true, 0)[0] == '\xc1');
    CHECK(header(opcode::binary, 5, true, 0)[0] == '\xc2');
    CHECK(header(opcode::binary, 5, false, 0)[0] == '\x82');
}

TEST_CASE("write_header with apply_mask produces frames a masked reader reads back", "[ws]") {
    const std::uint32_t key = 0xa1b2c3d4;
    for (std::size_t n : {0u, 1u, 5u, 125u, 126u, 300u, 65535u, 65536u, 70000u}) {
        CAPTURE(n);
        const auto payload = pattern(n);
        std::string wire = header(n % 2 ? opcode::text : opcode::binary, n, false, key);
        std::string masked = payload;
        apply_mask(masked.data(), masked.size(), key);
        if (n >= 4) CHECK(masked != payload);
        wire += masked;
        feed f(true);
        auto e = f.one(wire);
        CHECK(e.what == kind::message);
        CHECK(e.text == (n % 2 == 1));
        CHECK(e.payload == payload);
        CHECK(f.pos == wire.size());
    }
}

TEST_CASE("write_header without a key produces frames an unmasked reader reads back", "[ws]") {
    const auto payload = pattern(70000);
    auto e = read_server(header(opcode::binary, payload.size(), false, 0) + payload);
    CHECK(e.what == kind::message);
    CHECK(e.payload == payload);
}

TEST_CASE("write_header's masked frames match the ones built by hand", "[ws]") {
    std::uint32_t key;
    std::memcpy(&key, rfc_key, 4);
    std::string masked = "Hello";
    apply_mask(masked.data(), masked.size(), key);
    CHECK(header(opcode::text, 5, false, key) + masked ==
          bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
}

// ---------------------------------------------------------------------------------------
// apply_mask

TEST_CASE("apply_mask XORs each byte with the key byte of its position", "[ws]") {
    const std::uint32_t key = 0x12345678;
    unsigned char k[4];
    std::memcpy(k, &key, 4);
    for (std::size_t offset = 0; offset < 8; ++offset) {
        for (std::size_t n = 0; n <= 20; ++n) {
            CAPTURE(offset, n);
            std::string buf = pattern(offset + n + 3);
            const std::string orig = buf;
            apply_mask(buf.data() + offset, n, key);
            std::string expected = orig;
            for (std::size_t i = 0; i < n; ++i)
                expected[offset + i] = static_cast<char>(static_cast<unsigned char>(orig[offset + i]) ^ k[i % 4]);
            CHECK(buf == expected);  // and nothing outside [offset, offset + n) changed
        }
    }
}

TEST_CASE("apply_mask twice restores the data, for lengths 0..20 at unaligned starts", "[ws]") {
    for (std::uint32_t key : {0x00000000u, 0xffffffffu, 0xdeadbeefu, 0x01020304u}) {
        for (std::size_t offset = 0; offset < 8; ++offset) {
            for (std::size_t n = 0; n <= 20; ++n) {
                CAPTURE(key, offset, n);
                std::string buf = pattern(offset + n);
                const std::string orig = buf;
                apply_mask(buf.data() + offset, n, key);
                if (key == 0xdeadbeefu && n > 0) CHECK(buf != orig);
                apply_mask(buf.data() + offset, n, key);
                CHECK(buf == orig);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// close_payload

TEST_CASE("close_payload puts the code in network order before the reason", "[ws]") {
    CHECK(close_payload(1000, "") == bytes({0x03, 0xe8}));
    CHECK(close_payload(1001, "bye") == bytes({0x03, 0xe9, 'b', 'y', 'e'}));
    CHECK(close_payload(4999, "x") == bytes({0x13, 0x87, 'x'}));
}

TEST_CASE("close_payload keeps a reason of 123 bytes and cuts a longer one to 123", "[ws]") {
    const std::string r123(123, 'r');
    CHECK(close_payload(1000, r123) == bytes({0x03, 0xe8}) + r123);
    CHECK(close_payload(1000, r123 + "tail") == bytes({0x03, 0xe8}) + r123);
}

TEST_CASE("close_payload cuts a long reason without splitting a UTF-8 character", "[ws]") {
    std::string e_acute;
    for (int i = 0; i < 100; ++i) e_acute += "\xc3\xa9";  // 'é', 2 bytes
    auto p = close_payload(1011, e_acute);
    CHECK(p.size() == 2 + 122);  // 61 characters; the 62nd would need byte 124
    CHECK(p.substr(2) == e_acute.substr(0, 122));
    CHECK(valid_utf8(p.substr(2)));

    // A cut that falls right after a whole character keeps that character.
    auto shifted = close_payload(1011, "a" + e_acute);
    CHECK(shifted.size() == 2 + 123);
    CHECK(valid_utf8(shifted.substr(2)));

    std::string euro;  // '€', 3 bytes: 41 of them are exactly 123 bytes
    for (int i = 0; i < 50; ++i) euro += "\xe2\x82\xac";
    auto p3 = close_payload(1000, euro);
    CHECK(p3.size() == 2 + 123);
    CHECK(valid_utf8(p3.substr(2)));

    std::string smiley;  // U+1F600, 4 bytes: 30 of them are 120 bytes, the 31st would cross 123
    for (int i = 0; i < 40; ++i) smiley += "\xf0\x9f\x98\x80";
    auto p4 = close_payload(1000, smiley);
    CHECK(p4.size() == 2 + 120);
    CHECK(valid_utf8(p4.substr(2)));
}

TEST_CASE("close_payload's output is read back by the reader as the same close", "[ws]") {
    std::string reason;
    for (int i = 0; i < 100; ++i) reason += "\xc3\xa9";
    auto body = close_payload(3000, reason);
    REQUIRE(body.size() <= 125);
    auto e = read_client(client_frame(FIN | CLOSE, body));
    CHECK(e.what == kind::close);
    CHECK(e.code == 3000);
    CHECK(e.payload == body.substr(2));
}

// ---------------------------------------------------------------------------------------
// valid_utf8

TEST_CASE("valid_utf8 accepts ASCII and 2, 3 and 4 byte sequences", "[ws]") {
    CHECK(valid_utf8(""));
    CHECK(valid_utf8("plain ASCII, long enough for the eight-byte path"));
    CHECK(valid_utf8(std::string_view("nul\0inside", 10)));
    CHECK(valid_utf8(bytes({0x7f})));
    CHECK(valid_utf8(bytes({0xc2, 0x80})));              // U+0080, the smallest 2-byte
    CHECK(valid_utf8(bytes({0xc3, 0xa9})));              // é
    CHECK(valid_utf8(bytes({0xdf, 0xbf})));              // U+07FF
    CHECK(valid_utf8(bytes({0xe0, 0xa0, 0x80})));        // U+0800, the smallest 3-byte
    CHECK(valid_utf8(bytes({0xe2, 0x82, 0xac})));        // €
    CHECK(valid_utf8(bytes({0xed, 0x9f, 0xbf})));        // U+D7FF, just below the surrogates
    CHECK(valid_utf8(bytes({0xee, 0x80, 0x80})));        // U+E000, just above them
    CHECK(valid_utf8(bytes({0xef, 0xbf, 0xbf})));        // U+FFFF
    CHECK(valid_utf8(bytes({0xf0, 0x90, 0x80, 0x80})));  // U+10000, the smallest 4-byte
    CHECK(valid_utf8(bytes({0xf0, 0x9f, 0x98, 0x80})));  // U+1F600
    CHECK(valid_utf8(bytes({0xf4, 0x8f, 0xbf, 0xbf})));  // U+10FFFF, the largest
    CHECK(valid_utf8("abcdefgh\xc3\xa9" "abcdefghijklmnop\xf0\x9f\x98\x80xyz"));
}

TEST_CASE("valid_utf8 rejects overlong encodings", "[ws]") {
    CHECK_FALSE(valid_utf8(bytes({0xc0, 0x80})));
    CHECK_FALSE(valid_utf8(bytes({0xc1, 0xbf})));
    CHECK_FALSE(valid_utf8(bytes({0xe0, 0x80, 0x80})));
    CHECK_FALSE(valid_utf8(bytes({0xe0, 0x9f, 0xbf})));
    CHECK_FALSE(valid_utf8(bytes({0xf0, 0x80, 0x80, 0x80})));
    CHECK_FALSE(valid_utf8(bytes({0xf0, 0x8f, 0xbf, 0xbf})));
}

TEST_CASE("valid_utf8 rejects surrogates and values past U+10FFFF", "[ws]") {
    CHECK_FALSE(valid_utf8(bytes({0xed, 0xa0, 0x80})));  // U+D800
    CHECK_FALSE(valid_utf8(bytes({0xed, 0xbf, 0xbf})));  // U+DFFF
    CHECK_FALSE(valid_utf8(bytes({0xf4, 0x90, 0x80, 0x80})));  // U+110000
    CHECK_FALSE(valid_utf8(bytes({0xf5, 0x80, 0x80, 0x80})));
    CHECK_FALSE(valid_utf8(bytes({0xf8, 0x88, 0x80, 0x80, 0x80})));
    CHECK_FALSE(valid_utf8(bytes({0xfe})));
    CHECK_FALSE(valid_utf8(bytes({0xff})));
}

TEST_CASE("valid_utf8 rejects sequences truncated at the end", "[ws]") {
    CHECK_FALSE(valid_utf8(bytes({0xc3})));
    CHECK_FALSE(valid_utf8(bytes({0xe2, 0x82})));
    CHECK_FALSE(valid_utf8(bytes({0xf0, 0x9f, 0x98})));
    CHECK_FALSE(valid_utf8("abcdefghijkl\xe2\x82"));  // after an ASCII run
    CHECK_FALSE(valid_utf8("abcdefgh\xf0"));
}

TEST_CASE("valid_utf8 rejects stray and missing continuation bytes", "[ws]") {
    CHECK_FALSE(valid_utf8(bytes({0x80})));
    CHECK_FALSE(valid_utf8(bytes({0xbf})));
    CHECK_FALSE(valid_utf8(bytes({'a', 0x80, 'b'})));
    CHECK_FALSE(valid_utf8("abcdefgh\x80"));
    CHECK_FALSE(valid_utf8(bytes({0xc3, 0xa9, 0xa9})));        // one continuation too many
    CHECK_FALSE(valid_utf8(bytes({0xc3, 'a'})));               // a lead without its continuation
    CHECK_FALSE(valid_utf8(bytes({0xe2, 0x28, 0xa1})));        // bad second byte
    CHECK_FALSE(valid_utf8(bytes({0xe2, 0x82, 0x28})));        // bad third byte
    CHECK_FALSE(valid_utf8(bytes({0xf0, 0x9f, 0x98, 0x28})));  // bad fourth byte
    CHECK_FALSE(valid_utf8(bytes({0xf0, 0x9f, 0x28, 0x80})));
}
