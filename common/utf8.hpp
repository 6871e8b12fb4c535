#pragma once
// UTF-8 validation (RFC 3629) in one place, for WebSocket text (RFC 6455 8.1), close
// reasons and the rules' chat ids. Incremental: a message that arrives in fragments and
// reads is checked as its bytes come, so a sequence that can never become valid is found
// in the piece that carries it, not at the end of the message.
#include <cstdint>
#include <string_view>

namespace wsproxy::utf8 {

// Checks a byte stream fed in pieces of any size. Owned by whoever feeds it; no threads.
//
// The state is what the next byte may be (the table at the top of utf8.cpp):
//   boundary    between characters: any ASCII byte, or a lead byte C2..F4
//   need N      N continuation bytes still to come, the next one within [lo, hi]
//   failed      no continuation can make the bytes valid; stays failed until reset()
class validator {
public:
    // Feeds the next bytes; false once the bytes fed so far cannot be the start of valid
    // UTF-8 (an overlong form, a surrogate, a value past U+10FFFF, a stray or missing
    // continuation byte). A sequence cut at the end of `s` is not an error yet.
    bool feed(std::string_view s);
    // True when every byte fed so far is valid and no sequence is left open: the end of a
    // text message must be here.
    bool complete() const { return need_ == 0 && !failed_; }
    bool failed() const { return failed_; }
    void reset() {
        need_ = 0;
        failed_ = false;
    }

private:
    std::uint8_t need_{0};   // continuation bytes still to come
    std::uint8_t lo_{0x80};  // the range of the next continuation byte
    std::uint8_t hi_{0xbf};
    bool failed_{false};
};

// True when `s` is whole, well-formed UTF-8.
bool valid(std::string_view s);

}  // namespace wsproxy::utf8
