#pragma once
// What the engine asks the body to count. The engine never touches a metric:
// it emits count actions with one of these ids, and metrics/ maps each id to
// its Prometheus family. The meaning of `label` is fixed per id, below.
#include <cstdint>

namespace wsproxy::rules {

enum class stat : std::uint8_t {
    // label = direction (0 client_to_server, 1 server_to_client) * (types + 3) + type slot,
    // where the type slot is the index in config::message_types, then
    // types = other, types + 1 = invalid, types + 2 = binary. See frame_label().
    frames,
    join_chat,            // label 0 = client, 1 = injected
    join_missing,         // label 0
    chat_joined,          // label 0 = success true, 1 = success false
    client_id,            // label 0 = captured, 1 = missing
    isolation_violations, // label 0
    client_id_repaired,   // label 0
    uninspected,          // label 0 = too_deep, 1 = too_large
    isolation_dropped,    // label 0: server frames dropped by isolation.enforce
    leave_injected,       // label 0: leave_chat sent by us (single_chat policy)
    answers,              // label = answer_result: how a user message's answer ended
    answers_dropped,      // label 0: user messages not tracked (answers.max_pending reached)
    count_                // number of ids; keep last
};

// The label of stat::answers.
enum class answer_result : std::uint32_t {
    answered,    // complete_type arrived for its chat
    unanswered,  // nothing complete within answers.timeout_ms
    error,       // an error_types frame for its chat
    closed,      // the connection closed first
};

// What an observe action measures (the latency histograms the body keeps).
enum class latency : std::uint8_t {
    answer_first_frame,  // user message -> first answer frame for its chat to the client
    answer_complete,     // user message -> complete_type for its chat to the client
};

inline constexpr std::uint32_t frame_label(int direction, int type_slot, int type_count) {
    return static_cast<std::uint32_t>(direction * (type_count + 3) + type_slot);
}

}  // namespace wsproxy::rules
