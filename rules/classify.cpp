// Frame classification: one bounded pass, no recursion, no document.
//
// The scanner is an explicit state machine (value / key / after-value / closed) over the
// bytes of the frame. It validates strict JSON (RFC 8259: literals, numbers, strings with
// every escape including \u surrogate pairs, UTF-8 inside strings) and, along the way,
// records the values found at the configured paths. Nesting is a counter plus a bit per
// level (object or array), so 100 000 nested '[' cost max_depth steps and return too_deep.
//
// Path matching follows object keys only: each open object carries a bit mask of the
// configured paths whose leading components match the keys that lead to it; an array
// clears the mask (a path never goes through an array). When a key matches the last
// component of a path, the value is recorded if it has the wanted JSON type; duplicate
// keys: the first occurrence wins. Strings without escapes are views into the payload;
// with escapes they are decoded into frame_info::scratch_, which is reserved to the
// payload's size first (a decoded string is never longer than its source, so the views
// into scratch_ stay valid while later strings are appended).
#include "rules/classify.hpp"

#include "common/text.hpp"
#include "common/utf8.hpp"
#include "rules/detail.hpp"

#include <array>
#include <bit>
#include <cstring>
#if defined(__SSE2__) && !defined(WSPROXY_RULES_NO_SIMD)
#include <emmintrin.h>
#endif

namespace wsproxy::rules {
namespace {

using detail::path_index;
enum role : std::uint8_t { r_type = path_index::r_type, r_success = path_index::r_success,
                           r_error = path_index::r_error, r_chat = path_index::r_chat,
                           r_client = path_index::r_client };
constexpr int max_tracked = path_index::max_tracked;

constexpr std::array<bool, 256> ws_table = [] {
    std::array<bool, 256> t{};
    t[' '] = t['\n'] = t['\r'] = t['\t'] = true;
    return t;
}();
inline bool is_ws(unsigned char c) { return ws_table[c]; }
inline bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

inline bool hex4(const unsigned char* p, const unsigned char* end, unsigned& out) {
    if (end - p < 4) return false;
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
        const int h = text::hex_value(static_cast<char>(p[i]));
        if (h < 0) return false;
        v = v << 4 | static_cast<unsigned>(h);
    }
    out = v;
    return true;
}

// One UTF-8 sequence starting with a byte >= 0x80 (RFC 3629, table 3-7 of Unicode):
// returns the position after it, or nullptr when it is not well-formed.
inline const unsigned char* utf8_seq(const unsigned char* p, const unsigned char* end) {
    const unsigned c = p[0];
    const auto cont = [&](int i, unsigned lo, unsigned hi) {
        return end - p > i && p[i] >= lo && p[i] <= hi;
    };
    if (c >= 0xC2 && c <= 0xDF) return cont(1, 0x80, 0xBF) ? p + 2 : nullptr;
    if (c == 0xE0) return cont(1, 0xA0, 0xBF) && cont(2, 0x80, 0xBF) ? p + 3 : nullptr;
    if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
        return cont(1, 0x80, 0xBF) && cont(2, 0x80, 0xBF) ? p + 3 : nullptr;
    if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2, 0x80, 0xBF) ? p + 3 : nullptr;
    if (c == 0xF0)
        return cont(1, 0x90, 0xBF) && cont(2, 0x80, 0xBF) && cont(3, 0x80, 0xBF) ? p + 4 : nullptr;
    if (c >= 0xF1 && c <= 0xF3)
        return cont(1, 0x80, 0xBF) && cont(2, 0x80, 0xBF) && cont(3, 0x80, 0xBF) ? p + 4 : nullptr;
    if (c == 0xF4)
        return cont(1, 0x80, 0x8F) && cont(2, 0x80, 0xBF) && cont(3, 0x80, 0xBF) ? p + 4 : nullptr;
    return nullptr;
}

// Bytes that need no attention inside a string: printable ASCII except '"' and '\\'.
constexpr std::array<bool, 256> plain_table = [] {
    std::array<bool, 256> t{};
    for (int c = 0x20; c < 0x80; ++c) t[c] = c != '"' && c != '\\';
    return t;
}();

// Skips plain bytes in blocks: the first '"', '\\', byte below 0x20 or byte at or above 0x80
// of a block is found with SSE2 (16 bytes) or SWAR (8 bytes: the lowest flagged byte is
// exact, flags above it may be false alarms from borrows). The last bytes of the payload
// go one by one.
[[gnu::always_inline]] inline const unsigned char* skip_plain(const unsigned char* p,
                                                              const unsigned char* end) {
#if defined(__SSE2__) && !defined(WSPROXY_RULES_NO_SIMD)
    const __m128i quote = _mm_set1_epi8('"'), slash = _mm_set1_epi8('\\'),
                  space = _mm_set1_epi8(0x20);
    while (end - p >= 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        // Signed compare: bytes >= 0x80 are negative, so "< 0x20" catches them too.
        const __m128i special = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, slash)),
                                             _mm_cmplt_epi8(v, space));
        const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(special));
        if (mask) return p + __builtin_ctz(mask);
        p += 16;
    }
#else
    constexpr std::uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    while (end - p >= 8) {
        std::uint64_t w;
        std::memcpy(&w, p, 8);
        const std::uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
        const std::uint64_t hit =
            (((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w) | w) & highs;
        if (hit) {
            if constexpr (std::endian::native == std::endian::little)
                return p + (__builtin_ctzll(hit) >> 3);
            break;
        }
        p += 8;
    }
#endif
    while (p < end && plain_table[*p]) ++p;
    return p;
}

const unsigned char* scan_string_slow(const unsigned char* p, const unsigned char* end,
                                      bool& escaped);

// `p` is just past the opening quote. Returns the position past the closing quote, or
// nullptr when the string is not valid. `escaped` is set when it holds a backslash.
// The common case (plain ASCII up to the quote) is inline; the rest is scan_string_slow.
[[gnu::always_inline]] inline const unsigned char* scan_string(const unsigned char* p,
                                                               const unsigned char* end,
                                                               bool& escaped) {
    p = skip_plain(p, end);
    if (p < end && *p == '"') return p + 1;
    return scan_string_slow(p, end, escaped);
}

const unsigned char* scan_string_slow(const unsigned char* p, const unsigned char* end,
                                      bool& escaped) {
    for (;;) {
        p = skip_plain(p, end);
        if (p >= end) return nullptr;
        const unsigned c = *p;
        if (c == '"') return p + 1;
        if (c == '\\') {
            escaped = true;
            if (++p >= end) return nullptr;
            switch (*p) {
                case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                    ++p;
                    break;
                case 'u': {
                    unsigned cp;
                    if (!hex4(p + 1, end, cp)) return nullptr;
                    p += 5;
                    if (cp >= 0xD800 && cp <= 0xDBFF) {
                        unsigned lo;
                        if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !hex4(p + 2, end, lo) ||
                            lo < 0xDC00 || lo > 0xDFFF)
                            return nullptr;
                        p += 6;
                    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                        return nullptr;  // a lone low surrogate
                    }
                    break;
                }
                default:
                    return nullptr;
            }
            continue;
        }
        if (c < 0x20) return nullptr;  // raw control character
        p = utf8_seq(p, end);
        if (!p) return nullptr;
    }
}

void put_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | cp >> 6));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | cp >> 12));
        out.push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | cp >> 18));
        out.push_back(static_cast<char>(0x80 | (cp >> 12 & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

// Decodes the already validated string body [p, end) (without quotes) onto `out`.
void decode_string(const unsigned char* p, const unsigned char* end, std::string& out) {
    while (p < end) {
        if (*p != '\\') {
            const unsigned char* run = p;
            while (p < end && *p != '\\') ++p;
            out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
            continue;
        }
        ++p;
        switch (*p++) {
            case 'b': out.push_back('\b'); break;
            case 'f': out.push_back('\f'); break;
            case 'n': out.push_back('\n'); break;
            case 'r': out.push_back('\r'); break;
            case 't': out.push_back('\t'); break;
            case 'u': {
                unsigned cp = 0;
                hex4(p, end, cp);
                p += 4;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    unsigned lo = 0;
                    hex4(p + 2, end, lo);
                    p += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                put_utf8(out, cp);
                break;
            }
            default: out.push_back(static_cast<char>(p[-1])); break;  // " \ /
        }
    }
}

struct scanner {
    const path_index& paths;
    std::size_t max_depth;
    std::string_view payload;
    std::string& scratch;
    std::array<std::string_view, max_tracked> value{};
    std::uint32_t seen = 0;   // paths whose key occurred (first occurrence wins)
    std::uint32_t found = 0;  // paths that hold a value of the wanted type
    int success = -1;
    bool scratch_ready = false;

    // The string body [b, e) as a view: into the payload, or decoded into scratch.
    std::string_view view_of(const unsigned char* b, const unsigned char* e, bool escaped) {
        if (!escaped)
            return {reinterpret_cast<const char*>(b), static_cast<std::size_t>(e - b)};
        if (!scratch_ready) {
            scratch.clear();
            scratch.reserve(payload.size());
            scratch_ready = true;
        }
        const std::size_t start = scratch.size();
        decode_string(b, e, scratch);
        return {scratch.data() + start, scratch.size() - start};
    }

    // Which paths in `alive` have `key` as their component at `level`.
    std::uint32_t match_key(std::uint32_t alive, std::size_t level, const unsigned char* b,
                            const unsigned char* e, bool escaped) {
        if (!alive) return 0;
        const std::size_t mark = scratch_ready ? scratch.size() : 0;
        const std::string_view key = view_of(b, e, escaped);
        std::uint32_t hit = 0;
        const auto* g = paths.groups.data() + paths.level_begin[level];
        const auto* const g_end = paths.groups.data() + paths.level_begin[level + 1];
        for (; g != g_end; ++g) {
            if ((g->mask & alive) && g->name.size() == key.size() && g->name[0] == key[0] &&
                std::memcmp(g->name.data(), key.data(), key.size()) == 0) {
                hit = g->mask & alive;
                break;  // names within a level are distinct
            }
        }
        if (escaped) scratch.resize(mark);  // keys are compared, never kept
        return hit;
    }

    frame_kind run();
};

frame_kind scanner::run() {
    const auto* p = reinterpret_cast<const unsigned char*>(payload.data());
    const auto* const end = p + payload.size();

    // Bit d of `is_object` tells whether the container at depth d+1 is an object.
    std::array<std::uint64_t, max_depth_limit / 64 + 1> is_object{};
    // Path masks of open objects at depths 1..max_path_components+1 (deeper ones match nothing).
    std::array<std::uint32_t, max_path_components + 2> masks{};
    const auto obj_at = [&](std::size_t d) { return (is_object[(d - 1) / 64] >> ((d - 1) % 64)) & 1; };

    std::size_t depth = 0;
    std::uint32_t cur = 0;               // mask of the innermost object (0 inside an array)
    std::uint32_t leaf = 0;              // paths that end at the value being parsed
    std::uint32_t inner = paths.all;     // paths that continue into the value (if an object)
    bool top_object = false;

    while (p < end && is_ws(*p)) ++p;
    if (p == end) return frame_kind::invalid;
    top_object = *p == '{';

value:
    while (p < end && is_ws(*p)) ++p;
    if (p == end) return frame_kind::invalid;
    {
        const std::uint32_t fresh = leaf & ~seen;
        seen |= leaf;
        switch (*p) {
            case '{':
            case '[': {
                const bool obj = *p == '{';
                if (++depth > max_depth) return frame_kind::too_deep;
                const std::size_t w = (depth - 1) / 64, b = (depth - 1) % 64;
                if (obj) is_object[w] |= std::uint64_t{1} << b;
                else is_object[w] &= ~(std::uint64_t{1} << b);
                cur = obj ? inner : 0;
                if (depth < masks.size()) masks[depth] = cur;
                ++p;
                while (p < end && is_ws(*p)) ++p;
                if (p == end) return frame_kind::invalid;
                if (*p == (obj ? '}' : ']')) {
                    ++p;
                    goto closed;
                }
                if (obj) goto key;
                leaf = inner = 0;
                goto value;
            }
            case '"': {
                bool escaped = false;
                const unsigned char* b = p + 1;
                p = scan_string(b, end, escaped);
                if (!p) return frame_kind::invalid;
                if (fresh) {
                    std::string_view v;
                    bool have = false;
                    for (std::uint32_t m = fresh; m; m &= m - 1) {
                        const int i = __builtin_ctz(m);
                        if (paths.role[i] == r_success) continue;
                        if (!have) v = view_of(b, p - 1, escaped), have = true;
                        value[i] = v;
                        found |= 1u << i;
                    }
                }
                goto after;
            }
            case 't':
            case 'f':
            case 'n': {
                const char* lit = *p == 't' ? "true" : *p == 'f' ? "false" : "null";
                const std::size_t n = std::strlen(lit);
                if (static_cast<std::size_t>(end - p) < n || std::memcmp(p, lit, n) != 0)
                    return frame_kind::invalid;
                if (*p != 'n') {
                    for (std::uint32_t m = fresh; m; m &= m - 1) {
                        const int i = __builtin_ctz(m);
                        if (paths.role[i] == r_success) success = *p == 't' ? 1 : 0;
                    }
                }
                p += n;
                goto after;
            }
            default: {
                if (*p == '-') ++p;
                if (p == end) return frame_kind::invalid;
                if (*p == '0') {
                    ++p;
                } else if (is_digit(*p)) {
                    while (p < end && is_digit(*p)) ++p;
                } else {
                    return frame_kind::invalid;
                }
                if (p < end && *p == '.') {
                    ++p;
                    if (p == end || !is_digit(*p)) return frame_kind::invalid;
                    while (p < end && is_digit(*p)) ++p;
                }
                if (p < end && (*p == 'e' || *p == 'E')) {
                    ++p;
                    if (p < end && (*p == '+' || *p == '-')) ++p;
                    if (p == end || !is_digit(*p)) return frame_kind::invalid;
                    while (p < end && is_digit(*p)) ++p;
                }
                goto after;
            }
        }
    }

key:
    // At a key's opening quote, inside the object at `depth` whose mask is `cur`.
    if (p == end || *p != '"') return frame_kind::invalid;
    {
        bool escaped = false;
        const unsigned char* b = p + 1;
        p = scan_string(b, end, escaped);
        if (!p) return frame_kind::invalid;
        const std::uint32_t hit =
            depth <= max_path_components ? match_key(cur, depth - 1, b, p - 1, escaped) : 0;
        leaf = hit & paths.len_eq[depth < paths.len_eq.size() ? depth : 0];
        inner = depth < paths.len_gt.size() ? hit & paths.len_gt[depth] : 0;
    }
    while (p < end && is_ws(*p)) ++p;
    if (p == end || *p != ':') return frame_kind::invalid;
    ++p;
    goto value;

after:
    while (p < end && is_ws(*p)) ++p;
    if (depth == 0) return p == end ? (top_object ? frame_kind::object : frame_kind::not_object)
                                    : frame_kind::invalid;
    if (p == end) return frame_kind::invalid;
    if (*p == ',') {
        ++p;
        while (p < end && is_ws(*p)) ++p;
        if (obj_at(depth)) goto key;
        leaf = inner = 0;
        goto value;
    }
    if (*p == (obj_at(depth) ? '}' : ']')) {
        ++p;
        goto closed;
    }
    return frame_kind::invalid;

closed:
    --depth;
    if (depth > 0) cur = obj_at(depth) && depth < masks.size() ? masks[depth] : 0;
    goto after;
}

}  // namespace

namespace detail {
bool valid_utf8(std::string_view s) { return utf8::valid(s); }
}  // namespace detail

namespace detail {

path_index::path_index(const config& cfg) {
    const auto add = [this](const json_path& p, std::uint8_t r, std::size_t idx) {
        if (n == max_tracked || p.empty() || p.size() > max_path_components) return;
        for (const auto& c : p)
            if (c.empty()) return;
        path[n] = &p;
        role[n] = r;
        index[n] = static_cast<std::uint8_t>(idx);
        const std::uint32_t bit = 1u << n;
        all |= bit;
        len_eq[p.size()] |= bit;
        for (std::size_t d = 0; d < p.size(); ++d) len_gt[d] |= bit;
        ++n;
    };
    add(cfg.type_path, r_type, 0);
    add(cfg.success_path, r_success, 0);
    add(cfg.error_path, r_error, 0);
    for (std::size_t i = 0; i < cfg.chat_id_paths.size(); ++i) add(cfg.chat_id_paths[i], r_chat, i);
    for (std::size_t i = 0; i < cfg.client_id_paths.size(); ++i)
        add(cfg.client_id_paths[i], r_client, i);

    // Per level, the distinct component names and the paths that have each.
    for (std::size_t level = 0; level < max_path_components; ++level) {
        level_begin[level] = static_cast<std::uint16_t>(groups.size());
        for (int i = 0; i < n; ++i) {
            if (path[i]->size() <= level) continue;
            const std::string& name = (*path[i])[level];
            bool merged = false;
            for (std::size_t g = level_begin[level]; g < groups.size(); ++g) {
                if (groups[g].name == name) {
                    groups[g].mask |= 1u << i;
                    merged = true;
                }
            }
            if (!merged) groups.push_back(group{name, 1u << i});
        }
    }
    level_begin[max_path_components] = static_cast<std::uint16_t>(groups.size());
}

void classify(const path_index& paths, const config& cfg, std::string_view payload, bool is_text,
              frame_info& out) {
    out.type_slot = -1;
    out.type = {};
    out.chat_id = {};
    out.client_id = {};
    out.client_id_path = -1;
    out.client_id_found = 0;
    out.success = -1;
    out.error = {};
    out.scratch_.clear();

    if (!is_text) {
        out.kind = frame_kind::binary;
        return;
    }
    if (payload.size() > cfg.max_inspect_bytes) {
        out.kind = frame_kind::too_large;
        return;
    }

    const std::size_t max_depth = cfg.max_depth < max_depth_limit ? cfg.max_depth : max_depth_limit;
    scanner s{paths, max_depth, payload, out.scratch_};
    out.kind = s.run();
    if (out.kind != frame_kind::object) {
        out.scratch_.clear();
        return;
    }
    // Paths were added in configuration order, so the first found one of a role wins.
    for (std::uint32_t m = s.found; m;) {
        const int i = 31 - __builtin_clz(m);
        m &= ~(1u << i);
        switch (paths.role[i]) {
            case r_type: out.type = s.value[i]; break;
            case r_error: out.error = s.value[i]; break;
            case r_chat: out.chat_id = s.value[i]; break;
            case r_client:
                out.client_id_found |= 1u << paths.index[i];
                out.client_id = s.value[i];
                out.client_id_path = paths.index[i];
                break;
            default: break;
        }
    }
    out.success = s.success;
    if (!out.type.empty()) {
        for (std::size_t i = 0; i < cfg.message_types.size(); ++i) {
            if (cfg.message_types[i] == out.type) {
                out.type_slot = static_cast<int>(i);
                break;
            }
        }
    }
}

}  // namespace detail

void classify(const config& cfg, std::string_view payload, bool is_text, frame_info& out) {
    const detail::path_index paths(cfg);
    detail::classify(paths, cfg, payload, is_text, out);
}

}  // namespace wsproxy::rules
