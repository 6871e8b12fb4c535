#pragma once
// Test helpers for the rules engine: run events through an engine and render the actions
// as compact strings ("inject>server {...}", "count frames c2s/send_message", "forward"),
// so that a test asserts the exact action list in one readable comparison.
#include <memory>
#include <string>
#include <vector>

#include "rules/engine.hpp"

namespace wsproxy::rules::testing {

using lines = std::vector<std::string>;

inline const char* stat_name(stat s) {
    switch (s) {
        case stat::frames: return "frames";
        case stat::join_chat: return "join_chat";
        case stat::join_missing: return "join_missing";
        case stat::chat_joined: return "chat_joined";
        case stat::client_id: return "client_id";
        case stat::isolation_violations: return "isolation_violations";
        case stat::client_id_repaired: return "client_id_repaired";
        case stat::uninspected: return "uninspected";
        case stat::isolation_dropped: return "isolation_dropped";
        case stat::leave_injected: return "leave_injected";
        case stat::answers: return "answers";
        case stat::answers_dropped: return "answers_dropped";
        case stat::count_: break;
    }
    return "?";
}

inline std::string frame_label_name(const config& cfg, std::uint32_t label) {
    const std::uint32_t n = static_cast<std::uint32_t>(cfg.message_types.size()) + 3;
    const std::string dir = label / n == 0 ? "c2s/" : "s2c/";
    const std::uint32_t slot = label % n;
    if (slot < cfg.message_types.size()) return dir + cfg.message_types[slot];
    return dir + (slot == n - 3 ? "other" : slot == n - 2 ? "invalid" : "binary");
}

inline std::string render(const config& cfg, const action& a) {
    static const char* levels[] = {"debug", "info", "warn", "error"};
    switch (a.what) {
        case action::kind::forward: return "forward";
        case action::kind::hide: return "hide";
        case action::kind::replace: return "replace " + a.payload;
        case action::kind::inject:
            return std::string(a.to == direction::client_to_server ? "inject>server " : "inject>client ") +
                   a.payload;
        case action::kind::arm_timer: return "arm_timer " + std::to_string(a.at);
        case action::kind::log:
            return std::string("log ") + levels[static_cast<int>(a.level)] + " " + a.event + " " +
                   (a.fields.is_null() ? "{}" : a.fields.dump());
        case action::kind::count:
        {
            static const char* results[] = {"answered", "unanswered", "error", "closed"};
            std::string label = a.counter == stat::frames ? frame_label_name(cfg, a.label)
                                : a.counter == stat::answers && a.label < 4 ? results[a.label]
                                                                            : std::to_string(a.label);
            return std::string("count ") + stat_name(a.counter) + " " + label;
        }
        case action::kind::user_message:
            return "user_message " + a.chat_id + (a.registered ? " registered" : " unregistered");
        case action::kind::chat_registered: return "chat_registered " + a.chat_id;
        case action::kind::chat_unregistered: return "chat_unregistered " + a.chat_id;
        case action::kind::chat_join_failed: return "chat_join_failed " + a.chat_id;
        case action::kind::observe:
            return std::string("observe ") +
                   (a.histogram == latency::answer_first_frame ? "first_frame " : "complete ") +
                   a.chat_id + " " + std::to_string(a.elapsed);
    }
    return "?";
}

// One engine plus a reused actions vector, as the proxy body holds them.
struct script {
    std::shared_ptr<const config> cfg;
    engine eng;
    actions out;

    explicit script(config c = {}) : cfg(std::make_shared<const config>(std::move(c))), eng(cfg) {}

    lines rendered() const {
        lines l;
        for (const auto& a : out) l.push_back(render(*cfg, a));
        return l;
    }
    lines open(const std::string& target, millis now = 0) {
        out.clear();
        eng.on_open(open_info{target, {{"cookie", "mip_session=secret"}}}, now, out);
        return rendered();
    }
    // on_open with the session's remembered chats (rejoin), most recent first.
    lines open_remembering(const std::string& target, std::vector<std::string> chats, millis now = 0) {
        out.clear();
        open_info info{target, {{"cookie", "mip_session=secret"}}, std::move(chats)};
        eng.on_open(info, now, out);
        return rendered();
    }
    // on_join_request (a REST message of this connection's session); its result in `acked`.
    bool acked{false};
    lines join_request(const std::string& chat, millis now = 0) {
        out.clear();
        acked = eng.on_join_request(chat, now, out);
        return rendered();
    }
    // on_rest_message (a REST user message of this connection's session being forwarded).
    lines rest_message(const std::string& chat, millis now = 0) {
        out.clear();
        eng.on_rest_message(chat, now, out);
        return rendered();
    }
    lines client(const std::string& payload, millis now = 0, bool text = true) {
        out.clear();
        eng.on_frame(direction::client_to_server, payload, text, now, out);
        return rendered();
    }
    lines server(const std::string& payload, millis now = 0, bool text = true) {
        out.clear();
        eng.on_frame(direction::server_to_client, payload, text, now, out);
        return rendered();
    }
    lines timer(millis now) {
        out.clear();
        eng.on_timer(now, out);
        return rendered();
    }
    lines close(int code, const std::string& reason, const std::string& by, millis now) {
        out.clear();
        eng.on_close(close_info{code, reason, by}, now, out);
        return rendered();
    }
};

// Frames of shared/protocol.md.
// Two valid chat ids that the engine tests share.
inline const std::string X = "8d1d5bfc-8b1c-4e0a-9d3e-2f9a6c1e7b01";
inline const std::string Y = "2c2bde20-1f4e-4b7a-8c55-0d6e3a9b4c12";

// The expected actions `before`, then the frame's own forward.
inline lines fwd(std::initializer_list<std::string> before) {
    lines l(before);
    l.push_back("forward");
    return l;
}

namespace frames {
inline std::string established(const std::string& data_id, const std::string& top_id = "") {
    std::string s = R"({"type":"connection_established","data":{)";
    if (!data_id.empty()) s += R"("client_id":")" + data_id + R"(",)";
    s += R"("tenant_id":"miptech-company"},"message_id":"m-1",)";
    if (!top_id.empty()) s += R"("client_id":")" + top_id + R"(",)";
    return s + R"("chat_id":null,"tenant_id":"miptech-company","event_ts":1754045352545})";
}
inline std::string progress(const std::string& phase, int pct) {
    return R"({"type":"initialization_progress","data":{"phase":")" + phase + R"(","progress":)" +
           std::to_string(pct) + R"(},"message_id":"m-2","chat_id":null,"tenant_id":"miptech-company","event_ts":1754045352546})";
}
inline std::string ready(const std::string& id = "c-1") {
    std::string data = id.empty() ? "{}" : R"({"client_id":")" + id + R"("})";
    return R"({"type":"connection_ready","data":)" + data +
           R"(,"message_id":"m-3","chat_id":null,"tenant_id":"miptech-company","event_ts":1754045352547})";
}
inline std::string join(const std::string& chat) {
    return R"({"type":"join_chat","data":{"chat_id":")" + chat + R"("}})";
}
inline std::string leave(const std::string& chat) {
    return R"({"type":"leave_chat","data":{"chat_id":")" + chat + R"("}})";
}
inline std::string send(const std::string& chat, const std::string& content = "Hi") {
    return R"({"type":"send_message","data":{"chat_id":")" + chat + R"(","content":")" + content +
           R"("}})";
}
inline std::string joined(const std::string& chat, bool ok = true, const std::string& error = "") {
    std::string data = R"({"chat_id":")" + chat + R"(","success":)" + (ok ? "true" : "false");
    if (!error.empty()) data += R"(,"error":")" + error + R"(")";
    return R"({"type":"chat_joined","data":)" + data + R"(},"message_id":"m-4","chat_id":")" + chat +
           R"(","tenant_id":"miptech-company","event_ts":1754045352548})";
}
inline std::string left(const std::string& chat) {
    return R"({"type":"chat_left","data":{"chat_id":")" + chat +
           R"(","success":true},"message_id":"m-5","chat_id":")" + chat +
           R"(","tenant_id":"miptech-company","event_ts":1754045352549})";
}
inline std::string broadcast(const std::string& type, const std::string& chat) {
    return R"({"type":")" + type + R"(","data":{"chat_id":")" + chat +
           R"(","response_id":"r-1","content":"Hello"},"message_id":"m-6","chat_id":")" + chat +
           R"(","tenant_id":"miptech-company","event_ts":1754045352550})";
}
inline std::string join_frame(const std::string& chat) {
    return R"({"type":"join_chat","data":{"chat_id":")" + chat + R"("}})";
}
}  // namespace frames

}  // namespace wsproxy::rules::testing
