#include "common/utf8.hpp"

#include <cstring>

// The lead byte decides how many continuation bytes follow and the range of the first one;
// the ranges of the first continuation are where overlong forms, surrogates and values past
// U+10FFFF are refused (RFC 3629 section 4); later continuations are always 80..BF.
//
//   lead      need  first continuation  why the range is narrow
//   00..7F    0     -
//   80..C1    fail                      a continuation as lead; C0, C1 are overlong
//   C2..DF    1     80..BF
//   E0        2     A0..BF              E0 80..9F is overlong
//   E1..EC    2     80..BF
//   ED        2     80..9F              ED A0..BF are surrogates D800..DFFF
//   EE..EF    2     80..BF
//   F0        3     90..BF              F0 80..8F is overlong
//   F1..F3    3     80..BF
//   F4        3     80..8F              F4 90.. is past U+10FFFF
//   F5..FF    fail                      past U+10FFFF, or never a lead

namespace wsproxy::utf8 {

bool validator::feed(std::string_view s) {
    if (failed_) return false;
    auto* p = reinterpret_cast<const unsigned char*>(s.data());
    auto* const end = p + s.size();
    while (p < end) {
        if (need_ > 0) {
            unsigned c = *p++;
            if (c < lo_ || c > hi_) {
                failed_ = true;
                return false;
            }
            lo_ = 0x80;
            hi_ = 0xbf;
            --need_;
            continue;
        }
        // Between characters: ASCII runs eight bytes at a time.
        while (end - p >= 8) {
            std::uint64_t v;
            std::memcpy(&v, p, 8);
            if (v & 0x8080808080808080ull) break;
            p += 8;
        }
        if (p == end) break;
        unsigned c = *p++;
        if (c < 0x80) continue;
        if (c >= 0xc2 && c <= 0xdf) {
            need_ = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            need_ = 2;
            if (c == 0xe0) lo_ = 0xa0;
            else if (c == 0xed) hi_ = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need_ = 3;
            if (c == 0xf0) lo_ = 0x90;
            else if (c == 0xf4) hi_ = 0x8f;
        } else {
            failed_ = true;
            return false;
        }
    }
    return true;
}

bool valid(std::string_view s) {
    validator v;
    return v.feed(s) && v.complete();
}

}  // namespace wsproxy::utf8
