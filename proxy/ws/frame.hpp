#pragma once
// WebSocket framing (RFC 6455) without I/O: a reader that turns bytes into
// messages and control frames, and the pieces a writer needs (header, mask).
// The relay reads a socket into a buffer and hands it here; nothing in this
// file knows about sockets, so every protocol rule is tested without one.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/utf8.hpp"
#include "proxy/ws/deflate.hpp"

namespace wsproxy::ws {

enum class opcode : std::uint8_t { cont = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 };

// Close codes the proxy itself sends (RFC 6455 section 7.4.1).
namespace close_code {
constexpr std::uint16_t normal = 1000;
constexpr std::uint16_t going_away = 1001;
constexpr std::uint16_t protocol_error = 1002;
constexpr std::uint16_t no_status = 1005;  // received without a code; never sent
constexpr std::uint16_t abnormal = 1006;   // the connection dropped; never sent
constexpr std::uint16_t bad_payload = 1007;
constexpr std::uint16_t too_big = 1009;
constexpr std::uint16_t internal_error = 1011;
constexpr std::uint16_t try_again_later = 1013;
}  // namespace close_code

// One thing the reader found in the bytes.
struct event {
    enum class kind { need_more, message, ping, pong, close, error };
    kind what{kind::need_more};
    // message: the whole payload (unmasked, reassembled, inflated); ping/pong: their
    // payload; close: the reason text. Valid until the next call to the reader, and
    // pointing into the caller's buffer where the message came in one frame.
    std::string_view payload;
    bool text{false};
    // close: the peer's code (1005 when it sent none); error: the code to close it with.
    std::uint16_t code{0};
    // error: what was wrong, for the log and the close reason.
    const char* error{""};
};

// Parses frames from one peer. `masked` says what that peer must send: a browser masks
// every frame, a server none. Messages over `max_message` bytes are an error (1009);
// so is everything RFC 6455 forbids (1002) and text that is not UTF-8 (1007). Uncompressed
// text is unmasked and checked as its bytes arrive, across fragments and across reads of
// one frame: the 1007 comes with the bytes that can never become valid (fail fast, RFC 6455
// 8.1), not at the message's end.
class reader {
public:
    reader(bool masked, std::size_t max_message) : masked_(masked), max_(max_message) {}

    // Compressed messages (RSV1) are accepted once permessage-deflate is negotiated.
    void use_deflate(const deflate_params& p, bool server_role) { inflate_.emplace(p, server_role); }

    // Looks at data[pos, size) and returns the next event, advancing `pos` past the
    // bytes it used. need_more means the rest is an incomplete frame: keep data[pos, size)
    // and call again with more after it. Unmasks in place, hence the mutable buffer; an
    // incomplete text frame's bytes may already be unmasked when need_more comes back (the
    // reader remembers how many, so keep them as they are).
    event next(char* data, std::size_t size, std::size_t& pos);

    // Bytes of a message being reassembled from fragments (memory this reader holds).
    std::size_t buffered() const { return fragments_.capacity(); }

private:
    event fail(std::uint16_t code, const char* why);
    event finish_message(std::string_view payload, bool text, bool compressed);

    bool masked_;
    std::size_t max_;
    bool in_message_{false};  // a fragmented message has started
    bool message_text_{false};
    bool message_compressed_{false};
    bool failed_{false};
    std::size_t checked_{0};  // payload bytes of the incomplete frame at pos already unmasked
    utf8::validator text_;    // the uncompressed text message being read
    std::string fragments_;
    std::string inflated_;
    std::optional<inflater> inflate_;
};

// The frame header for a payload of `size` bytes, written to `out` (at most 14 bytes);
// returns its length. `mask_key` 0 means unmasked (a server's frames).
std::size_t write_header(unsigned char* out, opcode op, std::uint64_t size, bool compressed,
                         std::uint32_t mask_key);
// XORs data with the key, as both masking and unmasking do.
void apply_mask(char* data, std::size_t size, std::uint32_t key);
// A close frame's payload: the code in network order and the reason, cut to fit 125 bytes.
std::string close_payload(std::uint16_t code, std::string_view reason);
// True when `s` is well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF).
inline bool valid_utf8(std::string_view s) { return utf8::valid(s); }

}  // namespace wsproxy::ws
