// REST correlation helpers (rest.hpp): route and path matching, the session of a request.
// Every loop is bounded by the size limits in rest.hpp.
#include "rules/rest.hpp"

#include "common/text.hpp"
#include "rules/detail.hpp"

namespace wsproxy::rules {
namespace {

constexpr std::string_view placeholder = "{chat_id}";
constexpr std::size_t max_pattern_bytes = 1024;

bool is_blank(char c) { return c == ' ' || c == '\t'; }

using text::iequals;
using text::trim;

// RFC 9110 tchar.
bool is_tchar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Cuts the next '/'-separated segment off the front of `rest` (which starts after a '/').
// After the last segment `rest` is a default (null) view: "a/" yields "a", then "".
std::string_view next_segment(std::string_view& rest) {
    const std::size_t slash = rest.find('/');
    const std::string_view seg = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    return seg;
}

// The path of a request target: origin-form as is, absolute-form without scheme and
// authority; query and fragment cut; trailing slashes dropped (the backend ignores them).
std::string_view target_path(std::string_view target) {
    for (std::string_view scheme : {"http://", "https://", "ws://", "wss://"}) {
        if (target.size() >= scheme.size() && iequals(target.substr(0, scheme.size()), scheme)) {
            const std::size_t slash = target.find_first_of("/?#", scheme.size());
            target = slash == std::string_view::npos || target[slash] != '/'
                         ? std::string_view("/")
                         : target.substr(slash);
            break;
        }
    }
    target = target.substr(0, target.find_first_of("?#"));
    while (target.size() > 1 && target.back() == '/') target.remove_suffix(1);
    return target;
}

}  // namespace

bool valid_chat_path_pattern(std::string_view pattern) {
    if (pattern.empty() || pattern.size() > max_pattern_bytes || pattern.front() != '/')
        return false;
    std::string_view rest = pattern.substr(1);
    int placeholders = 0;
    while (rest.data() != nullptr) {  // next_segment() leaves a null view after the last one
        const std::string_view seg = next_segment(rest);
        if (seg.empty()) return false;
        if (seg == placeholder) {
            ++placeholders;
            continue;
        }
        for (char c : seg)
            if (c == '{' || c == '}' || c == '?' || c == '#' || is_blank(c) ||
                static_cast<unsigned char>(c) < 0x20)
                return false;
    }
    return placeholders == 1;
}

bool valid_rest_route(std::string_view route) {
    const std::size_t sp = route.find(' ');
    if (sp == 0 || sp == std::string_view::npos || sp > 32) return false;
    for (char c : route.substr(0, sp))
        if (!is_tchar(c)) return false;
    return valid_chat_path_pattern(route.substr(sp + 1));
}

std::optional<std::string> match_chat_path(std::string_view pattern, std::string_view target) {
    if (pattern.empty() || target.size() > max_target_bytes || pattern.front() != '/')
        return std::nullopt;
    const std::string_view path = target_path(target);
    if (path.empty() || path.front() != '/') return std::nullopt;
    std::string_view p = pattern.substr(1), t = path.substr(1);
    std::optional<std::string> chat;
    bool more = true;
    while (more) {
        const std::string_view ps = next_segment(p);
        // Both run out together only when the pattern's last segment meets the target's.
        const bool p_last = p.data() == nullptr;
        if (t.data() == nullptr) return std::nullopt;  // the target has fewer segments
        const std::string_view ts = next_segment(t);
        const bool t_last = t.data() == nullptr;
        if (p_last != t_last) return std::nullopt;
        more = !p_last;
        if (ps == placeholder) {
            std::string id = text::percent_decode(ts, false);
            if (id.empty() || id.size() > detail::max_chat_id_bytes || !detail::valid_utf8(id))
                return std::nullopt;
            chat = std::move(id);
        } else if (ts != ps && text::percent_decode(ts, false) != ps) {
            return std::nullopt;
        }
    }
    return chat;
}

std::optional<std::string> match_rest_route(const config& cfg, std::string_view method,
                                            std::string_view target) {
    const std::string_view route = cfg.rest.route;
    const std::size_t sp = route.find(' ');
    if (sp == std::string_view::npos || route.substr(0, sp) != method) return std::nullopt;
    return match_chat_path(route.substr(sp + 1), target);
}

std::string session_of(const config& cfg,
                       const std::vector<std::pair<std::string, std::string>>& headers) {
    const std::size_t n = std::min(headers.size(), max_headers_scanned);
    const std::string& header = cfg.rest.session_header;
    if (!header.empty()) {
        for (std::size_t i = 0; i < n; ++i) {
            if (!iequals(headers[i].first, header)) continue;
            const std::string_view v = trim(headers[i].second);
            return v.size() <= max_session_bytes ? std::string(v) : std::string();
        }
        return {};
    }
    const std::string_view name = cfg.rest.session_cookie;
    if (name.empty()) return {};
    for (std::size_t i = 0; i < n; ++i) {
        if (!iequals(headers[i].first, "cookie") ||
            headers[i].second.size() > max_cookie_header_bytes)
            continue;
        // RFC 6265 5.4: cookie-pair *( ";" SP cookie-pair ); be lenient about blanks.
        std::string_view rest = headers[i].second;
        while (!rest.empty()) {
            const std::size_t semi = rest.find(';');
            const std::string_view pair = rest.substr(0, semi);
            rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
            const std::size_t eq = pair.find('=');
            if (eq == std::string_view::npos || trim(pair.substr(0, eq)) != name) continue;
            std::string_view v = trim(pair.substr(eq + 1));
            if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
            if (!v.empty() && v.size() <= max_session_bytes) return std::string(v);
        }
    }
    return {};
}

}  // namespace wsproxy::rules
