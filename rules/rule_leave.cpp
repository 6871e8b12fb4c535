// Rule 4: the client's own leave_chat (client frames of type leave_chat).
//
//   our view of chat X   | client sends leave_chat X | next
//   ---------------------+---------------------------+------------------------------
//   any                  | -                         | none (X leaves our view now, so a
//                        |                           | later frame for X joins it again)
//
// Always: a pending leave answer {X, by client}; the frame is forwarded; X leaves
// would_join; X == the URL's chat: the grace timer is cancelled. The backend's chat_left
// (rule_join_answer) emits chat_unregistered.
#include "rules/detail.hpp"

namespace wsproxy::rules::detail {

void rule_leave(frame_ctx& c) {
    if (!c.from_client() || !c.is_type(c.cfg.leave_chat)) return;
    const std::string_view x = c.fi.chat_id;
    c.done = true;
    if (x.empty()) return;
    remove_chat(c.st, x);
    push_pending(c.st, x, false, false);
    erase_value(c.st.would_join, x);
    if (x == c.st.query_chat_id) c.st.grace_deadline = -1;
}

}  // namespace wsproxy::rules::detail
