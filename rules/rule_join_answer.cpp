// Rule 7: the backend's answers to join_chat and leave_chat (server frames).
// An answer belongs to the oldest pending request for its chat (or, when the answer
// names no chat, to the oldest pending request of its kind): the backend answers in
// order on one socket.
//
//   server frame                    | pending request | actions                                   | next
//   --------------------------------+-----------------+-------------------------------------------+-------------------
//   chat_joined X, success true or  | any / none      | count chat_joined{true}; chat_registered  | X acknowledged,
//   absent                          |                 | {X} (once); log chat_joined {client_id,   | registered
//                                   |                 | chat_id, injected}                        |
//                                   | ours, hide on   | + hide instead of forward                 |
//   chat_joined X, success false    | any / none      | count chat_joined{false}; chat_join_failed| X failed (never
//                                   |                 | {X}; log warn chat_join_failed {chat_id,  | retried by a
//                                   |                 | error, injected}                          | frame)
//                                   | ours, hide on   | + hide instead of forward                 |
//   chat_left X, success not false  | any / none      | chat_unregistered{X} if it was registered | X not registered
//                                   | ours, hide on   | + hide instead of forward                 |
//
// "ours" = the pending request was injected by us; hiding needs hide_injected_replies
// (and fix mode: observe never injects, so it never hides).
#include "rules/detail.hpp"

namespace wsproxy::rules::detail {
namespace {

// Takes the oldest pending request of kind `join` for `x` (any chat when x is empty).
// Returns whether one was found; `x` and `taken` are filled from it.
bool take_pending(connection_state& st, bool join, std::string& x, pending_reply& taken) {
    auto& q = st.pending_replies;
    for (auto it = q.begin(); it != q.end(); ++it) {
        if (it->join != join || (!x.empty() && it->chat_id != x)) continue;
        x = it->chat_id;
        taken = std::move(*it);
        q.erase(it);
        return true;
    }
    return false;
}

// The hide carries the reason of our frame that the answer answers.
void hide_if_ours(frame_ctx& c, pending_reply& ours) {
    if (!ours.by_us || !c.cfg.hide_injected_replies || !c.fix()) return;
    c.verdict = action::kind::hide;
    c.verdict_why = ours.why;
    c.verdict_cause = std::move(ours.cause);
}

}  // namespace

void rule_join_answer(frame_ctx& c) {
    if (c.from_client()) return;
    const bool joined = c.is_type(c.cfg.chat_joined);
    if (!joined && !c.is_type(c.cfg.chat_left)) return;
    c.done = true;

    std::string x(c.fi.chat_id);
    pending_reply ours;
    take_pending(c.st, joined, x, ours);
    const bool by_us = ours.by_us;
    const bool success = c.fi.success != 0;

    if (!joined) {
        if (success && contains(c.st.registered, x)) {
            erase_value(c.st.registered, x);
            emit_chat(c.out, action::kind::chat_unregistered, x);
        }
        hide_if_ours(c, ours);
        return;
    }

    chat_entry* e = x.empty() ? nullptr : find_chat(c.st, x);
    if (success) {
        if (e) e->state = join_state::acknowledged;
        emit_count(c.out, stat::chat_joined, 0);
        if (!x.empty() && !contains(c.st.registered, x)) {
            c.st.registered.push_back(x);
            emit_chat(c.out, action::kind::chat_registered, x);
        }
        nlohmann::json fields{{"client_id", c.st.client_id}, {"chat_id", x}, {"injected", by_us}};
        if (by_us) fields["reason"] = reason_name(ours.why);
        emit_log(c.out, log_level::info, "chat_joined", std::move(fields));
    } else {
        if (e) e->state = join_state::failed;
        emit_count(c.out, stat::chat_joined, 1);
        // A REST message held for this join is released at once, not by its timeout.
        if (!x.empty()) emit_chat(c.out, action::kind::chat_join_failed, x);
        nlohmann::json fields{{"chat_id", x}, {"error", std::string(c.fi.error)}, {"injected", by_us}};
        if (by_us) fields["reason"] = reason_name(ours.why);
        emit_log(c.out, log_level::warn, "chat_join_failed", std::move(fields));
    }
    hide_if_ours(c, ours);
}

}  // namespace wsproxy::rules::detail
