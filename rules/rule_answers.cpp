// Rule 9: answers to user messages, for the answer SLIs (wsproxy_answers_total and the
// wsproxy_answer_*_seconds histograms). It runs last in the chain, so it sees the verdict:
// a frame that does not reach the client answers nothing, and a client frame that does not
// go upstream asks nothing. Answers pair with messages per chat, oldest first: the backend
// answers one chat's messages in order on one socket.
//
//   event                                  | pending answers             | actions                                 | next
//   ---------------------------------------+-----------------------------+-----------------------------------------+----------------
//   client user_message_types frame for X, | fewer than max_pending      | arm_timer(now + timeout_ms) when none   | X waits (sent
//   relayed; on_rest_message(X)            |                             | waited before                           | now)
//                                          | max_pending (0: off)        | count answers_dropped (not when off)    | unchanged
//   server first_frame_types frame for X,  | a message for X without a   | observe answer_first_frame(now - sent)  | its first frame
//   delivered                              | first frame                 | for the oldest such                     | seen
//   server complete_type frame for X,      | a message for X             | for the oldest: observe                 | it ends
//   delivered                              |                             | answer_first_frame if none yet, observe |
//                                          |                             | answer_complete, count answers{answered}|
//   server error_types frame for X,        | a message for X             | count answers{error} for the oldest     | it ends
//   delivered                              |                             |                                         |
//   any of these three for X               | none for X                  | -                                       | unchanged
//   timer                                  | messages past sent +        | count answers{unanswered} each; then    | they end
//                                          | timeout_ms                  | arm_timer(oldest left's deadline)       |
//   close                                  | each                        | count answers{closed}                   | none
//
// A message whose answer started but did not complete within timeout_ms is unanswered: the
// user never got the whole answer. A frame naming no chat answers nothing. The timer is the
// engine's one timer (see rule_join_inject.cpp): the body keeps the earliest arm_timer, and
// every on_timer arms again for the oldest message still waiting.
#include <functional>

#include "rules/detail.hpp"

namespace wsproxy::rules::detail {
namespace {

std::uint64_t chat_key(std::string_view chat_id) {
    return std::hash<std::string_view>{}(chat_id);
}

bool listed(const std::vector<std::string>& types, std::string_view t) {
    for (const auto& name : types)
        if (name == t) return true;
    return false;
}

void arm(actions& out, millis at) {
    action& a = out.emplace_back();
    a.what = action::kind::arm_timer;
    a.at = at;
}

void observe(actions& out, latency which, millis elapsed, std::string_view chat_id) {
    action& a = out.emplace_back();
    a.what = action::kind::observe;
    a.histogram = which;
    a.elapsed = elapsed < 0 ? 0 : elapsed;
    a.chat_id = chat_id;
}

void count_result(actions& out, answer_result r) {
    emit_count(out, stat::answers, static_cast<std::uint32_t>(r));
}

void track(frame_ctx& c, std::string_view chat_id) {
    const auto& cfg = c.cfg.answers;
    if (cfg.max_pending == 0 || chat_id.empty()) return;
    auto& q = c.st.pending_answers;
    if (q.size() >= cfg.max_pending) {
        emit_count(c.out, stat::answers_dropped, 0);
        return;
    }
    // Room for all at once, so that a message never allocates: 24 bytes per entry.
    if (q.capacity() < cfg.max_pending) q.reserve(cfg.max_pending);
    if (q.empty()) arm(c.out, c.now + cfg.timeout_ms);
    q.push_back(pending_answer{chat_key(chat_id), c.now, -1});
}

}  // namespace

void rule_answers(frame_ctx& c) {
    if (c.verdict == action::kind::hide || c.fi.chat_id.empty()) return;
    const std::string_view x = c.fi.chat_id;
    if (c.from_client()) {
        if (listed(c.cfg.user_message_types, c.fi.type)) track(c, x);
        return;
    }
    auto& q = c.st.pending_answers;
    if (q.empty()) return;
    const auto& cfg = c.cfg.answers;
    const std::uint64_t key = chat_key(x);
    const bool complete = c.fi.type == cfg.complete_type;
    if (complete || listed(cfg.error_types, c.fi.type)) {
        for (auto it = q.begin(); it != q.end(); ++it) {
            if (it->chat != key) continue;
            if (complete) {
                if (it->first_at < 0) observe(c.out, latency::answer_first_frame, c.now - it->sent_at, x);
                observe(c.out, latency::answer_complete, c.now - it->sent_at, x);
                count_result(c.out, answer_result::answered);
            } else {
                count_result(c.out, answer_result::error);
            }
            q.erase(it);
            return;
        }
        return;
    }
    if (!listed(cfg.first_frame_types, c.fi.type)) return;
    for (auto& p : q) {
        if (p.chat != key || p.first_at >= 0) continue;
        p.first_at = c.now;
        observe(c.out, latency::answer_first_frame, c.now - p.sent_at, x);
        return;
    }
}

void answers_on_rest_message(frame_ctx& c, std::string_view chat_id) {
    track(c, chat_id);
}

void answers_on_timer(frame_ctx& c) {
    auto& q = c.st.pending_answers;
    const millis timeout = c.cfg.answers.timeout_ms;
    std::size_t expired = 0;
    while (expired < q.size() && q[expired].sent_at + timeout <= c.now) {
        count_result(c.out, answer_result::unanswered);
        ++expired;
    }
    q.erase(q.begin(), q.begin() + static_cast<std::ptrdiff_t>(expired));
    if (!q.empty()) arm(c.out, q.front().sent_at + timeout);
}

void answers_on_close(frame_ctx& c) {
    for (std::size_t i = 0; i < c.st.pending_answers.size(); ++i)
        count_result(c.out, answer_result::closed);
    c.st.pending_answers.clear();
}

}  // namespace wsproxy::rules::detail
