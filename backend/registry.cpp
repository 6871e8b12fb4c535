#include "registry.hpp"

#include <algorithm>

namespace chat_backend {

namespace {
const std::shared_ptr<const registry::member_list> empty_list =
    std::make_shared<const registry::member_list>();
}

std::string registry::key(std::string_view tenant, std::string_view chat_id) {
  std::string k;
  k.reserve(tenant.size() + 1 + chat_id.size());
  k.append(tenant).push_back('\0');
  k.append(chat_id);
  return k;
}

bool registry::join(std::string_view tenant, std::string_view chat_id,
                    std::shared_ptr<member> m) {
  auto k = key(tenant, chat_id);
  bool first = false;
  {
    std::lock_guard lock(mutex_);
    auto& slot = chats_[k];
    if (slot && std::any_of(slot->begin(), slot->end(),
                            [&](const auto& p) { return p.get() == m.get(); }))
      return false;
    first = !slot || slot->empty();
    auto next = slot ? std::make_shared<member_list>(*slot) : std::make_shared<member_list>();
    next->push_back(std::move(m));
    slot = std::move(next);
  }
  if (first && on_presence) on_presence(k, true);
  return true;
}

bool registry::leave(std::string_view tenant, std::string_view chat_id, const member* m) {
  auto k = key(tenant, chat_id);
  std::unique_lock lock(mutex_);
  auto it = chats_.find(k);
  if (it == chats_.end()) return false;
  const auto& cur = *it->second;
  auto pos = std::find_if(cur.begin(), cur.end(), [&](const auto& p) { return p.get() == m; });
  if (pos == cur.end()) return false;
  if (cur.size() == 1) {
    chats_.erase(it);
    lock.unlock();
    if (on_presence) on_presence(k, false);
    return true;
  }
  auto next = std::make_shared<member_list>();
  next->reserve(cur.size() - 1);
  for (const auto& p : cur)
    if (p.get() != m) next->push_back(p);
  it->second = std::move(next);
  return true;
}

bool registry::is_member(std::string_view tenant, std::string_view chat_id,
                         const member* m) const {
  auto list = members(tenant, chat_id);
  return std::any_of(list->begin(), list->end(), [&](const auto& p) { return p.get() == m; });
}

std::size_t registry::count(std::string_view tenant, std::string_view chat_id) const {
  return members(tenant, chat_id)->size();
}

std::shared_ptr<const registry::member_list> registry::members(std::string_view tenant,
                                                               std::string_view chat_id) const {
  return members_by_key(key(tenant, chat_id));
}

std::shared_ptr<const registry::member_list> registry::members_by_key(const std::string& k) const {
  std::lock_guard lock(mutex_);
  auto it = chats_.find(k);
  return it == chats_.end() ? empty_list : it->second;
}

std::size_t registry::broadcast(std::string_view tenant, std::string_view chat_id,
                                const frame_ptr& frame, const member* except) const {
  return broadcast_by_key(key(tenant, chat_id), frame, except);
}

std::size_t registry::broadcast_by_key(const std::string& k, const frame_ptr& frame,
                                       const member* except) const {
  auto list = members_by_key(k);
  std::size_t n = 0;
  for (const auto& m : *list) {
    if (m.get() == except) continue;
    m->deliver(frame);
    ++n;
  }
  return n;
}

void registry::clear() {
  std::unordered_map<std::string, std::shared_ptr<const member_list>> old;
  {
    std::lock_guard lock(mutex_);
    old.swap(chats_);
  }
}

}  // namespace chat_backend
