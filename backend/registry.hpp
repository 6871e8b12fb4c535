#pragma once
// Who is registered for which chat: per tenant, chat_id -> set of members.
// Shared by every io_context thread, so one mutex guards the map; each chat's
// member list is copy-on-write, so a broadcast holds the lock only long enough
// to copy one shared_ptr and delivers outside it. Lives as long as the server.

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace chat_backend {

using frame_ptr = std::shared_ptr<const std::string>;

// A registered connection, seen from other threads. deliver() must be safe to
// call from any thread (it posts to the connection's own executor).
class member {
 public:
  virtual ~member() = default;
  virtual void deliver(frame_ptr frame) = 0;
};

class registry {
 public:
  using member_list = std::vector<std::shared_ptr<member>>;

  // False when m was already registered for the chat.
  bool join(std::string_view tenant, std::string_view chat_id, std::shared_ptr<member> m);
  // False when m was not registered for the chat.
  bool leave(std::string_view tenant, std::string_view chat_id, const member* m);
  bool is_member(std::string_view tenant, std::string_view chat_id, const member* m) const;
  std::size_t count(std::string_view tenant, std::string_view chat_id) const;
  // The members at this instant (never null).
  std::shared_ptr<const member_list> members(std::string_view tenant,
                                             std::string_view chat_id) const;
  // Delivers frame to every member but `except`; returns how many got it.
  std::size_t broadcast(std::string_view tenant, std::string_view chat_id, const frame_ptr& frame,
                        const member* except = nullptr) const;
  // Drops every registration (server shutdown: breaks member <-> registry cycles).
  void clear();

  // Called (outside the lock) when a chat gets its first member or loses its last one,
  // with its key(); set before the server starts (--redis lists them for other replicas).
  std::function<void(const std::string& key, bool present)> on_presence;

  // The same lookups by a precomputed key (a broadcast of many frames to one
  // chat computes it once).
  static std::string key(std::string_view tenant, std::string_view chat_id);
  std::shared_ptr<const member_list> members_by_key(const std::string& key) const;
  std::size_t broadcast_by_key(const std::string& key, const frame_ptr& frame,
                               const member* except = nullptr) const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<const member_list>> chats_;
};

}  // namespace chat_backend
