#pragma once
// Chat history: per tenant and chat, the last `limit` messages (user and
// assistant). Shared by every thread under one mutex; touched once per user
// message and once per answer, never per frame. Lives as long as the server.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace chat_backend {

class store {
 public:
  explicit store(std::size_t limit) : limit_(limit) {}

  // A new, empty chat; returns its id.
  std::string create_chat(std::string_view tenant);
  // Appends; the chat is created if unknown (frontends invent chat ids).
  void append(std::string_view tenant, std::string_view chat_id, std::string_view role,
              std::string_view message_id, std::string_view content, std::int64_t ts);
  // {"messages": [{"message_id","role","content","ts"}...]} (empty when unknown).
  std::string history_json(std::string_view tenant, std::string_view chat_id) const;

 private:
  struct entry {
    std::string role, message_id, content;
    std::int64_t ts;
  };
  static std::string key(std::string_view tenant, std::string_view chat_id);

  std::size_t limit_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::deque<entry>> chats_;
};

}  // namespace chat_backend
