// Rule 8: isolation (server frames of a broadcast_types type that name a chat).
//
//   chat X of the broadcast, for this connection              | actions
//   ----------------------------------------------------------+--------------------------------------
//   requested/acknowledged, or still registered at the        | answers_delivered = true; forward
//   backend (a leave not yet answered), or named by the       |
//   client's own frames (observe mode's would_join: the       |
//   backend's auto-registration may have joined it)           |
//   anything else                                             | count isolation_violations;
//                                                             | isolation_violated = true; log error
//                                                             | isolation_violation {chat_id, type}
//     ... and isolation_enforce in fix mode                   | + hide; count isolation_dropped
#include "rules/detail.hpp"

namespace wsproxy::rules::detail {

void rule_isolation(frame_ctx& c) {
    if (c.from_client() || c.fi.chat_id.empty()) return;
    bool is_broadcast = false;
    for (const auto& t : c.cfg.broadcast_types) is_broadcast = is_broadcast || c.is_type(t);
    if (!is_broadcast) return;

    const std::string_view x = c.fi.chat_id;
    if (is_joined(find_chat(c.st, x)) || contains(c.st.registered, x) ||
        contains(c.st.would_join, x)) {
        c.st.answers_delivered = true;
        return;
    }
    emit_count(c.out, stat::isolation_violations, 0);
    c.st.isolation_violated = true;
    emit_log(c.out, log_level::error, "isolation_violation",
             {{"chat_id", std::string(x)}, {"type", std::string(c.fi.type)}});
    if (c.cfg.isolation_enforce && c.fix()) {
        c.verdict = action::kind::hide;
        c.verdict_why = inject_reason::isolation;
        emit_count(c.out, stat::isolation_dropped, 0);
    }
}

}  // namespace wsproxy::rules::detail
