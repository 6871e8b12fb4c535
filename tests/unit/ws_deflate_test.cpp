// permessage-deflate (proxy/ws/deflate.hpp): negotiation on both legs, the deflater and
// inflater streams, and the reader receiving compressed frames.
#include <zlib.h>

#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

#include "proxy/ws/deflate.hpp"
#include "proxy/ws/frame.hpp"

using namespace wsproxy::ws;

namespace {

// A JSON-ish chat stream: repetitive, as real traffic is, and different in every message.
std::string chat_message(std::size_t n, std::size_t size) {
    std::string s;
    std::size_t i = 0;
    while (s.size() < size) {
        s += R"({"type":"message","data":{"chat_id":"8d1d5bfc-8b1c-4e0a-9d3e-2f9a6c1e7b01","seq":)" +
             std::to_string(n * 100000 + i++) + R"(,"text":"hello there, how are you?"}})" "\n";
    }
    s.resize(size);
    return s;
}

// Bytes zlib cannot shrink.
std::string random_bytes(std::size_t size, unsigned seed) {
    std::mt19937 rng(seed);
    std::string s(size, '\0');
    for (auto& c : s) c = static_cast<char>(rng() & 0xff);
    return s;
}

std::string compress(deflater& d, std::string_view message) {
    std::string out = "stale";  // deflate replaces what was there
    d.deflate(message, out);
    return out;
}

// Inflates into a fresh string; fails the test unless it is ok.
std::string decompress(inflater& in, std::string_view compressed, std::size_t limit = 1 << 24) {
    std::string out;
    auto status = in.inflate(compressed, out, limit);
    REQUIRE(status == inflate_status::ok);
    return out;
}

deflate_params no_context_takeover() {
    deflate_params p;
    p.server_no_context_takeover = true;
    p.client_no_context_takeover = true;
    return p;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// accept_deflate_offer (the browser's leg)

TEST_CASE("a bare permessage-deflate offer is accepted with the default parameters", "[ws]") {
    auto a = accept_deflate_offer("permessage-deflate");
    REQUIRE(a);
    CHECK(a->response == "permessage-deflate");
    CHECK_FALSE(a->params.server_no_context_takeover);
    CHECK_FALSE(a->params.client_no_context_takeover);
    CHECK(a->params.server_max_window_bits == 15);
    CHECK(a->params.client_max_window_bits == 15);
}

TEST_CASE("an offer with client_max_window_bits is accepted without naming it in the answer", "[ws]") {
    for (std::string offer : {"permessage-deflate; client_max_window_bits",
                              "permessage-deflate; client_max_window_bits=10",
                              "Permessage-Deflate;client_max_window_bits"}) {
        CAPTURE(offer);
        auto a = accept_deflate_offer(offer);
        REQUIRE(a);
        CHECK(a->response == "permessage-deflate");
        CHECK(a->params.client_max_window_bits == 15);
        CHECK(a->params.server_max_window_bits == 15);
    }
}

TEST_CASE("server_no_context_takeover and server_max_window_bits are echoed and set", "[ws]") {
    auto a = accept_deflate_offer("permessage-deflate; server_no_context_takeover; server_max_window_bits=10");
    REQUIRE(a);
    CHECK(a->response == "permessage-deflate; server_no_context_takeover; server_max_window_bits=10");
    CHECK(a->params.server_no_context_takeover);
    CHECK_FALSE(a->params.client_no_context_takeover);
    CHECK(a->params.server_max_window_bits == 10);
    CHECK(a->params.client_max_window_bits == 15);
}

TEST_CASE("client_no_context_takeover is echoed and set", "[ws]") {
    auto a = accept_deflate_offer("permessage-deflate; client_no_context_takeover");
    REQUIRE(a);
    CHECK(a->response == "permessage-deflate; client_no_context_takeover");
    CHECK(a->params.client_no_context_takeover);
    CHECK_FALSE(a->params.server_no_context_takeover);
}

TEST_CASE("a quoted window size is accepted and answered unquoted", "[ws]") {
    auto a = accept_deflate_offer(R"(permessage-deflate; server_max_window_bits="12")");
    REQUIRE(a);
    CHECK(a->params.server_max_window_bits == 12);
    CHECK(a->response == "permessage-deflate; server_max_window_bits=12");
}

TEST_CASE("an offer with an unknown parameter is skipped for the next good one", "[ws]") {
    auto a = accept_deflate_offer("permessage-deflate; foo, permessage-deflate");
    REQUIRE(a);
    CHECK(a->response == "permessage-deflate");
    CHECK(a->params.server_max_window_bits == 15);

    // The second offer's parameters are the ones taken.
    auto b = accept_deflate_offer(
        "permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=9");
    REQUIRE(b);
    CHECK(b->params.server_max_window_bits == 9);
    CHECK(b->response == "permessage-deflate; server_max_window_bits=9");
}

TEST_CASE("a permessage-deflate offer after another extension is found", "[ws]") {
    auto a = accept_deflate_offer("x-webkit-deflate-frame, permessage-deflate; client_max_window_bits");
    REQUIRE(a);
    CHECK(a->response == "permessage-deflate");
}

TEST_CASE("offers without a usable permessage-deflate are not accepted", "[ws]") {
    for (std::string offer : {"", "x-webkit-deflate-frame", "permessage-deflate; foo",
                              "permessage-deflate; server_max_window_bits=8",
                              "permessage-deflate; server_max_window_bits=16",
                              "permessage-deflate; server_max_window_bits",
                              "permessage-deflate; client_max_window_bits=7",
                              "permessage-deflate; server_no_context_takeover=1",
                              "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
                              "permessage-deflate-x"}) {
        CAPTURE(offer);
        CHECK_FALSE(accept_deflate_offer(offer));
    }
}

// ---------------------------------------------------------------------------------------
// parse_deflate_response (the backend's leg)

TEST_CASE("a plain permessage-deflate answer gives the default parameters", "[ws]") {
    deflate_params p;
    p.server_max_window_bits = 3;  // overwritten
    std::string error;
    CHECK(parse_deflate_response("permessage-deflate", p, error));
    CHECK(error.empty());
    CHECK(p.server_max_window_bits == 15);
    CHECK(p.client_max_window_bits == 15);
    CHECK_FALSE(p.server_no_context_takeover);
    CHECK_FALSE(p.client_no_context_takeover);
}

TEST_CASE("an answer's parameters are all taken", "[ws]") {
    deflate_params p;
    std::string error;
    REQUIRE(parse_deflate_response(
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
        "server_max_window_bits=11; client_max_window_bits=10",
        p, error));
    CHECK(p.server_no_context_takeover);
    CHECK(p.client_no_context_takeover);
    CHECK(p.server_max_window_bits == 11);
    CHECK(p.client_max_window_bits == 10);

    deflate_params q;
    REQUIRE(parse_deflate_response(R"(PerMessage-Deflate ; client_max_window_bits="9")", q, error));
    CHECK(q.client_max_window_bits == 9);
    CHECK_FALSE(q.server_no_context_takeover);
}

TEST_CASE("answers we did not offer or cannot honour are rejected with an error", "[ws]") {
    for (std::string answer : {"permessage-deflate; foo",
                               "permessage-deflate, permessage-deflate",
                               "permessage-deflate, x-other",
                               "x-webkit-deflate-frame",
                               "permessage-deflate; client_max_window_bits",
                               "permessage-deflate; server_max_window_bits",
                               "permessage-deflate; server_max_window_bits=8",
                               "permessage-deflate; client_max_window_bits=16",
                               "permessage-deflate; server_no_context_takeover=yes",
                               "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
                               "permessage-deflate; client_max_window_bits=10; client_max_window_bits=12"}) {
        CAPTURE(answer);
        deflate_params p;
        p.server_max_window_bits = 12;
        std::string error;
        CHECK_FALSE(parse_deflate_response(answer, p, error));
        CHECK_FALSE(error.empty());
        CHECK(p.server_max_window_bits == 12);  // untouched
    }
}

// ---------------------------------------------------------------------------------------
// deflater and inflater

TEST_CASE("deflater and inflater round-trip messages in a row with context takeover", "[ws]") {
    deflate_params p;
    deflater d(p, true);
    inflater in(p, false);
    std::vector<std::size_t> compressed_sizes;
    for (int n = 0; n < 6; ++n) {
        const auto msg = chat_message(n, 2000);
        auto c = compress(d, msg);
        CHECK(c.size() < msg.size() / 3);
        CHECK(decompress(in, c) == msg);
        compressed_sizes.push_back(c.size());
    }
    // Later messages refer back to earlier ones: smaller than the first.
    CHECK(compressed_sizes[5] < compressed_sizes[0]);
}

TEST_CASE("with context takeover the same message compresses smaller the second time", "[ws]") {
    deflate_params p;
    deflater d(p, false);
    const auto msg = chat_message(7, 3000);
    auto first = compress(d, msg);
    auto second = compress(d, msg);
    CHECK(second.size() < first.size() / 4);
    // And only an inflater that saw the first can read the second.
    inflater in(p, true);
    CHECK(decompress(in, first) == msg);
    CHECK(decompress(in, second) == msg);
    inflater fresh(p, true);
    std::string out;
    CHECK(fresh.inflate(second, out, 1 << 20) == inflate_status::corrupt);
}

TEST_CASE("with no_context_takeover every message stands alone", "[ws]") {
    const auto p = no_context_takeover();
    for (bool server_role : {true, false}) {
        CAPTURE(server_role);
        deflater d(p, server_role);
        const auto msg = chat_message(3, 3000);
        auto first = compress(d, msg);
        auto second = compress(d, msg);
        CHECK(first == second);
        inflater fresh(p, !server_role);
        CHECK(decompress(fresh, second) == msg);
    }
}

TEST_CASE("a 100 KB compressible message round-trips, with and without context takeover", "[ws]") {
    for (bool takeover : {true, false}) {
        CAPTURE(takeover);
        const auto p = takeover ? deflate_params{} : no_context_takeover();
        deflater d(p, true);
        inflater in(p, false);
        for (int n = 0; n < 3; ++n) {
            const auto msg = chat_message(n, 100 * 1024);
            auto c = compress(d, msg);
            CHECK(c.size() < msg.size() / 10);
            CHECK(decompress(in, c) == msg);
        }
        // A short one after the big ones.
        CHECK(decompress(in, compress(d, "short")) == "short");
    }
}

TEST_CASE("messages of many sizes round-trip in sequence through one stream", "[ws]") {
    // Sizes around the inflater's 4096-byte first buffer and its growth steps, compressible
    // and not, in one stream: output left inside zlib would show up in the next message.
    deflate_params p;
    deflater d(p, true);
    inflater in(p, false);
    std::vector<std::size_t> sizes = {0, 1, 2, 3, 100, 4095, 4096, 4097, 6143, 6144, 6145, 9215, 9216, 9217,
                                      13824, 20735, 20736, 65535, 65536, 70000, 200000};
    for (std::size_t n = 1; n < 20000; n += 997) sizes.push_back(n);
    unsigned seed = 1;
    for (std::size_t n : sizes) {
        for (bool random : {false, true}) {
            CAPTURE(n, random);
            const auto msg = random ? random_bytes(n, seed++) : chat_message(n, n);
            auto c = compress(d, msg);
            CHECK(decompress(in, c) == msg);
        }
    }
}

TEST_CASE("an empty message round-trips", "[ws]") {
    deflate_params p;
    deflater d(p, true);
    inflater in(p, false);
    CHECK(decompress(in, compress(d, "")).empty());
    // An empty message right after another: zlib writes nothing for it by itself.
    auto second_empty = compress(d, "");
    CHECK_FALSE(second_empty.empty());
    CHECK(decompress(in, second_empty).empty());
    CHECK(decompress(in, compress(d, "")).empty());
    CHECK(decompress(in, compress(d, "after")) == "after");
    // The RFC 7692 minimum: a single 0x00 byte is an empty message too.
    inflater other(p, false);
    CHECK(decompress(other, std::string(1, '\0')).empty());
}

TEST_CASE("the inflater reads RFC 7692's examples", "[ws]") {
    // Section 7.2.3.1: "Hello" compressed; 7.2.3.2: the same again with context takeover.
    const std::string hello1("\xf2\x48\xcd\xc9\xc9\x07\x00", 7);
    const std::string hello2("\xf2\x00\x11\x00\x00", 5);
    inflater in(deflate_params{}, true);
    CHECK(decompress(in, hello1) == "Hello");
    CHECK(decompress(in, hello2) == "Hello");
    // 7.2.3.3: a stored (uncompressed) block.
    inflater stored(deflate_params{}, true);
    CHECK(decompress(stored, std::string("\x00\x05\x00\xfa\xff" "Hello", 10)) == "Hello");
    // 7.2.3.4: a final block (BFINAL set) and a 0x00 that the receiver's 00 00 ff ff
    // completes to an empty stored block; the next message starts a new stream.
    inflater fin(deflate_params{}, true);
    const std::string hello_final("\xf3\x48\xcd\xc9\xc9\x07\x00\x00", 8);
    CHECK(decompress(fin, hello_final) == "Hello");
    CHECK(decompress(fin, hello_final) == "Hello");
    CHECK(decompress(fin, hello1) == "Hello");
    CHECK(decompress(fin, hello_final) == "Hello");
}

TEST_CASE("deflater output with small windows round-trips", "[ws]") {
    for (int bits : {9, 10, 12}) {
        CAPTURE(bits);
        deflate_params p;
        p.server_max_window_bits = bits;
        p.client_max_window_bits = bits;
        deflater d(p, true);
        deflater dc(p, false);
        inflater in(p, false);
        inflater in_server(p, true);
        for (int n = 0; n < 3; ++n) {
            const auto msg = chat_message(n, 5000);
            CHECK(decompress(in, compress(d, msg)) == msg);
            CHECK(decompress(in_server, compress(dc, msg)) == msg);
        }
    }
}

TEST_CASE("each side's deflater takes its own context rule", "[ws]") {
    // Only the client resets its context: the server's second copy refers back, the
    // client's does not.
    deflate_params p;
    p.client_no_context_takeover = true;
    const auto msg = chat_message(4, 3000);
    deflater server(p, true), client(p, false);
    auto s1 = compress(server, msg), s2 = compress(server, msg);
    auto c1 = compress(client, msg), c2 = compress(client, msg);
    CHECK(s2.size() < s1.size() / 4);
    CHECK(c1 == c2);
}

TEST_CASE("the deflater keeps to the agreed window, so a peer with a small one reads it", "[ws]") {
    // A message that repeats at a distance of 1000 bytes: a 512-byte window (9 bits) may
    // not refer back that far, so the repeats stay uncompressed.
    const std::string block = random_bytes(1000, 42);
    const std::string msg = block + block + block;
    for (bool server_role : {true, false}) {
        CAPTURE(server_role);
        deflate_params p;
        (server_role ? p.server_max_window_bits : p.client_max_window_bits) = 9;
        deflater d(p, server_role);
        auto c = compress(d, msg);
        CHECK(c.size() > 2 * block.size());
        // zlib with a 9-bit window, one output byte per call so that every reference goes
        // through its window (it rejects those beyond it), reads the message back.
        c.append("\x00\x00\xff\xff", 4);
        z_stream z{};
        REQUIRE(inflateInit2(&z, -9) == Z_OK);
        std::string out(msg.size() + 1, '\0');
        z.next_in = reinterpret_cast<Bytef*>(c.data());
        z.avail_in = static_cast<uInt>(c.size());
        z.next_out = reinterpret_cast<Bytef*>(out.data());
        int rc = Z_OK;
        while (rc == Z_OK && z.avail_in > 0 && z.total_out < out.size()) {
            z.avail_out = 1;
            rc = inflate(&z, Z_SYNC_FLUSH);
        }
        out.resize(z.total_out);
        inflateEnd(&z);
        CHECK(rc == Z_OK);
        CHECK(out == msg);
    }
    // The same message with the default window: the repeats are references.
    deflater wide(deflate_params{}, true);
    CHECK(compress(wide, msg).size() < 2 * block.size());
}

TEST_CASE("inflating garbage is corrupt", "[ws]") {
    for (std::string garbage : {std::string("\xff\xff\xff\xff", 4), std::string("\x07\x00", 2),
                                std::string("not deflate at all")}) {
        CAPTURE(garbage);
        inflater in(deflate_params{}, true);
        std::string out;
        CHECK(in.inflate(garbage, out, 1 << 20) == inflate_status::corrupt);
    }
}

TEST_CASE("inflating over the limit is too_big, at the limit is ok", "[ws]") {
    deflate_params p = no_context_takeover();
    deflater d(p, true);
    const auto msg = chat_message(1, 100 * 1024);
    const auto c = compress(d, msg);
    {
        inflater in(p, false);
        std::string out;
        CHECK(in.inflate(c, out, 50000) == inflate_status::too_big);
        CHECK(out.size() <= 50001);  // it stopped instead of inflating it all
    }
    {
        inflater in(p, false);
        std::string out;
        CHECK(in.inflate(c, out, msg.size() - 1) == inflate_status::too_big);
    }
    {
        inflater in(p, false);
        std::string out;
        CHECK(in.inflate(c, out, msg.size()) == inflate_status::ok);
        CHECK(out == msg);
    }
    {
        // A small message over a small limit.
        inflater in(p, false);
        std::string out;
        CHECK(in.inflate(compress(d, "0123456789"), out, 9) == inflate_status::too_big);
    }
}

TEST_CASE("inflate holds to the limit when the appended tail completes the message", "[ws]") {
    // A stored block that announces 10 bytes and carries 6: the receiver's 00 00 ff ff are
    // its last 4, so the last output comes from the tail.
    const std::string payload("\x00\x0a\x00\xf5\xff" "abcdef", 11);
    {
        inflater in(deflate_params{}, true);
        std::string out;
        CHECK(in.inflate(payload, out, 10) == inflate_status::ok);
        CHECK(out == std::string("abcdef\x00\x00\xff\xff", 10));
    }
    {
        inflater in(deflate_params{}, true);
        std::string out;
        CHECK(in.inflate(payload, out, 9) == inflate_status::too_big);
    }
}

TEST_CASE("inflate appends to out and the limit counts only the new bytes", "[ws]") {
    deflate_params p;
    deflater d(p, true);
    inflater in(p, false);
    std::string out = "prefix:";
    CHECK(in.inflate(compress(d, "0123456789"), out, 10) == inflate_status::ok);
    CHECK(out == "prefix:0123456789");
}

// ---------------------------------------------------------------------------------------
// the reader with permessage-deflate

namespace {

constexpr unsigned FIN = 0x80, RSV1 = 0x40;
constexpr unsigned CONT = 0x0, TEXT = 0x1, BINARY = 0x2, PING = 0x9;

// A masked frame (a browser's) built by hand; the length in 7, 7+16 or 7+64 bits.
std::string client_frame(unsigned b0, std::string_view payload) {
    static const unsigned char key[4] = {0x01, 0x23, 0x45, 0x67};
    std::string f;
    f.push_back(static_cast<char>(b0));
    const std::size_t n = payload.size();
    if (n < 126) {
        f.push_back(static_cast<char>(0x80 | n));
    } else if (n <= 0xffff) {
        f.push_back(static_cast<char>(0x80 | 126));
        f.push_back(static_cast<char>(n >> 8));
        f.push_back(static_cast<char>(n & 0xff));
    } else {
        f.push_back(static_cast<char>(0x80 | 127));
        for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>((std::uint64_t{n} >> (8 * i)) & 0xff));
    }
    f.append(reinterpret_cast<const char*>(key), 4);
    for (std::size_t i = 0; i < n; ++i)
        f.push_back(static_cast<char>(static_cast<unsigned char>(payload[i]) ^ key[i % 4]));
    return f;
}

struct got {
    event::kind what;
    std::string payload;
    bool text;
    std::uint16_t code;
};

// Every event in `wire` up to the first need_more (included).
std::vector<got> read_all(reader& r, std::string wire) {
    std::vector<got> out;
    std::size_t pos = 0;
    for (;;) {
        auto e = r.next(wire.data(), wire.size(), pos);
        out.push_back({e.what, std::string(e.payload), e.text, e.code});
        if (e.what == event::kind::need_more || out.size() > 100) return out;
    }
}

// The server side of the browser's leg: a masked reader that inflates.
reader deflating_reader(const deflate_params& p, std::size_t max = 1 << 24) {
    reader r(true, max);
    r.use_deflate(p, true);
    return r;
}

}  // namespace

TEST_CASE("a reader with deflate inflates a masked RSV1 frame to the original message", "[ws]") {
    deflate_params p;
    deflater browser(p, false);  // the client compresses with the client_* parameters
    const auto msg = chat_message(0, 1000);
    auto r = deflating_reader(p);
    auto events = read_all(r, client_frame(FIN | RSV1 | TEXT, compress(browser, msg)));
    REQUIRE(events.size() == 2);
    CHECK(events[0].what == event::kind::message);
    CHECK(events[0].text);
    CHECK(events[0].payload == msg);
}

TEST_CASE("a reader with deflate reads compressed messages in a row and plain ones between", "[ws]") {
    deflate_params p;
    deflater browser(p, false);
    std::string wire;
    std::vector<std::string> expected;
    for (int n = 0; n < 5; ++n) {
        expected.push_back(chat_message(n, 300 + 4000 * static_cast<std::size_t>(n)));
        wire += client_frame(FIN | RSV1 | (n % 2 ? BINARY : TEXT), compress(browser, expected.back()));
        expected.push_back("plain " + std::to_string(n));
        wire += client_frame(FIN | TEXT, expected.back());
    }
    auto r = deflating_reader(p);
    auto events = read_all(r, wire);
    REQUIRE(events.size() == expected.size() + 1);
    for (std::size_t i = 0; i < expected.size(); ++i) {
        CAPTURE(i);
        CHECK(events[i].what == event::kind::message);
        CHECK(events[i].payload == expected[i]);
    }
    CHECK_FALSE(events[2].text);  // the second compressed one was binary
}

TEST_CASE("a reader with deflate inflates a compressed message sent in fragments", "[ws]") {
    deflate_params p;
    deflater browser(p, false);
    const auto msg = chat_message(2, 20000);
    auto c = compress(browser, msg);
    REQUIRE(c.size() > 10);
    auto r = deflating_reader(p);
    auto events = read_all(r, client_frame(RSV1 | TEXT, c.substr(0, 5)) + client_frame(FIN | PING, "hi") +
                                  client_frame(CONT, c.substr(5, 5)) + client_frame(FIN | CONT, c.substr(10)));
    REQUIRE(events.size() == 3);
    CHECK(events[0].what == event::kind::ping);
    CHECK(events[1].what == event::kind::message);
    CHECK(events[1].payload == msg);
}

TEST_CASE("RSV1 without use_deflate is a protocol error", "[ws]") {
    deflate_params p;
    deflater browser(p, false);
    reader r(true, 1 << 24);
    auto events = read_all(r, client_frame(FIN | RSV1 | TEXT, compress(browser, "hello")));
    REQUIRE(events.size() == 2);
    CHECK(events[0].what == event::kind::error);
    CHECK(events[0].code == 1002);
}

TEST_CASE("RSV1 on a continuation or control frame is a protocol error even with deflate", "[ws]") {
    deflate_params p;
    deflater browser(p, false);
    auto c = compress(browser, "hello, hello");
    {
        auto r = deflating_reader(p);
        auto events = read_all(r, client_frame(RSV1 | TEXT, c.substr(0, 3)) +
                                      client_frame(FIN | RSV1 | CONT, c.substr(3)));
        REQUIRE(events.size() == 2);
        CHECK(events[0].what == event::kind::error);
        CHECK(events[0].code == 1002);
    }
    {
        auto r = deflating_reader(p);
        auto events = read_all(r, client_frame(FIN | RSV1 | PING, "x"));
        REQUIRE(events.size() == 2);
        CHECK(events[0].what == event::kind::error);
        CHECK(events[0].code == 1002);
    }
}

TEST_CASE("a compressed message that inflates past max_message is 1009", "[ws]") {
    deflate_params p;
    deflater browser(p, false);
    const auto msg = chat_message(0, 100 * 1024);
    auto c = compress(browser, msg);
    REQUIRE(c.size() < 10000);
    auto r = deflating_reader(p, 50000);
    auto events = read_all(r, client_frame(FIN | RSV1 | TEXT, c));
    REQUIRE(events.size() == 2);
    CHECK(events[0].what == event::kind::error);
    CHECK(events[0].code == 1009);
}

TEST_CASE("a corrupt compressed message is 1007", "[ws]") {
    auto r = deflating_reader(deflate_params{});
    auto events = read_all(r, client_frame(FIN | RSV1 | BINARY, std::string("\xff\xff\xff\xff", 4)));
    REQUIRE(events.size() == 2);
    CHECK(events[0].what == event::kind::error);
    CHECK(events[0].code == 1007);
}

TEST_CASE("a compressed text message that inflates to invalid UTF-8 is 1007", "[ws]") {
    deflate_params p;
    deflater browser(p, false);
    auto r = deflating_reader(p);
    auto events = read_all(r, client_frame(FIN | RSV1 | TEXT, compress(browser, std::string("ok\xff", 3))));
    REQUIRE(events.size() == 2);
    CHECK(events[0].what == event::kind::error);
    CHECK(events[0].code == 1007);
}
