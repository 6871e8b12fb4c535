// Small helpers shared by the rules: building actions, looking up chats, building frames.
#include <algorithm>

#include "rules/detail.hpp"

namespace wsproxy::rules::detail {

void emit_count(actions& out, stat s, std::uint32_t label) {
    action& a = out.emplace_back();
    a.what = action::kind::count;
    a.counter = s;
    a.label = label;
}

void emit_log(actions& out, log_level level, const char* event, nlohmann::json fields) {
    action& a = out.emplace_back();
    a.what = action::kind::log;
    a.level = level;
    a.event = event;
    a.fields = std::move(fields);
}

void emit_inject(actions& out, direction to, std::string payload, inject_reason why,
                 std::string_view cause) {
    action& a = out.emplace_back();
    a.what = action::kind::inject;
    a.to = to;
    a.injected = true;
    a.payload = std::move(payload);
    a.why = why;
    a.cause = cause;
}

void emit_chat(actions& out, action::kind what, std::string_view chat_id) {
    action& a = out.emplace_back();
    a.what = what;
    a.chat_id = chat_id;
}

chat_entry* find_chat(connection_state& st, std::string_view chat_id) {
    for (auto& e : st.chats)
        if (e.chat_id == chat_id) return &e;
    return nullptr;
}

bool trackable(const connection_state& st, std::string_view chat_id) {
    return chat_id.size() <= max_chat_id_bytes &&
           st.chats.size() + st.would_join.size() + st.queued_joins.size() < max_tracked_chats;
}

bool is_joined(const chat_entry* e) {
    return e && (e->state == join_state::requested || e->state == join_state::acknowledged);
}

void remove_chat(connection_state& st, std::string_view chat_id) {
    std::erase_if(st.chats, [&](const chat_entry& e) { return e.chat_id == chat_id; });
}

void push_pending(connection_state& st, std::string_view chat_id, bool join, bool by_us,
                  inject_reason why, std::string_view cause) {
    // A backend that never answers must not grow this without bound.
    constexpr std::size_t limit = 256;
    if (st.pending_replies.size() >= limit) st.pending_replies.erase(st.pending_replies.begin());
    st.pending_replies.push_back(
        pending_reply{std::string(chat_id), join, by_us, why, std::string(cause)});
}

bool contains(const std::vector<std::string>& list, std::string_view s) {
    return std::find(list.begin(), list.end(), s) != list.end();
}

void erase_value(std::vector<std::string>& list, std::string_view s) {
    std::erase_if(list, [&](const std::string& v) { return v == s; });
}

std::string build_frame(const config& cfg, const std::string& type, std::string_view chat_id) {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    const auto set = [&j](const json_path& path, nlohmann::ordered_json value) {
        if (path.empty()) return;
        nlohmann::ordered_json* node = &j;
        for (std::size_t i = 0; i + 1 < path.size(); ++i) {
            nlohmann::ordered_json& next = (*node)[path[i]];
            if (!next.is_object()) next = nlohmann::ordered_json::object();
            node = &next;
        }
        (*node)[path.back()] = std::move(value);
    };
    set(cfg.type_path, type);
    set(cfg.join_chat_id_path, std::string(chat_id));
    return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

bool usable_chat_id(std::string_view chat_id) {
    return !chat_id.empty() && chat_id.size() <= max_chat_id_bytes && valid_utf8(chat_id);
}

std::string json_quote(std::string_view s) {
    return nlohmann::json(std::string(s)).dump(-1, ' ', false,
                                               nlohmann::json::error_handler_t::replace);
}

}  // namespace wsproxy::rules::detail
