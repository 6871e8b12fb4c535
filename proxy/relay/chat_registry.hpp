#pragma once
// Which chats have at least one socket through this proxy registered at the
// backend. Shared by all workers; touched only on joins, leaves, closes and
// user messages (rare events), so a mutex is fine here.
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace wsproxy {

class chat_registry {
public:
    void add(const std::string& chat_id) {
        std::lock_guard lock(mutex_);
        ++sockets_[chat_id];
    }
    void remove(const std::string& chat_id) {
        std::lock_guard lock(mutex_);
        auto it = sockets_.find(chat_id);
        if (it != sockets_.end() && --it->second <= 0) sockets_.erase(it);
    }
    bool registered(const std::string& chat_id) const {
        std::lock_guard lock(mutex_);
        return sockets_.count(chat_id) != 0;
    }

private:
    mutable std::mutex mutex_;
    std::unordered_map<std::string, int> sockets_;
};

}  // namespace wsproxy
