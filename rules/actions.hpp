#pragma once
// The engine's output: an ordered list of actions that the body carries out
// in order. Owned by the caller and reused between calls (clear() keeps the
// capacity), so steady-state frames allocate nothing.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "stats.hpp"

namespace wsproxy::rules {

using millis = std::int64_t;  // a monotonic clock in milliseconds, supplied by the caller

enum class direction : std::uint8_t { client_to_server = 0, server_to_client = 1 };

enum class log_level : std::uint8_t { debug, info, warn, error };

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
    };

    kind what{kind::forward};
    direction to{direction::client_to_server};  // inject: which way the frame goes
    stat counter{stat::frames};                 // count
    std::uint32_t label{0};                     // count
    bool registered{false};                     // user_message
    bool injected{false};                       // inject/log: the frame is ours
    log_level level{log_level::info};           // log
    millis at{0};                               // arm_timer
    std::string payload;                        // replace, inject
    std::string chat_id;                        // user_message, chat_(un)registered
    std::string event;                          // log: event name
    nlohmann::json fields;                      // log: extra fields (never content or cookies)
};

using actions = std::vector<action>;

}  // namespace wsproxy::rules
