#pragma once
// REST correlation helpers: pure functions over a request's method, target and headers,
// so the body can tell which chat a REST user message is for and which browser session
// sent it (config::rest). No I/O and no state: callable from any thread.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config.hpp"

namespace wsproxy::rules {

// Bounds: longer inputs are not looked at (the answer is "no match" / "no session").
inline constexpr std::size_t max_target_bytes = 8192;         // a request target
inline constexpr std::size_t max_cookie_header_bytes = 65536;  // one Cookie header
inline constexpr std::size_t max_headers_scanned = 256;        // headers looked at
inline constexpr std::size_t max_session_bytes = 4096;         // a session id

// The chat id when `method` and `target` match config::rest.route ("POST
// /api/v1/chats/{chat_id}/messages"): the method exactly, the path segment by segment
// (percent-decoded), trailing slashes tolerated, the query and fragment ignored; an
// absolute-form target ("http://host/path") is matched by its path. The chat id is
// percent-decoded and must be 1..256 bytes of UTF-8, or there is no match.
std::optional<std::string> match_rest_route(const config& cfg, std::string_view method,
                                            std::string_view target);

// The chat id in `target`'s path when it matches `pattern` (a path with one {chat_id}
// segment, such as config::path_chat_pattern), under the same rules as match_rest_route.
std::optional<std::string> match_chat_path(std::string_view pattern, std::string_view target);

// The browser session of a request: the value of config::rest.session_header when that is
// set (first such header, surrounding blanks trimmed), else of the cookie
// config::rest.session_cookie in the Cookie header(s) ("a=1; mip_session=xyz; b=2",
// quotes around a value removed, first non-empty one wins). Header names are compared
// without regard to case. Empty when there is none, or when it is longer than
// max_session_bytes.
std::string session_of(const config& cfg,
                       const std::vector<std::pair<std::string, std::string>>& headers);

// Whether `pattern` is a usable path pattern: starts with '/', non-empty segments, exactly
// one segment "{chat_id}", no other braces, no '?', '#' or blanks, at most 1024 bytes.
bool valid_chat_path_pattern(std::string_view pattern);
// Whether `route` is "<METHOD> <path pattern>" (a token, one space, a valid pattern).
bool valid_rest_route(std::string_view route);

}  // namespace wsproxy::rules
