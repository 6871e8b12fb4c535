#pragma once
// The per-connection rules engine: events in, actions out, nothing else.
// It never sees a socket and never reads a clock (time comes in as `now`).
// One instance per proxied connection, owned by that connection's thread.
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "actions.hpp"
#include "classify.hpp"
#include "config.hpp"
#include "state.hpp"

namespace wsproxy::rules {

namespace detail {
struct path_index;
}

struct open_info {
    std::string target;  // request target of the upgrade: path and query, as sent
    std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
    // The chats this connection's session joined lately (config::rejoin), most recent
    // first, from the body's per-session memory. Empty: nothing to rejoin.
    std::vector<std::string> remembered_chats{};
    // The connection that joined each remembered chat (same order; missing or 0: unknown),
    // named as the cause of a rejoin.
    std::vector<std::uint64_t> remembered_conns{};
};

struct close_info {
    int code{1005};
    std::string reason;
    std::string closed_by;  // "client", "server", "proxy"
    // The close code of each leg: the one its peer sent, else the one sent to it, else
    // 1006 (no close frame either way). 0: not known (the leg never opened).
    int client_code{0};
    int server_code{0};
};

class engine {
public:
    explicit engine(std::shared_ptr<const config> cfg);

    void on_open(const open_info& info, millis now, actions& out);
    // A whole message from one side. Exactly one of forward/replace/hide is
    // among the actions, in the position where the frame goes relative to injections.
    void on_frame(direction from, std::string_view payload, bool is_text, millis now,
                  actions& out);
    void on_timer(millis now, actions& out);
    void on_close(const close_info& info, millis now, actions& out);
    // An outside request that this connection be registered for `chat_id`: a REST user
    // message of this connection's session (rules/rest.hpp). Returns true when the chat is
    // acknowledged already (nothing to wait for). Otherwise the join is injected (fix) or
    // logged (observe) unless one is already on its way, and the body may wait for the
    // chat_registered action. Before connection_ready the join is queued and sent at
    // connection_ready. Never emits forward/replace/hide.
    // `cause` names the request ("POST /api/v1/chats/X/messages") for the log and the tap.
    bool on_join_request(std::string_view chat_id, millis now, actions& out,
                         std::string_view cause = {});
    // A REST user message for `chat_id` of this connection's session is being forwarded:
    // its answer is expected on this socket (config::answers), as for a user message frame.
    // Emits only arm_timer and count actions.
    void on_rest_message(std::string_view chat_id, millis now, actions& out);

    // Whether the backend acknowledged this connection's join of `chat_id` (and the
    // connection is not closed).
    bool joined(std::string_view chat_id) const;

    const connection_state& state() const { return state_; }
    // Classification of the frame last passed to on_frame (for the tap).
    const frame_info& last_frame() const { return frame_; }
    const config& cfg() const { return *cfg_; }

private:
    std::shared_ptr<const config> cfg_;
    std::shared_ptr<const detail::path_index> paths_;  // cfg_'s paths, compiled once
    connection_state state_;
    frame_info frame_;
};

}  // namespace wsproxy::rules
