#pragma once
// Browser sessions (the session cookie) across all workers: which sockets
// each session has open, and which chats its sockets joined lately, so that a
// REST message can join its session's sockets and a reconnecting tab can be
// joined again. Touched on opens, closes, joins and REST messages, never per
// frame, so one mutex is fine. Shared by every thread; lives as long as the server.
// With --shared-state the same events go to the cluster client too (which only posts), so
// that other pods learn where this session's sockets are and what they joined.
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace wsproxy {

struct worker;
namespace cluster {
class client;
}

class session_registry {
public:
    struct socket_ref {
        worker* owner{nullptr};     // the thread the socket lives on: post to it, never touch
        std::uint64_t id{0};        // the ws_pair's id in owner->pairs
        std::int64_t last_active{0};  // ms of the latest client frame (coarse)
    };

    // `max_sessions` bounds memory: beyond it the least recently used sessions are forgotten.
    explicit session_registry(std::size_t max_sessions = 100'000) : max_sessions_(max_sessions) {}

    void add_socket(const std::string& session, worker* owner, std::uint64_t id, std::int64_t now);
    void remove_socket(const std::string& session, std::uint64_t id, std::int64_t now);
    void touch_socket(const std::string& session, std::uint64_t id, std::int64_t now);
    std::vector<socket_ref> sockets(const std::string& session) const;

    // A socket of the session (connection `conn`) joined `chat` (acknowledged by the backend).
    void remember_chat(const std::string& session, const std::string& chat, std::int64_t now,
                       std::size_t max_chats, std::uint64_t conn = 0);
    // Chats joined within `ttl_ms`, most recent first; `conns`, when given, receives the
    // connection that joined each (the cause of a rejoin).
    std::vector<std::string> remembered_chats(const std::string& session, std::int64_t now,
                                              std::int64_t ttl_ms,
                                              std::vector<std::uint64_t>* conns = nullptr) const;

    // Chats another pod remembered for `session` (cluster::client::lookup_chats), each
    // joined `age_ms` before `now`: added where they are newer than what is known here, and
    // not sent back to Redis.
    void merge_remote_chats(const std::string& session,
                            const std::vector<std::pair<std::string, std::int64_t>>& chats,
                            std::int64_t now, std::size_t max_chats);

    std::size_t size() const;

    // The shared state, when --shared-state is given; set before the workers start.
    void attach(cluster::client* c) { cluster_ = c; }
    cluster::client* cluster() const { return cluster_; }

private:
    struct chat_use {
        std::string chat;
        std::int64_t at{0};
        std::uint64_t conn{0};
    };
    struct entry {
        std::vector<socket_ref> sockets;
        std::vector<chat_use> chats;  // most recent first
        std::int64_t last_used{0};
    };

    void evict_if_full();

    mutable std::mutex mutex_;
    std::unordered_map<std::string, entry> sessions_;
    const std::size_t max_sessions_;
    cluster::client* cluster_{nullptr};
};

}  // namespace wsproxy
