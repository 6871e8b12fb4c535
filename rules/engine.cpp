// The engine: runs the chain of rules for each event. The rules live one per file
// (rule_*.cpp), each with its state table at the top; this file only wires them.
//
//   event     | phase closed | otherwise
//   ----------+--------------+-------------------------------------------------------------
//   on_open   | -            | opened_at = now; the URL's chat from ?<query_chat_key>=, else
//             |              | from path_chat_pattern; rejoin_chats from remembered_chats
//   on_frame  | forward only | the chain below, then the verdict (forward/replace/hide)
//   on_timer  | -            | rule_join_inject's grace timer (URL chat, rejoin); rule_answers'
//             |              | timeout (unanswered messages)
//   on_join_  | -, false     | rule_join_inject's join_on_request (REST correlation)
//   request   |              |
//   on_rest_  | -            | rule_answers: the message waits for its answer on this socket
//   message   |              |
//   on_close  | -            | chat_unregistered per registered chat; count answers{closed}
//             |              | per message still waiting; log connection_closed;
//             |              | phase = closed (later events are ignored)
//
// The verdict comes last: every injection of a frame's chain (join_chat, single_chat's
// leave_chat) must reach the backend before the frame that caused it.
#include "rules/engine.hpp"

#include <algorithm>
#include <string_view>

#include "common/text.hpp"
#include "rules/detail.hpp"
#include "rules/rest.hpp"

namespace wsproxy::rules {
namespace {

using namespace detail;

constexpr rule_fn chain[] = {
    rule_classify_count,  // every frame: classify, count; non-objects stop here
    rule_client_id,       // server: connection_established / connection_ready
    rule_join_client,     // client: join_chat
    rule_leave,           // client: leave_chat
    rule_join_inject,     // client: frames naming an unjoined chat; server: ready -> timer
    rule_user_message,    // client: user messages going upstream
    rule_join_answer,     // server: chat_joined / chat_left
    rule_isolation,       // server: broadcasts for chats never joined
    rule_answers,         // both: user messages and their answers (sees the verdict)
};

// The first value of `key` in the target's query string, decoded; empty when absent.
std::string query_value(std::string_view target, const std::string& key) {
    const std::size_t q = target.find('?');
    if (q == std::string_view::npos || key.empty()) return {};
    std::string_view rest = target.substr(q + 1);
    rest = rest.substr(0, rest.find('#'));
    while (!rest.empty()) {
        const std::size_t amp = rest.find('&');
        const std::string_view pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        const std::size_t eq = pair.find('=');
        if (eq == std::string_view::npos) continue;
        if (text::percent_decode(pair.substr(0, eq), true) == key)
            return text::percent_decode(pair.substr(eq + 1), true);
    }
    return {};
}

// Compiling the paths costs about a microsecond and 750 bytes. A thread's connections
// almost always share one config (it changes only on reload), so the last index
// compiled on this thread is reused: no lock, and the result is the same as compiling.
std::shared_ptr<const path_index> compiled_paths(const std::shared_ptr<const config>& cfg) {
    thread_local std::shared_ptr<const config> last_cfg;
    thread_local std::shared_ptr<const path_index> last_paths;
    if (last_cfg != cfg) {
        last_paths = std::make_shared<const path_index>(*cfg);
        last_cfg = cfg;
    }
    return last_paths;
}

}  // namespace

engine::engine(std::shared_ptr<const config> cfg)
    : cfg_(std::move(cfg)), paths_(compiled_paths(cfg_)) {}

void engine::on_open(const open_info& info, millis now, actions& out) {
    if (state_.current == phase::closed) return;
    state_.opened_at = now;
    state_.last_frame_at = now;
    state_.query_chat_id.clear();
    state_.rejoin_chats.clear();
    state_.rejoin_conns.clear();
    // Only a usable chat id is kept: it may end up in a frame we send.
    std::string chat = query_value(info.target, cfg_->query_chat_key);
    if (chat.empty() && !cfg_->path_chat_pattern.empty())
        chat = match_chat_path(cfg_->path_chat_pattern, info.target).value_or("");
    if (usable_chat_id(chat)) state_.query_chat_id = std::move(chat);
    if (cfg_->rejoin.enabled) {
        // The body's list is bounded already; this bounds what we keep whatever it sends.
        const std::size_t scan = std::min<std::size_t>(info.remembered_chats.size(), 4 * max_rejoin_chats);
        for (std::size_t i = 0; i < scan && state_.rejoin_chats.size() < cfg_->rejoin.max_chats; ++i) {
            const std::string& x = info.remembered_chats[i];
            if (usable_chat_id(x) && !contains(state_.rejoin_chats, x)) {
                state_.rejoin_chats.push_back(x);
                state_.rejoin_conns.push_back(i < info.remembered_conns.size() ? info.remembered_conns[i] : 0);
            }
        }
    }
}

void engine::on_frame(direction from, std::string_view payload, bool is_text, millis now,
                      actions& out) {
    if (state_.current == phase::closed) {
        frame_ = frame_info{};  // last_frame() must not keep views of an earlier payload
        out.emplace_back().what = action::kind::forward;
        return;
    }
    detail::classify(*paths_, *cfg_, payload, is_text, frame_);
    frame_ctx c{*cfg_, state_, frame_, from, now, out, payload};
    for (rule_fn rule : chain) {
        rule(c);
        if (c.done) break;
    }
    action& v = out.emplace_back();
    v.what = c.verdict;
    if (c.verdict == action::kind::replace) v.payload = std::move(c.replacement);
    if (c.verdict == action::kind::hide) {
        v.why = c.verdict_why;
        v.cause = std::move(c.verdict_cause);
    }
}

void engine::on_timer(millis now, actions& out) {
    if (state_.current == phase::closed) return;
    frame_info none;
    frame_ctx c{*cfg_, state_, none, direction::server_to_client, now, out, {}};
    join_inject_on_timer(c);
    answers_on_timer(c);
}

bool engine::on_join_request(std::string_view chat_id, millis now, actions& out,
                             std::string_view cause) {
    if (state_.current == phase::closed) return false;
    if (joined(chat_id)) return true;
    if (!usable_chat_id(chat_id)) {
        emit_log(out, log_level::warn, "join_request_ignored", {{"reason", "invalid_chat_id"}});
        return false;
    }
    frame_info none;
    frame_ctx c{*cfg_, state_, none, direction::client_to_server, now, out, {}};
    join_on_request(c, chat_id, cause);
    return false;
}

void engine::on_rest_message(std::string_view chat_id, millis now, actions& out) {
    if (state_.current == phase::closed || !usable_chat_id(chat_id)) return;
    frame_info none;
    frame_ctx c{*cfg_, state_, none, direction::client_to_server, now, out, {}};
    answers_on_rest_message(c, chat_id);
}

bool engine::joined(std::string_view chat_id) const {
    if (state_.current == phase::closed) return false;  // on_close unregistered everything
    for (const auto& e : state_.chats)
        if (e.chat_id == chat_id) return e.state == join_state::acknowledged;
    return false;
}

void engine::on_close(const close_info& info, millis now, actions& out) {
    if (state_.current == phase::closed) return;
    for (const auto& chat : state_.registered) emit_chat(out, action::kind::chat_unregistered, chat);
    state_.registered.clear();
    {
        frame_info none;
        frame_ctx c{*cfg_, state_, none, direction::client_to_server, now, out, {}};
        answers_on_close(c);
    }
    nlohmann::json fields = {{"code", info.code},
                             {"reason", info.reason},
                             {"closed_by", info.closed_by},
                             {"client_id", state_.client_id},
                             {"duration_ms", now - state_.opened_at},
                             {"frames_client_to_server", state_.frames_in[0]},
                             {"frames_server_to_client", state_.frames_in[1]},
                             {"bytes_client_to_server", state_.bytes_in[0]},
                             {"bytes_server_to_client", state_.bytes_in[1]}};
    if (info.client_code != 0) fields["client_code"] = info.client_code;
    if (info.server_code != 0) fields["server_code"] = info.server_code;
    emit_log(out, log_level::info, "connection_closed", std::move(fields));
    state_.current = phase::closed;
    state_.grace_deadline = -1;
}

}  // namespace wsproxy::rules
