// REST correlation helpers on arbitrary input: match_rest_route, match_chat_path and
// session_of never crash, and what they return is bounded: a chat id is 1..256 bytes of
// UTF-8 (it may go into a frame we send), a session at most max_session_bytes.
// Input: a selector byte, then method, target and a header value split at '\n'.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "rules/rest.hpp"

using namespace wsproxy::rules;

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

void check_chat(const std::optional<std::string>& chat) {
    if (!chat) return;
    check(!chat->empty() && chat->size() <= 256);
    // A strict dump throws on invalid UTF-8.
    try {
        (void)nlohmann::json(*chat).dump();
    } catch (const nlohmann::json::exception&) {
        check(false);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::uint8_t sel = data[0];
    std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    std::string_view parts[3];
    for (auto& p : parts) {
        const std::size_t nl = rest.find('\n');
        p = rest.substr(0, nl);
        rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    }
    config cfg;
    if (sel & 1) cfg.rest.session_header = "x-session";
    if (sel & 2) cfg.rest.route = "PUT /{chat_id}";

    check_chat(match_rest_route(cfg, parts[0], parts[1]));
    check_chat(match_chat_path("/rt/rooms/{chat_id}", parts[1]));
    // A fuzzed pattern: only a valid one may match, and its result is bounded too.
    const auto m = match_chat_path(parts[0], parts[1]);
    check(!m || parts[0].front() == '/');
    check_chat(m);
    (void)valid_rest_route(parts[0]);
    (void)valid_chat_path_pattern(parts[0]);

    const std::vector<std::pair<std::string, std::string>> headers{
        {"cookie", std::string(parts[2])},
        {sel & 4 ? "Cookie" : "x-session", std::string(parts[1])},
    };
    const std::string session = session_of(cfg, headers);
    check(session.size() <= max_session_bytes);
    check(sel & 1 || session.find(';') == std::string::npos);
    return 0;
}
