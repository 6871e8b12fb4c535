#pragma once
// The engine's output: an ordered list of actions that the body carries out
// in order. Owned by the caller and reused between calls: clear() keeps the
// action objects and their strings' capacity, so steady-state frames allocate
// nothing (a chat id is a 36-byte UUID, beyond std::string's inline buffer).
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "stats.hpp"

namespace wsproxy::rules {

using millis = std::int64_t;  // a monotonic clock in milliseconds, supplied by the caller

enum class direction : std::uint8_t { client_to_server = 0, server_to_client = 1 };

enum class log_level : std::uint8_t { debug, info, warn, error };

// Why the proxy injected or hid a frame: on inject and hide actions and on the log lines of
// those events. What caused it is the action's `cause`: the frame type (frame), the REST
// request's "METHOD /path" (rest_session), the earlier connection's id (rejoin), the chat
// being joined (single_chat_leave).
enum class inject_reason : std::uint8_t {
    none,               // not ours (a hide of the client's own frame never happens)
    frame,              // a client frame named a chat the connection had not joined
    url_grace,          // the upgrade URL's chat, once policy.grace_ms had passed
    rest_session,       // a REST user message of the connection's session
    rejoin,             // a chat the session's earlier connection had joined
    single_chat_leave,  // policy.single_chat: leaving a chat to join another
    isolation,          // policy.isolation_enforce dropped a broadcast for a foreign chat
};
constexpr const char* reason_name(inject_reason r) {
    switch (r) {
        case inject_reason::frame: return "frame";
        case inject_reason::url_grace: return "url_grace";
        case inject_reason::rest_session: return "rest_session";
        case inject_reason::rejoin: return "rejoin";
        case inject_reason::single_chat_leave: return "single_chat_leave";
        case inject_reason::isolation: return "isolation";
        case inject_reason::none: break;
    }
    return "";
}

struct action {
    enum class kind : std::uint8_t {
        forward,     // send the current frame on, unchanged (same buffer, no copy)
        replace,     // send `payload` instead of the current frame (text)
        hide,        // the current frame is not sent on (kept for the tap's "hidden" flag)
        inject,      // send `payload` as a new text frame towards `to`
        arm_timer,   // call on_timer() at or after `at`
        log,         // write a structured log line: `event` plus `fields`
        count,       // add 1 to `counter`/`label`
        user_message,      // a user message for `chat_id` went upstream; `registered` says
                           // whether this socket was (or is being) registered for it
        chat_registered,   // this socket is now registered for `chat_id` at the backend
        chat_unregistered, // this socket is no longer registered for `chat_id`
        chat_join_failed,  // the backend refused to register this socket for `chat_id`
        observe,           // record `elapsed` in the `histogram` latency (answer SLIs)
    };

    kind what{kind::forward};
    direction to{direction::client_to_server};  // inject: which way the frame goes
    stat counter{stat::frames};                 // count
    std::uint32_t label{0};                     // count
    bool registered{false};                     // user_message
    bool injected{false};                       // inject/log: the frame is ours
    log_level level{log_level::info};           // log
    millis at{0};                               // arm_timer
    latency histogram{latency::answer_first_frame};  // observe
    millis elapsed{0};                          // observe: milliseconds
    inject_reason why{inject_reason::none};     // inject, hide: why the proxy did it
    std::string cause;                          // inject, hide: what caused it (see inject_reason)
    std::string payload;                        // replace, inject
    std::string chat_id;                        // user_message, chat_*, observe
    std::string event;                          // log: event name
    nlohmann::json fields;                      // log: extra fields (never content or cookies)
};

class actions {
public:
    actions() = default;
    // A moved-from list is empty and usable (the pair moves its list out while running it).
    actions(actions&& o) noexcept
        : items_(std::move(o.items_)), size_(std::exchange(o.size_, 0)) {}
    actions& operator=(actions&& o) noexcept {
        items_ = std::move(o.items_);
        size_ = std::exchange(o.size_, 0);
        return *this;
    }

    // A fresh action at the end: default values, but strings that keep their capacity.
    action& emplace_back() {
        if (size_ == items_.size()) {
            items_.emplace_back();
            return items_[size_++];
        }
        action& a = items_[size_++];
        reset(a);
        return a;
    }
    void clear() { size_ = 0; }
    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    action& operator[](std::size_t i) { return items_[i]; }
    const action& operator[](std::size_t i) const { return items_[i]; }
    action& back() { return items_[size_ - 1]; }
    const action& back() const { return items_[size_ - 1]; }
    action* begin() { return items_.data(); }
    action* end() { return items_.data() + size_; }
    const action* begin() const { return items_.data(); }
    const action* end() const { return items_.data() + size_; }

private:
    // Every field back to its default (whatever fields there are), the strings' buffers kept.
    static void reset(action& a) {
        std::string payload = std::move(a.payload), chat_id = std::move(a.chat_id),
                    event = std::move(a.event);
        a = action{};
        payload.clear();
        chat_id.clear();
        event.clear();
        a.payload = std::move(payload);
        a.chat_id = std::move(chat_id);
        a.event = std::move(event);
    }

    std::vector<action> items_;  // [0, size_) are live; the rest are kept for reuse
    std::size_t size_{0};
};

}  // namespace wsproxy::rules
