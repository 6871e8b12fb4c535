// The single_chat policy: a connection is in at most one chat. Called just before the
// connection joins chat B, by itself (rule_join_client) or through us (inject_join).
//
//   policy / mode       | our view                     | actions                            | next
//   --------------------+------------------------------+------------------------------------+-------------
//   single_chat off     | any                          | -                                  | unchanged
//   on, fix             | A != B requested/acknowledged| inject leave_chat A; count         | A removed;
//                       |                              | leave_injected; log leave_injected | pending leave
//                       |                              | {chat_id: A, reason:               | {A, by us}
//                       |                              | single_chat_leave, joining: B}     |
//   on, observe         | A != B requested/acknowledged| log leave_would_inject {chat_id A, | unchanged
//                       |                              | reason, joining}                   |
//
// The chat_left answer to our leave is hidden by rule_join_answer (hide_injected_replies).
// Join requests queued until connection_ready (REST, rule_join_inject) are older than this
// join, so they are dropped: joining them later would leave the newer chat again. For the
// same reason at most one request is queued (the newest) under this policy.
#include "rules/detail.hpp"

namespace wsproxy::rules::detail {

void single_chat_before_join(frame_ctx& c, std::string_view joining) {
    if (!c.cfg.single_chat) return;
    c.st.queued_joins.clear();
    c.st.queued_causes.clear();
    for (std::size_t i = 0; i < c.st.chats.size();) {
        const chat_entry& e = c.st.chats[i];
        if (e.chat_id == joining || !is_joined(&e)) {
            ++i;
            continue;
        }
        if (!c.fix()) {
            emit_log(c.out, log_level::info, "leave_would_inject",
                     {{"chat_id", e.chat_id},
                      {"reason", reason_name(inject_reason::single_chat_leave)},
                      {"joining", std::string(joining)}});
            ++i;
            continue;
        }
        std::string left = e.chat_id;
        emit_inject(c.out, direction::client_to_server, build_frame(c.cfg, c.cfg.leave_chat, left),
                    inject_reason::single_chat_leave, joining);
        emit_count(c.out, stat::leave_injected, 0);
        emit_log(c.out, log_level::info, "leave_injected",
                 {{"chat_id", left},
                  {"reason", reason_name(inject_reason::single_chat_leave)},
                  {"joining", std::string(joining)}});
        c.st.chats.erase(c.st.chats.begin() + static_cast<std::ptrdiff_t>(i));
        push_pending(c.st, left, false, true, inject_reason::single_chat_leave, joining);
    }
}

}  // namespace wsproxy::rules::detail
