// Random event sequences through one engine, checking the invariants that the proxy
// relies on after every event:
//  - on_frame yields exactly one of forward/replace/hide, after every injection;
//    the other events yield none;
//  - a join_chat we inject names a chat that this connection named itself (by a frame
//    it sent, by its upgrade URL's query or path, by a REST message of its session
//    (on_join_request) or by its session's remembered chats (rejoin)), and never one that
//    is already requested or acknowledged, and never twice for one event;
//  - on_join_request returns true exactly when joined() was true, and changes no frame;
//  - observe mode changes no traffic: no inject, replace or hide;
//  - a replace is valid JSON.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "rules/engine.hpp"

using namespace wsproxy::rules;

namespace {

// Names the broken invariant's line before aborting, so a crash reads without a debugger.
#define check(ok) check_at((ok), __LINE__)
void check_at(bool ok, int line) {
    if (ok) return;
    std::fprintf(stderr, "engine_fuzz: invariant at line %d broken\n", line);
    std::abort();
}

struct input {
    const std::uint8_t* p;
    const std::uint8_t* end;
    bool empty() const { return p == end; }
    std::uint8_t byte() { return p < end ? *p++ : 0; }
    std::string bytes(std::size_t n) {
        n = std::min<std::size_t>(n, static_cast<std::size_t>(end - p));
        std::string s(reinterpret_cast<const char*>(p), n);
        p += n;
        return s;
    }
};

// Raw JSON string bodies; the last two decode to the same id as the first ones.
const char* const chat_ids[] = {"A", "b-2", "c\\u00e9", "\\u0041", "c\xC3\xA9"};
// The same ids decoded, as a REST route or the body's session memory supplies them.
const char* const decoded_ids[] = {"A", "b-2", "c\xC3\xA9", "A", "c\xC3\xA9"};

std::string chat(input& in) { return chat_ids[in.byte() % 5]; }
std::string decoded_chat(input& in) { return decoded_ids[in.byte() % 5]; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    input in{data, data + size};
    config cfg;
    const std::uint8_t flags = in.byte();
    cfg.run_mode = flags & 1 ? mode::observe : mode::fix;
    cfg.single_chat = flags & 2;
    cfg.hide_injected_replies = flags & 4;
    cfg.repair_client_id = flags & 8;
    cfg.isolation_enforce = flags & 16;
    if (flags & 32) cfg.path_chat_pattern = "/rt/rooms/{chat_id}";
    cfg.rejoin.policy = flags & 64 ? rejoin_policy::all : rejoin_policy::most_recent;
    cfg.rejoin.enabled = !(flags & 128);
    cfg.grace_ms = in.byte();
    engine eng(std::make_shared<const config>(cfg));
    const bool observe = cfg.run_mode == mode::observe;

    std::set<std::string> named;  // chats this connection named, decoded
    actions out;
    millis now = 0;

    while (!in.empty()) {
        now += in.byte();
        const std::uint8_t op = in.byte() % 14;
        std::vector<std::pair<std::string, join_state>> before;
        for (const auto& e : eng.state().chats) before.emplace_back(e.chat_id, e.state);
        out.clear();
        bool frame = true;
        std::string payload;
        direction from = direction::client_to_server;
        switch (op) {
            case 0: {
                const std::uint8_t b = in.byte();
                std::string target = b & 2 ? "/rt/rooms/" + in.bytes(in.byte() % 8) + "?tenant_id=t"
                                           : std::string("/ws/chat?tenant_id=t");
                if (b & 1) target += "&chat_id=" + in.bytes(in.byte() % 8);
                open_info info{target, {}};
                for (int i = in.byte() % 4; i > 0; --i)
                    info.remembered_chats.push_back(b & 4 ? in.bytes(in.byte() % 4) : decoded_chat(in));
                eng.on_open(info, now, out);
                if (!eng.state().query_chat_id.empty()) named.insert(eng.state().query_chat_id);
                for (const auto& r : info.remembered_chats) named.insert(r);
                frame = false;
                break;
            }
            case 1: payload = R"({"type":"join_chat","data":{"chat_id":")" + chat(in) + R"("}})"; break;
            case 2: payload = R"({"type":"leave_chat","data":{"chat_id":")" + chat(in) + R"("}})"; break;
            case 3: payload = R"({"type":"send_message","data":{"chat_id":")" + chat(in) + R"(","content":"x"}})"; break;
            case 4: {
                from = direction::server_to_client;
                const std::uint8_t b = in.byte();
                payload = b & 1 ? R"({"type":"chat_joined","data":{"chat_id":")" + chat(in) + R"(","success":)" +
                                      (b & 2 ? "true" : "false") + "}}"
                                : R"({"type":"chat_joined","data":{"success":true}})";
                break;
            }
            case 5:
                from = direction::server_to_client;
                payload = R"({"type":"chat_left","data":{"chat_id":")" + chat(in) + R"(","success":true}})";
                break;
            case 6:
                from = direction::server_to_client;
                payload = in.byte() & 1
                              ? R"({"type":"connection_established","data":{"client_id":"k\u0031"}})"
                              : R"({"type":"connection_ready","data":{}})";
                break;
            case 7:
                from = direction::server_to_client;
                payload = R"({"type":"response_chunk","data":{"chat_id":")" + chat(in) + R"("}})";
                break;
            case 8:
                eng.on_timer(now, out);
                frame = false;
                break;
            case 9:
            case 10:
                from = op == 9 ? direction::client_to_server : direction::server_to_client;
                payload = in.bytes(in.byte());
                break;
            case 11:
            case 12: {
                // A REST message of this connection's session names the chat.
                const std::string x = op == 11 ? decoded_chat(in) : in.bytes(in.byte() % 6);
                named.insert(x);
                const bool was_joined = eng.joined(x);
                check(eng.on_join_request(x, now, out) == was_joined);
                check(!was_joined || out.empty());
                // And it is forwarded: its answer is awaited on this socket.
                eng.on_rest_message(x, now, out);
                frame = false;
                break;
            }
            default:
                eng.on_close(close_info{1000, "", "client"}, now, out);
                frame = false;
                break;
        }
        if (frame) {
            eng.on_frame(from, payload, true, now, out);
            const frame_info& fi = eng.last_frame();
            if (from == direction::client_to_server && !fi.chat_id.empty())
                named.insert(std::string(fi.chat_id));
        }

        int verdicts = 0;
        std::set<std::string> joined_now;
        for (const auto& a : out) {
            switch (a.what) {
                case action::kind::forward:
                case action::kind::replace:
                case action::kind::hide:
                    ++verdicts;
                    check(!observe || a.what == action::kind::forward);
                    if (a.what == action::kind::replace) check(nlohmann::json::accept(a.payload));
                    break;
                case action::kind::inject: {
                    check(!observe);
                    check(verdicts == 0);  // injections go before the frame
                    check(a.to == direction::client_to_server);
                    const auto j = nlohmann::json::parse(a.payload);
                    const std::string type = j.at("type").get<std::string>();
                    const std::string id = j.at("data").at("chat_id").get<std::string>();
                    if (type != cfg.join_chat) {
                        check(type == cfg.leave_chat && cfg.single_chat);
                        break;
                    }
                    check(named.count(id) == 1);
                    check(joined_now.insert(id).second);
                    for (const auto& [c, st] : before)
                        check(!(c == id && (st == join_state::requested || st == join_state::acknowledged)));
                    break;
                }
                default:
                    break;
            }
        }
        check(verdicts == (frame ? 1 : 0));
    }
    return 0;
}
