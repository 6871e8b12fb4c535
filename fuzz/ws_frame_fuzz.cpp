// The WebSocket frame reader on hostile bytes: never crashes, never reads out of
// bounds, delivers only what RFC 6455 allows (text is UTF-8, nothing over the limit,
// nothing after a close or an error) whatever way the bytes are split across reads,
// and every message it delivers survives a write_header + mask + read round trip.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "proxy/ws/frame.hpp"

using namespace wsproxy::ws;

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

// The message again, framed as a client would (masked), through a fresh reader.
void round_trip(std::string_view payload, bool text) {
    std::string wire(14, '\0');
    auto n = write_header(reinterpret_cast<unsigned char*>(wire.data()),
                          text ? opcode::text : opcode::binary, payload.size(), false, 0x5a17c3e1);
    wire.resize(n);
    std::string body(payload);
    apply_mask(body.data(), body.size(), 0x5a17c3e1);
    wire += body;
    reader r(true, payload.size());
    std::size_t pos = 0;
    event e = r.next(wire.data(), wire.size(), pos);
    check(e.what == event::kind::message && e.payload == payload && e.text == text &&
          pos == wire.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    bool masked = data[0] & 1;
    bool deflate = data[0] & 2;
    std::size_t limit = 16u << (data[0] >> 4);  // 16 B .. 512 KiB
    std::size_t chunk = 1 + data[1];             // how the bytes arrive: 1..256 per read
    data += 2;
    size -= 2;

    reader r(masked, limit);
    if (deflate) r.use_deflate(deflate_params{}, masked);
    std::string buf;
    bool ended = false;
    for (std::size_t off = 0; off < size; off += chunk) {
        buf.append(reinterpret_cast<const char*>(data) + off, std::min(chunk, size - off));
        std::size_t pos = 0;
        for (;;) {
            std::size_t before = pos;
            event e = r.next(buf.data(), buf.size(), pos);
            check(pos >= before && pos <= buf.size());
            if (e.what == event::kind::need_more) break;
            check(!ended);  // nothing after a close or an error
            switch (e.what) {
                case event::kind::message:
                    check(e.payload.size() <= limit);
                    if (e.text) check(valid_utf8(e.payload));
                    round_trip(e.payload, e.text);
                    break;
                case event::kind::ping:
                case event::kind::pong:
                    check(e.payload.size() <= 125);
                    break;
                case event::kind::close:
                    check(e.payload.size() <= 123 && valid_utf8(e.payload));
                    ended = true;
                    break;
                case event::kind::error:
                    check(e.code == close_code::protocol_error || e.code == close_code::bad_payload ||
                          e.code == close_code::too_big);
                    ended = true;
                    break;
                case event::kind::need_more:
                    break;
            }
        }
        buf.erase(0, pos);
    }
    return 0;
}
