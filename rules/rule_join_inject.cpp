// Rule 5: join_chat injection, for chats this connection named and did not join.
// Only two sources of a chat id exist: a client frame's chat_id, and the upgrade URL's
// ?<query_chat_key>=X. Nothing else is ever injected.
//
//   our view of chat X       | event                                  | actions                           | next
//   -------------------------+----------------------------------------+-----------------------------------+----------------
//   none, X from the URL     | server connection_ready, no timer yet  | arm_timer(now + grace_ms)         | grace pending
//   grace pending            | client join_chat/leave_chat X          | (rules 3, 4 cancel the timer)     | no timer
//   grace pending            | timer, now < deadline                  | arm_timer(deadline)               | grace pending
//   grace pending, X none    | timer, now >= deadline                 | inject_join(X, grace_expired)     | no timer
//   grace pending, X known   | timer, now >= deadline                 | -                                 | no timer
//   none                     | client frame naming X (not join/leave) | inject_join(X, frame_for_unjoined)| see below
//   requested/ack/failed     | client frame naming X                  | - (never a second join, no retry) | unchanged
//   none, beyond the bounds  | client frame naming X                  | - (see trackable() in detail.hpp) | unchanged
//
// inject_join(X): count join_missing, then
//   fix:     single_chat leaves; inject join_chat X upstream; count join_chat{injected};
//            log join_injected {chat_id, reason[, type]}      -> X requested by us, a pending
//            join answer {X, by us}. The frame itself is forwarded after the injection.
//   observe: log join_would_inject {chat_id, reason[, type]}  -> X in would_join (once per chat)
#include "rules/detail.hpp"

namespace wsproxy::rules::detail {
namespace {

bool already_named(const frame_ctx& c, std::string_view x) {
    const chat_entry* e = find_chat(c.st, x);
    return e != nullptr || contains(c.st.would_join, x);
}

}  // namespace

void inject_join(frame_ctx& c, std::string_view x, const char* reason) {
    emit_count(c.out, stat::join_missing, 0);
    nlohmann::json fields{{"chat_id", std::string(x)}, {"reason", reason}};
    if (c.fi.kind == frame_kind::object && c.from_client() && !c.fi.type.empty())
        fields["type"] = c.fi.type_slot >= 0 ? std::string(c.fi.type) : "other";
    if (!c.fix()) {
        emit_log(c.out, log_level::info, "join_would_inject", std::move(fields));
        c.st.would_join.emplace_back(x);
        return;
    }
    single_chat_before_join(c, x);
    emit_inject(c.out, direction::client_to_server, build_frame(c.cfg, c.cfg.join_chat, x));
    emit_count(c.out, stat::join_chat, 1);
    emit_log(c.out, log_level::info, "join_injected", std::move(fields));
    c.st.chats.push_back(chat_entry{std::string(x), false, true, join_state::requested});
    push_pending(c.st, x, true, true);
}

void rule_join_inject(frame_ctx& c) {
    if (c.from_client()) {
        const std::string_view x = c.fi.chat_id;
        if (x.empty() || c.is_type(c.cfg.join_chat) || c.is_type(c.cfg.leave_chat)) return;
        if (!already_named(c, x) && trackable(c.st, x)) inject_join(c, x, "frame_for_unjoined_chat");
        return;
    }
    if (c.is_type(c.cfg.connection_ready) && !c.st.query_chat_id.empty() &&
        c.st.grace_deadline < 0 && !already_named(c, c.st.query_chat_id)) {
        c.st.grace_deadline = c.now + c.cfg.grace_ms;
        action& a = c.out.emplace_back();
        a.what = action::kind::arm_timer;
        a.at = c.st.grace_deadline;
    }
}

void join_inject_on_timer(frame_ctx& c) {
    if (c.st.grace_deadline < 0) return;
    if (c.now < c.st.grace_deadline) {
        action& a = c.out.emplace_back();
        a.what = action::kind::arm_timer;
        a.at = c.st.grace_deadline;
        return;
    }
    c.st.grace_deadline = -1;
    if (!already_named(c, c.st.query_chat_id)) inject_join(c, c.st.query_chat_id, "grace_expired");
}

}  // namespace wsproxy::rules::detail
