#include "store.hpp"

#include <nlohmann/json.hpp>

#include "ids.hpp"

namespace chat_backend {

std::string store::key(std::string_view tenant, std::string_view chat_id) {
  std::string k;
  k.append(tenant).push_back('\0');
  k.append(chat_id);
  return k;
}

std::string store::create_chat(std::string_view tenant) {
  auto id = make_uuid();
  std::lock_guard lock(mutex_);
  chats_.try_emplace(key(tenant, id));
  return id;
}

void store::append(std::string_view tenant, std::string_view chat_id, std::string_view role,
                   std::string_view message_id, std::string_view content, std::int64_t ts) {
  if (limit_ == 0) return;
  entry e{std::string(role), std::string(message_id), std::string(content), ts};
  std::lock_guard lock(mutex_);
  auto& q = chats_[key(tenant, chat_id)];
  q.push_back(std::move(e));
  while (q.size() > limit_) q.pop_front();
}

std::string store::history_json(std::string_view tenant, std::string_view chat_id) const {
  nlohmann::ordered_json msgs = nlohmann::ordered_json::array();
  {
    std::lock_guard lock(mutex_);
    auto it = chats_.find(key(tenant, chat_id));
    if (it != chats_.end()) {
      for (const auto& e : it->second) {
        msgs.push_back({{"message_id", e.message_id},
                        {"role", e.role},
                        {"content", e.content},
                        {"ts", e.ts}});
      }
    }
  }
  nlohmann::ordered_json out;
  out["chat_id"] = chat_id;
  out["messages"] = std::move(msgs);
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace chat_backend
