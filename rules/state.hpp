#pragma once
// What the engine knows about one connection. Plain data, owned by the engine.
#include <cstdint>
#include <string>
#include <vector>

#include "actions.hpp"

namespace wsproxy::rules {

enum class phase : std::uint8_t { upgraded, established, ready, closed };

enum class join_state : std::uint8_t { requested, acknowledged, failed };

struct chat_entry {
    std::string chat_id;
    bool by_client{false};  // the client sent join_chat itself
    bool by_us{false};      // we injected join_chat
    join_state state{join_state::requested};
};

// A join_chat or leave_chat that went upstream and whose answer has not come back yet.
// The backend answers in order on one socket, so the oldest entry for a chat is the one
// an answer belongs to.
struct pending_reply {
    std::string chat_id;
    bool join{true};    // join_chat (true) or leave_chat (false)
    bool by_us{false};  // we sent it: its answer may be hidden from the client
    inject_reason why{inject_reason::none};  // by us: why we sent it (and so hide the answer)
    std::string cause{};
};

// A user message this connection relayed whose answer has not ended yet (rule_answers.cpp).
// The chat is kept as a hash: no allocation per message, and a collision between two chats
// of one connection would only pair an answer with the other chat's message.
struct pending_answer {
    std::uint64_t chat{0};  // std::hash of the chat id
    millis sent_at{0};
    millis first_at{-1};  // -1: no answer frame for it reached the client yet
};

struct connection_state {
    phase current{phase::upgraded};
    std::string client_id;          // empty until captured
    std::string client_id_source;   // "data.client_id" or "client_id"
    std::string query_chat_id;      // the URL's chat: ?<query_chat_key>= or path_chat_pattern
    std::vector<chat_entry> chats;  // a handful per connection: a vector beats a map
    millis ready_at{-1};
    millis grace_deadline{-1};      // -1: no pending grace timer
    std::uint64_t frames_in[2]{0, 0};  // by direction
    std::uint64_t bytes_in[2]{0, 0};
    millis opened_at{0};
    millis last_frame_at{0};
    bool answers_delivered{false};  // a broadcast for a joined chat reached the client
    bool isolation_violated{false};
    std::vector<pending_reply> pending_replies;  // oldest first, bounded
    std::vector<std::string> registered;    // chats the backend confirmed (chat_joined success)
                                            // and has not confirmed left: chat_(un)registered
    std::vector<std::string> would_join;    // observe mode: chats we would have joined
    std::vector<std::string> queued_joins;  // join requests (REST) waiting for connection_ready
    std::vector<std::string> queued_causes; // ... and the request of each ("METHOD /path")
    std::vector<std::string> rejoin_chats;  // the session's remembered chats, most recent first
    std::vector<std::uint64_t> rejoin_conns;  // ... and the connection that joined each (0: unknown)
    bool joined_any{false};  // a join went upstream (or would have) for some chat, by anyone
    std::vector<pending_answer> pending_answers;  // oldest first, at most answers.max_pending
};

}  // namespace wsproxy::rules
