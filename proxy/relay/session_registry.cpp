#include "proxy/relay/session_registry.hpp"

#include <algorithm>

#include "proxy/cluster/client.hpp"

namespace wsproxy {

void session_registry::add_socket(const std::string& session, worker* owner, std::uint64_t id,
                                  std::int64_t now) {
    bool first = false;
    {
        std::lock_guard lock(mutex_);
        evict_if_full();
        auto& e = sessions_[session];
        first = e.sockets.empty();
        e.sockets.push_back({owner, id, now});
        e.last_used = now;
    }
    if (first && cluster_) cluster_->session_opened(session);
}

void session_registry::remove_socket(const std::string& session, std::uint64_t id,
                                     std::int64_t now) {
    bool last = false;
    {
        std::lock_guard lock(mutex_);
        auto it = sessions_.find(session);
        if (it == sessions_.end()) return;
        auto& s = it->second.sockets;
        const auto before = s.size();
        s.erase(std::remove_if(s.begin(), s.end(),
                               [id](const socket_ref& r) { return r.id == id; }),
                s.end());
        last = before != 0 && s.empty();
        it->second.last_used = now;
        // The chats are kept: they are what a reconnecting tab is joined to again.
        if (s.empty() && it->second.chats.empty()) sessions_.erase(it);
    }
    if (last && cluster_) cluster_->session_closed(session);
}

void session_registry::touch_socket(const std::string& session, std::uint64_t id,
                                    std::int64_t now) {
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(session);
    if (it == sessions_.end()) return;
    for (auto& r : it->second.sockets)
        if (r.id == id) r.last_active = now;
    it->second.last_used = now;
}

std::vector<session_registry::socket_ref> session_registry::sockets(
    const std::string& session) const {
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(session);
    return it == sessions_.end() ? std::vector<socket_ref>{} : it->second.sockets;
}

void session_registry::remember_chat(const std::string& session, const std::string& chat,
                                     std::int64_t now, std::size_t max_chats,
                                     std::uint64_t conn) {
    {
        std::lock_guard lock(mutex_);
        evict_if_full();
        auto& e = sessions_[session];
        auto& c = e.chats;
        c.erase(std::remove_if(c.begin(), c.end(),
                               [&](const chat_use& u) { return u.chat == chat; }),
                c.end());
        c.insert(c.begin(), chat_use{chat, now, conn});
        if (c.size() > max_chats) c.resize(max_chats);
        e.last_used = now;
    }
    if (cluster_) cluster_->remember_chat(session, chat, max_chats);
}

void session_registry::merge_remote_chats(
    const std::string& session, const std::vector<std::pair<std::string, std::int64_t>>& chats,
    std::int64_t now, std::size_t max_chats) {
    if (chats.empty()) return;
    std::lock_guard lock(mutex_);
    evict_if_full();
    auto& e = sessions_[session];
    auto& c = e.chats;
    for (const auto& entry : chats) {
        // Not a structured binding: clang (the sanitizer builds) cannot capture one in a lambda.
        const std::string& chat = entry.first;
        const std::int64_t at = now - entry.second;
        auto it = std::find_if(c.begin(), c.end(), [&](const chat_use& u) { return u.chat == chat; });
        if (it != c.end()) {
            if (it->at >= at) continue;
            c.erase(it);
        }
        // Kept most recent first; the joining connection lived on another pod (0: unknown).
        auto pos = std::find_if(c.begin(), c.end(), [at](const chat_use& u) { return u.at < at; });
        c.insert(pos, chat_use{chat, at, 0});
    }
    if (c.size() > max_chats) c.resize(max_chats);
    e.last_used = now;
}

std::vector<std::string> session_registry::remembered_chats(const std::string& session,
                                                            std::int64_t now,
                                                            std::int64_t ttl_ms,
                                                            std::vector<std::uint64_t>* conns) const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    auto it = sessions_.find(session);
    if (it == sessions_.end()) return out;
    for (const auto& u : it->second.chats)
        if (now - u.at <= ttl_ms) {
            out.push_back(u.chat);
            if (conns) conns->push_back(u.conn);
        }
    return out;
}

std::size_t session_registry::size() const {
    std::lock_guard lock(mutex_);
    return sessions_.size();
}

void session_registry::evict_if_full() {
    if (sessions_.size() < max_sessions_) return;
    // Rare (only when full): forget the least recently used session without sockets.
    auto victim = sessions_.end();
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
        if (!it->second.sockets.empty()) continue;
        if (victim == sessions_.end() || it->second.last_used < victim->second.last_used)
            victim = it;
    }
    if (victim != sessions_.end()) sessions_.erase(victim);
}

}  // namespace wsproxy
