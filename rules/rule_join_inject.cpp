// Rule 5: join_chat injection, for chats this connection (or its session) named and did
// not join. The only sources of a chat id: a client frame's chat_id; the upgrade URL's
// ?<query_chat_key>=X or path_chat_pattern ("the URL's chat"); a REST user message of the
// connection's session (on_join_request); the session's remembered chats (rejoin).
//
//   our view of chat X       | event                                  | actions                           | next
//   -------------------------+----------------------------------------+-----------------------------------+----------------
//   none, X from the URL     | server connection_ready, no timer yet  | arm_timer(now + grace_ms)         | grace pending
//   no URL chat, rejoin on,  | server connection_ready, no timer yet  | arm_timer(now + grace_ms)         | grace pending
//   remembered chats, no     |                                        |                                   |
//   join by anyone yet       |                                        |                                   |
//   grace pending            | client join_chat/leave_chat X (URL),   | (rules 3, 4 cancel the timer)     | no timer
//                            | client join_chat of anything (rejoin)  |                                   |
//   grace pending            | timer, now < deadline                  | arm_timer(deadline)               | grace pending
//   grace pending, X none    | timer, now >= deadline, URL chat X     | inject_join(X, url_grace)         | no timer
//   grace pending, X known   | timer, now >= deadline, URL chat X     | -                                 | no timer
//     ... single_chat, in another chat (any join)                     | - (the newer chat stays)          | no timer
//   grace pending, no URL    | timer, now >= deadline, nothing joined | inject_join(R, rejoin) for R =    | no timer
//   chat                     | by anyone yet                          | remembered[0] (most_recent, or    |
//                            |                                        | single_chat) or each (all)        |
//   none                     | client frame naming X (not join/leave) | inject_join(X, frame)             | see below
//   requested/ack/failed     | client frame naming X                  | - (never a second join, no retry) | unchanged
//   none, beyond the bounds  | client frame naming X                  | - (see trackable() in detail.hpp) | unchanged
//   none or failed, ready    | on_join_request(X)                     | inject_join(X, rest_session)      | requested
//   none or failed, before   | on_join_request(X)                     | - (queued)                        | queued
//   connection_ready         |                                        |                                   |
//   queued                   | server connection_ready                | inject_join(X, rest_session)      | requested
//     ... single_chat: only the newest request stays queued, and any join (client's or ours)
//         before connection_ready drops it (see rule_single_chat.cpp)
//   requested/ack, queued,   | on_join_request(X)                     | - (the body waits for the answer, | unchanged
//   would_join (observe)     |                                        | or is told true when acked)       |
//   none, beyond the bounds  | on_join_request(X)                     | log warn join_request_ignored     | unchanged
//
// The URL's chat takes precedence over rejoin: a URL that names a chat is what this socket
// says about itself, so remembered chats are not joined then. A REST join before
// connection_ready waits for it, as protocol.md lets a client join only after it. A REST
// message retries a failed join (the session asked again); a client frame never does.
//
// inject_join(X, reason, cause): count join_missing, then
//   fix:     single_chat leaves; inject join_chat X upstream (with reason and cause); count
//            join_chat{injected}; log join_injected {chat_id, reason, and what caused it: type
//            (frame), request (rest_session: "METHOD /path"), previous_conn (rejoin)}
//            -> X requested by us, a pending join answer {X, by us, reason, cause}: its answer
//            is hidden with that reason. The frame itself is forwarded after the injection.
//   observe: log join_would_inject {the same fields}     -> X in would_join (once per chat)
#include <algorithm>
#include <cstdlib>

#include "rules/detail.hpp"

namespace wsproxy::rules::detail {
namespace {

bool already_named(const frame_ctx& c, std::string_view x) {
    const chat_entry* e = find_chat(c.st, x);
    return e != nullptr || contains(c.st.would_join, x);
}

// Whether the connection is (or, in observe mode, would be) in a chat other than `x`.
bool in_other_chat(const frame_ctx& c, std::string_view x) {
    for (const auto& e : c.st.chats)
        if (e.chat_id != x && is_joined(&e)) return true;
    for (const auto& w : c.st.would_join)
        if (w != x) return true;
    return false;
}

bool url_join_pending(const frame_ctx& c) {
    return !c.st.query_chat_id.empty() && !already_named(c, c.st.query_chat_id);
}

bool rejoin_pending(const frame_ctx& c) {
    return c.st.query_chat_id.empty() && c.cfg.rejoin.enabled && !c.st.rejoin_chats.empty() &&
           !c.st.joined_any;
}

void arm(frame_ctx& c, millis at) {
    action& a = c.out.emplace_back();
    a.what = action::kind::arm_timer;
    a.at = at;
}

}  // namespace

void inject_join(frame_ctx& c, std::string_view x, inject_reason why, std::string_view cause) {
    c.st.joined_any = true;
    emit_count(c.out, stat::join_missing, 0);
    nlohmann::json fields{{"chat_id", std::string(x)}, {"reason", reason_name(why)}};
    std::string type;
    if (c.fi.kind == frame_kind::object && c.from_client() && !c.fi.type.empty()) {
        type = c.fi.type_slot >= 0 ? std::string(c.fi.type) : "other";
        fields["type"] = type;
        cause = type;
    }
    if (why == inject_reason::rest_session && !cause.empty()) fields["request"] = std::string(cause);
    if (why == inject_reason::rejoin && !cause.empty()) fields["previous_conn"] = std::strtoull(std::string(cause).c_str(), nullptr, 10);
    if (!c.fix()) {
        emit_log(c.out, log_level::info, "join_would_inject", std::move(fields));
        c.st.would_join.emplace_back(x);
        return;
    }
    single_chat_before_join(c, x);
    emit_inject(c.out, direction::client_to_server, build_frame(c.cfg, c.cfg.join_chat, x), why,
                cause);
    emit_count(c.out, stat::join_chat, 1);
    emit_log(c.out, log_level::info, "join_injected", std::move(fields));
    c.st.chats.push_back(chat_entry{std::string(x), false, true, join_state::requested});
    push_pending(c.st, x, true, true, why, cause);
}

void rule_join_inject(frame_ctx& c) {
    if (c.from_client()) {
        const std::string_view x = c.fi.chat_id;
        if (x.empty() || c.is_type(c.cfg.join_chat) || c.is_type(c.cfg.leave_chat)) return;
        if (!already_named(c, x) && trackable(c.st, x)) inject_join(c, x, inject_reason::frame);
        return;
    }
    if (!c.is_type(c.cfg.connection_ready)) return;
    std::vector<std::string> queued = std::move(c.st.queued_joins);
    std::vector<std::string> causes = std::move(c.st.queued_causes);
    c.st.queued_joins.clear();
    c.st.queued_causes.clear();
    for (std::size_t i = 0; i < queued.size(); ++i) {
        const std::string& x = queued[i];
        if (!already_named(c, x) && trackable(c.st, x))
            inject_join(c, x, inject_reason::rest_session, i < causes.size() ? causes[i] : "");
    }
    if (c.st.grace_deadline < 0 && (url_join_pending(c) || rejoin_pending(c))) {
        c.st.grace_deadline = c.now + c.cfg.grace_ms;
        arm(c, c.st.grace_deadline);
    }
}

void join_inject_on_timer(frame_ctx& c) {
    if (c.st.grace_deadline < 0) return;
    if (c.now < c.st.grace_deadline) {
        arm(c, c.st.grace_deadline);
        return;
    }
    c.st.grace_deadline = -1;
    const std::string& url = c.st.query_chat_id;
    if (!url.empty()) {
        if (!already_named(c, url) && !(c.cfg.single_chat && in_other_chat(c, url)))
            inject_join(c, url, inject_reason::url_grace);
        return;
    }
    if (!rejoin_pending(c)) return;
    const bool all = c.cfg.rejoin.policy == rejoin_policy::all && !c.cfg.single_chat;
    const std::size_t n = all ? c.st.rejoin_chats.size() : 1;
    for (std::size_t i = 0; i < n; ++i) {
        const std::string x = c.st.rejoin_chats[i];
        const std::uint64_t earlier = i < c.st.rejoin_conns.size() ? c.st.rejoin_conns[i] : 0;
        if (!already_named(c, x) && trackable(c.st, x))
            inject_join(c, x, inject_reason::rejoin, earlier ? std::to_string(earlier) : "");
    }
}

void join_on_request(frame_ctx& c, std::string_view x, std::string_view cause) {
    const chat_entry* e = find_chat(c.st, x);
    if (is_joined(e) || contains(c.st.would_join, x) || contains(c.st.queued_joins, x)) return;
    if (!e && !trackable(c.st, x)) {
        emit_log(c.out, log_level::warn, "join_request_ignored",
                 {{"chat_id", std::string(x)}, {"reason", "too_many_chats"}});
        return;
    }
    if (c.st.current != phase::ready) {
        if (c.cfg.single_chat) {  // only the newest one counts
            c.st.queued_joins.clear();
            c.st.queued_causes.clear();
        }
        c.st.queued_joins.emplace_back(x);
        c.st.queued_causes.emplace_back(cause);
        return;
    }
    if (e && c.fix()) remove_chat(c.st, x);  // failed before: the session asks again
    inject_join(c, x, inject_reason::rest_session, cause);
}

}  // namespace wsproxy::rules::detail
