#include "ids.hpp"

#include <chrono>
#include <random>

namespace chat_backend {

std::string make_uuid() {
  thread_local std::mt19937_64 engine{[] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd()};
    return std::mt19937_64{seq};
  }()};
  std::uint64_t hi = engine();
  std::uint64_t lo = engine();
  hi = (hi & ~0xF000ull) | 0x4000ull;                            // version 4
  lo = (lo & ~(0xC000ull << 48)) | (0x8000ull << 48);            // RFC 4122 variant
  static constexpr char hex[] = "0123456789abcdef";
  std::string out(36, '-');
  std::size_t pos = 0;
  auto put = [&](std::uint64_t v, int nibbles) {
    for (int i = nibbles - 1; i >= 0; --i) {
      if (pos == 8 || pos == 13 || pos == 18 || pos == 23) ++pos;
      out[pos++] = hex[(v >> (i * 4)) & 0xF];
    }
  };
  put(hi, 16);
  put(lo, 16);
  return out;
}

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace chat_backend
