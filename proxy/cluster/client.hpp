#pragma once
// The shared state of a set of replicas, kept in Redis (--shared-state; the protocol and
// the key names are in docs/shared-state.md): which pods hold each browser session's
// sockets, the chats each session joined lately, and join requests between pods.
//
// Runs on a thread and io_context of its own; every public function may be called from any
// thread and only posts, so a relay thread never waits for Redis. Callbacks run on the
// client's thread: whoever gets one posts back to its own thread. While Redis is
// unreachable the client answers at once as if no other pod existed (local-only), and
// reconnects with backoff; each change between up and down is logged once and counted.
// Created by the server before the workers, lives until after they stop.
//
//   state       | event                                   | next
//   ------------+-----------------------------------------+--------------------------------
//   connecting  | both links connected, channel subscribed| up: log shared_state_up, list
//               |                                         | this pod's sessions again
//   connecting  | a link failed or timed out              | down: log shared_state_down and
//               |                                         | count degraded (once), retry in
//               |                                         | 100 ms doubling to 5 s, +-20%
//   up          | a link failed, an answer timed out      | down (as above)
//   down        | the retry timer                         | connecting
//   any         | stop()                                  | stopped
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "metrics/registry.hpp"
#include "proxy/base/options.hpp"
#include "proxy/cluster/redis_link.hpp"

namespace wsproxy::cluster {

class client {
public:
    // A join request from another pod: join the local sockets of `session` to `chat`, then
    // call `reply(joined)` (from any thread) once. Runs on the client's thread.
    using join_handler = std::function<void(const std::string& session, const std::string& chat,
                                            const std::string& cause,
                                            std::function<void(bool)> reply)>;
    // Remembered chats, most recent first: (chat, milliseconds since its last join).
    using chat_list = std::vector<std::pair<std::string, std::int64_t>>;

    // Parses o.url and reads the password file: throws startup_error on a bad one.
    // `chat_ttl_s`: how long a session's remembered chats live in Redis (rules rejoin.ttl_s).
    client(const cluster_options& o, metrics::registry& metrics, std::int64_t chat_ttl_s);
    ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    void start(join_handler on_join);
    void stop();  // joins the thread; callbacks not yet run are dropped

    bool up() const { return up_.load(std::memory_order_relaxed); }
    const std::string& pod_id() const { return pod_id_; }

    // This pod's first socket of `session` opened / its last one closed.
    void session_opened(const std::string& session);
    void session_closed(const std::string& session);
    // A socket of `session` joined `chat`: kept (at most `max_chats` per session) for rejoin.
    void remember_chat(const std::string& session, const std::string& chat, std::size_t max_chats);
    // The chats `session` joined within `ttl_ms` on any pod, at most `max`; empty when Redis
    // is down or slow (after --shared-state-timeout at worst).
    void lookup_chats(const std::string& session, std::int64_t ttl_ms, std::size_t max,
                      std::function<void(chat_list)> done);
    // Asks the other pods holding sockets of `session` to join them to `chat`.
    // `done(joined, pods)`: `pods` were asked (0: none holds the session, or Redis is down),
    // `joined` is whether any acknowledged a join; called after the last answer or after
    // `wait_ms`, whichever comes first.
    void request_joins(const std::string& session, const std::string& chat,
                       const std::string& cause, std::int64_t wait_ms,
                       std::function<void(bool joined, std::size_t pods)> done);

private:
    struct local_session {
        std::string session;
        std::size_t sockets{0};
    };
    struct join_wait {
        std::size_t asked{0};
        std::size_t left{0};
        bool joined{false};
        std::chrono::steady_clock::time_point started;
        std::function<void(bool, std::size_t)> done;
        std::unique_ptr<boost::asio::steady_timer> timer;
    };

    void connect();
    void on_link_down(const std::string& why);
    void went_up();
    void heartbeat();
    void arm_heartbeat();
    void on_message(std::string_view payload);
    void answer_join(const std::string& from, const std::string& id, bool joined);
    void finish_wait(const std::string& id);
    void count(metrics::shared_state_op op, metrics::shared_state_result r);
    std::string key_of(const std::string& session_hash, const char* what) const;

    boost::asio::io_context ioc_{1};
    std::thread thread_;
    metrics::registry& metrics_;
    redis_link::settings link_settings_;
    std::optional<boost::asio::ssl::context> tls_;
    const std::string prefix_;
    const std::string pod_id_;
    const std::string channel_;
    const std::int64_t socket_ttl_ms_;
    const std::int64_t chat_ttl_ms_;
    join_handler on_join_;
    std::atomic<bool> up_{false};

    // The rest is touched on the client's thread only.
    std::shared_ptr<redis_link> cmd_;  // commands
    std::shared_ptr<redis_link> sub_;  // this pod's channel (a subscribed link sends nothing else)
    enum class state { starting, connecting, up, down } state_{state::starting};
    std::chrono::milliseconds backoff_{0};
    boost::asio::steady_timer retry_;
    boost::asio::steady_timer beat_;
    std::unordered_map<std::string, local_session> sessions_;  // by hashed session
    std::unordered_map<std::string, join_wait> waits_;          // by request id
    std::uint64_t next_request_{1};
    bool stopped_{false};
};

// The session as Redis sees it: the hex SHA-256 of the cookie's value, so that a session
// cookie (a credential) is never written to Redis or its channels.
std::string session_hash(const std::string& session);

}  // namespace wsproxy::cluster
