#include "dialect.hpp"

#include <nlohmann/json.hpp>

#include "ids.hpp"
#include "json_out.hpp"

namespace chat_backend {

namespace {

using json = nlohmann::json;

constexpr std::size_t max_depth = 64;

// Parses text as a JSON object; on failure fills req.error and returns false.
bool parse_object(std::string_view text, json& out, request& req) {
  if (json_depth(text) > max_depth) {
    req.error = "JSON nested too deeply";
    return false;
  }
  out = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (out.is_discarded()) {
    req.error = "frame is not valid JSON";
    return false;
  }
  if (!out.is_object()) {
    req.error = "frame is not a JSON object";
    return false;
  }
  return true;
}

// A string field of obj, or empty when absent or not a string.
std::string str_field(const json& obj, const char* name) {
  if (!obj.is_object()) return {};
  auto it = obj.find(name);
  if (it == obj.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

const json& sub_object(const json& obj, const char* name) {
  static const json empty = json::object();
  auto it = obj.find(name);
  return (it != obj.end() && it->is_object()) ? *it : empty;
}

class standard_dialect final : public dialect {
 public:
  explicit standard_dialect(client_id_at cid) : cid_(cid) {}

  request parse(std::string_view text) const override {
    request req;
    json j;
    if (!parse_object(text, j, req)) return req;
    auto type_it = j.find("type");
    if (type_it == j.end() || !type_it->is_string()) {
      req.error = "missing \"type\"";
      return req;
    }
    const auto& type = type_it->get_ref<const std::string&>();
    const json& data = sub_object(j, "data");
    // chat_id belongs in data; a top-level one is accepted too.
    auto chat = str_field(data, "chat_id");
    if (chat.empty()) chat = str_field(j, "chat_id");
    if (type == "join_chat") {
      req.kind = request_kind::join;
      req.chat_id = std::move(chat);
    } else if (type == "leave_chat") {
      req.kind = request_kind::leave;
      req.chat_id = std::move(chat);
    } else if (type == "send_message") {
      auto c = data.find("content");
      if (chat.empty()) {
        req.error = "send_message needs data.chat_id";
      } else if (c == data.end() || !c->is_string()) {
        req.error = "send_message needs data.content (a string)";
      } else {
        req.kind = request_kind::send;
        req.chat_id = std::move(chat);
        req.content = c->get<std::string>();
      }
    } else if (type == "typing_start" || type == "typing_stop") {
      if (chat.empty()) {
        req.error = type + " needs data.chat_id";
      } else {
        req.kind = type == "typing_start" ? request_kind::typing_start : request_kind::typing_stop;
        req.chat_id = std::move(chat);
      }
    } else if (type == "ping") {
      req.kind = request_kind::ping;
    } else {
      req.error = "unknown type \"" + type + "\"";
    }
    return req;
  }

  std::vector<std::string> greeting(std::string_view client_id,
                                    std::string_view tenant) const override {
    std::vector<std::string> out;
    json_object est_data;
    if (cid_ == client_id_at::data || cid_ == client_id_at::both)
      est_data.str("client_id", client_id);
    est_data.str("tenant_id", tenant);
    const bool top = cid_ == client_id_at::top || cid_ == client_id_at::both;
    out.push_back(envelope("connection_established", est_data.done(), tenant, {},
                           top ? "client_id" : "", client_id));
    const std::pair<const char*, int> phases[] = {
        {"starting", 10}, {"services", 50}, {"complete", 100}};
    for (auto& [phase, progress] : phases) {
      out.push_back(envelope("initialization_progress",
                             json_object().str("phase", phase).num("progress", progress).done(),
                             tenant, {}));
    }
    json_object ready;
    if (cid_ != client_id_at::none) ready.str("client_id", client_id);
    out.push_back(envelope("connection_ready", ready.done(), tenant, {}));
    return out;
  }

  std::string joined(std::string_view tenant, std::string_view chat_id, bool ok,
                     std::string_view error) const override {
    return membership("chat_joined", tenant, chat_id, ok, error);
  }
  std::string left(std::string_view tenant, std::string_view chat_id, bool ok,
                   std::string_view error) const override {
    return membership("chat_left", tenant, chat_id, ok, error);
  }
  std::string typing(std::string_view tenant, std::string_view chat_id,
                     bool start) const override {
    return envelope(start ? "typing_start" : "typing_stop",
                    json_object().str("chat_id", chat_id).done(), tenant, chat_id);
  }
  std::string answer_start(std::string_view tenant, std::string_view chat_id,
                           std::string_view response_id,
                           std::string_view in_reply_to) const override {
    return envelope("response_start",
                    json_object()
                        .str("chat_id", chat_id)
                        .str("response_id", response_id)
                        .str("in_reply_to", in_reply_to)
                        .done(),
                    tenant, chat_id);
  }
  std::string answer_chunk(std::string_view tenant, std::string_view chat_id,
                           std::string_view response_id, std::size_t index,
                           std::string_view content) const override {
    return envelope("response_chunk",
                    json_object(64 + chat_id.size() + content.size())
                        .str("chat_id", chat_id)
                        .str("response_id", response_id)
                        .num("index", static_cast<std::int64_t>(index))
                        .str("content", content)
                        .done(),
                    tenant, chat_id);
  }
  std::string answer_end(std::string_view tenant, std::string_view chat_id,
                         std::string_view response_id, std::string_view content) const override {
    return envelope("response_complete",
                    json_object(64 + chat_id.size() + content.size())
                        .str("chat_id", chat_id)
                        .str("response_id", response_id)
                        .str("content", content)
                        .done(),
                    tenant, chat_id);
  }
  std::string pong(std::string_view tenant) const override {
    return envelope("pong", "{}", tenant, {});
  }
  std::string error(std::string_view tenant, std::string_view code,
                    std::string_view message) const override {
    return envelope("error", json_object().str("code", code).str("message", message).done(),
                    tenant, {});
  }
  std::string answer_error(std::string_view tenant, std::string_view chat_id,
                           std::string_view code, std::string_view message) const override {
    return envelope(
        "error",
        json_object().str("chat_id", chat_id).str("code", code).str("message", message).done(),
        tenant, chat_id);
  }

 private:
  // {"type","data","message_id","chat_id","tenant_id","event_ts"}, plus one
  // more top-level string member when extra_key is not empty.
  static std::string envelope(std::string_view type, std::string_view data,
                              std::string_view tenant, std::string_view chat_id,
                              std::string_view extra_key = {},
                              std::string_view extra_value = {}) {
    json_object j(96 + data.size() + chat_id.size() + tenant.size());
    j.str("type", type)
        .raw("data", data)
        .str("message_id", make_uuid())
        .str_or_null("chat_id", chat_id)
        .str("tenant_id", tenant)
        .num("event_ts", now_ms());
    if (!extra_key.empty()) j.str(extra_key, extra_value);
    return j.done();
  }

  std::string membership(std::string_view type, std::string_view tenant, std::string_view chat_id,
                         bool ok, std::string_view error) const {
    json_object data;
    data.str_or_null("chat_id", chat_id).boolean("success", ok);
    if (!ok) data.str("error", error);
    return envelope(type, data.done(), tenant, chat_id);
  }

  client_id_at cid_;
};

class rooms_dialect final : public dialect {
 public:
  explicit rooms_dialect(client_id_at cid) : cid_(cid) {}

  request parse(std::string_view text) const override {
    request req;
    json j;
    if (!parse_object(text, j, req)) return req;
    auto ev_it = j.find("event");
    if (ev_it == j.end() || !ev_it->is_string()) {
      req.error = "missing \"event\"";
      return req;
    }
    const auto& ev = ev_it->get_ref<const std::string&>();
    const json& payload = sub_object(j, "payload");
    auto room = str_field(payload, "room");
    if (room.empty()) room = str_field(j, "room");
    if (ev == "subscribe") {
      req.kind = request_kind::join;
      req.chat_id = std::move(room);
    } else if (ev == "unsubscribe") {
      req.kind = request_kind::leave;
      req.chat_id = std::move(room);
    } else if (ev == "post") {
      auto t = payload.find("text");
      if (room.empty()) {
        req.error = "post needs payload.room";
      } else if (t == payload.end() || !t->is_string()) {
        req.error = "post needs payload.text (a string)";
      } else {
        req.kind = request_kind::send;
        req.chat_id = std::move(room);
        req.content = t->get<std::string>();
      }
    } else if (ev == "typing") {
      auto on = payload.find("on");
      if (room.empty()) {
        req.error = "typing needs payload.room";
      } else {
        bool start = on == payload.end() || !on->is_boolean() || on->get<bool>();
        req.kind = start ? request_kind::typing_start : request_kind::typing_stop;
        req.chat_id = std::move(room);
      }
    } else if (ev == "ping") {
      req.kind = request_kind::ping;
    } else {
      req.error = "unknown event \"" + ev + "\"";
    }
    return req;
  }

  std::vector<std::string> greeting(std::string_view client_id,
                                    std::string_view) const override {
    json_object hello;
    if (cid_ == client_id_at::data || cid_ == client_id_at::both)
      hello.str("session_id", client_id);
    const bool top = cid_ == client_id_at::top || cid_ == client_id_at::both;
    json_object ready;
    if (cid_ != client_id_at::none) ready.str("session_id", client_id);
    return {envelope("hello", hello.done(), {}, top ? "session_id" : "", client_id),
            envelope("ready", ready.done(), {})};
  }

  std::string joined(std::string_view, std::string_view room, bool ok,
                     std::string_view error) const override {
    return membership("subscribed", room, ok, error);
  }
  std::string left(std::string_view, std::string_view room, bool ok,
                   std::string_view error) const override {
    return membership("unsubscribed", room, ok, error);
  }
  std::string typing(std::string_view, std::string_view room, bool start) const override {
    return envelope("typing", json_object().str("room", room).boolean("on", start).done(), room);
  }
  std::string answer_start(std::string_view, std::string_view room, std::string_view answer_id,
                           std::string_view in_reply_to) const override {
    return envelope("answer_start",
                    json_object()
                        .str("room", room)
                        .str("answer_id", answer_id)
                        .str("in_reply_to", in_reply_to)
                        .done(),
                    room);
  }
  std::string answer_chunk(std::string_view, std::string_view room, std::string_view answer_id,
                           std::size_t index, std::string_view text) const override {
    return envelope("answer_delta",
                    json_object(64 + room.size() + text.size())
                        .str("room", room)
                        .str("answer_id", answer_id)
                        .num("index", static_cast<std::int64_t>(index))
                        .str("text", text)
                        .done(),
                    room);
  }
  std::string answer_end(std::string_view, std::string_view room, std::string_view answer_id,
                         std::string_view text) const override {
    return envelope(
        "answer_end",
        json_object(64 + room.size() + text.size()).str("room", room).str("answer_id", answer_id).str("text", text).done(),
        room);
  }
  std::string pong(std::string_view) const override { return envelope("pong", "{}", {}); }
  std::string error(std::string_view, std::string_view code,
                    std::string_view message) const override {
    return envelope("error", json_object().str("code", code).str("message", message).done(), {});
  }
  std::string answer_error(std::string_view, std::string_view room, std::string_view code,
                           std::string_view message) const override {
    return envelope(
        "error",
        json_object().str("room", room).str("code", code).str("message", message).done(), room);
  }

 private:
  static std::string envelope(std::string_view event, std::string_view payload,
                              std::string_view room, std::string_view extra_key = {},
                              std::string_view extra_value = {}) {
    json_object j(64 + payload.size() + room.size());
    j.str("event", event).raw("payload", payload).str_or_null("room", room).num("ts", now_ms());
    if (!extra_key.empty()) j.str(extra_key, extra_value);
    return j.done();
  }

  std::string membership(std::string_view event, std::string_view room, bool ok,
                         std::string_view error) const {
    json_object payload;
    payload.str_or_null("room", room).boolean("ok", ok);
    if (!ok) payload.str("error", error);
    return envelope(event, payload.done(), room);
  }

  client_id_at cid_;
};

}  // namespace

std::unique_ptr<const dialect> make_dialect(dialect_kind kind, client_id_at cid) {
  if (kind == dialect_kind::rooms) return std::make_unique<rooms_dialect>(cid);
  return std::make_unique<standard_dialect>(cid);
}

std::string answer_text(std::string_view content) {
  std::string out = "Echo: ";
  out.append(content);
  return out;
}

std::vector<std::string> split_answer(std::string_view text, unsigned n) {
  if (n == 0) n = 1;
  std::vector<std::string> out;
  out.reserve(n);
  std::size_t start = 0;
  for (unsigned i = 1; i <= n; ++i) {
    std::size_t end = i == n ? text.size() : text.size() * i / n;
    if (end < start) end = start;
    // Back off to the start of a UTF-8 sequence.
    while (end > start && end < text.size() &&
           (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80)
      --end;
    out.emplace_back(text.substr(start, end - start));
    start = end;
  }
  return out;
}

std::size_t json_depth(std::string_view text) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '[':
      case '{':
        if (++depth > deepest) deepest = depth;
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default: break;
    }
  }
  return deepest;
}

}  // namespace chat_backend
