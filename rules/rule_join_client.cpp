// Rule 3: the client's own join_chat (client frames of type join_chat).
//
//   our view of chat X            | client sends join_chat X       | next
//   ------------------------------+--------------------------------+---------------------------------
//   none                          | single_chat: leave the others  | requested, by_client
//   requested/acknowledged by us  | -                              | unchanged, by_client too (the
//                                 |                                | client sees its own answer)
//   requested/acknowledged by it  | -                              | unchanged
//   failed                        | single_chat: leave the others  | requested, by_client (its retry)
//
// Always: count join_chat{client}; a pending join answer {X, by client}; the frame is
// forwarded. X == the URL's chat, or any X when the URL names none (a rejoin grace): the
// grace timer is cancelled (the client joined itself); joined_any is set.
// In observe mode X leaves would_join. Without a chat_id, or beyond the bounds of
// detail.hpp (a huge id, too many chats), only the count happens.
#include "rules/detail.hpp"

namespace wsproxy::rules::detail {

void rule_join_client(frame_ctx& c) {
    if (!c.from_client() || !c.is_type(c.cfg.join_chat)) return;
    emit_count(c.out, stat::join_chat, 0);
    const std::string_view x = c.fi.chat_id;
    if (x.empty()) return;
    c.st.joined_any = true;

    chat_entry* e = find_chat(c.st, x);
    if (!e && !trackable(c.st, x)) return;
    if (!is_joined(e)) single_chat_before_join(c, x);
    e = find_chat(c.st, x);  // single_chat may have changed the list
    if (!e) {
        c.st.chats.push_back(chat_entry{std::string(x), true, false, join_state::requested});
    } else {
        e->by_client = true;
        if (e->state == join_state::failed) e->state = join_state::requested;
    }
    push_pending(c.st, x, true, false);
    erase_value(c.st.would_join, x);
    // The client joins by itself: the URL's chat, or (no URL chat) any chat ends rejoin.
    if (x == c.st.query_chat_id || c.st.query_chat_id.empty()) c.st.grace_deadline = -1;
    c.done = true;
}

}  // namespace wsproxy::rules::detail
