// Rule 6: user messages going upstream (client frames of a user_message_types type).
//
//   client frame              | our view of chat X at that moment       | actions
//   --------------------------+-----------------------------------------+----------------------------------
//   user message for chat X   | requested or acknowledged (by anyone)   | user_message{X, registered=true}
//   user message for chat X   | none, failed (or only would_join)       | user_message{X, registered=false}
//   user message, no chat_id  | -                                       | -
//
// It runs after rule_join_inject, so in fix mode a join injected for this very frame
// counts as registered: it goes upstream first, on the same socket.
#include "rules/detail.hpp"

namespace wsproxy::rules::detail {

void rule_user_message(frame_ctx& c) {
    if (!c.from_client() || c.fi.chat_id.empty()) return;
    bool is_user = false;
    for (const auto& t : c.cfg.user_message_types) is_user = is_user || c.is_type(t);
    if (!is_user) return;
    action& a = c.out.emplace_back();
    a.what = action::kind::user_message;
    a.chat_id = c.fi.chat_id;
    a.registered = is_joined(find_chat(c.st, c.fi.chat_id));
}

}  // namespace wsproxy::rules::detail
