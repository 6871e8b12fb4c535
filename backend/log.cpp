#include "log.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

#include "ids.hpp"

namespace chat_backend {

namespace {

std::string iso_now() {
  std::int64_t ms = now_ms();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

std::string cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (auto p : parts) out.append(p);
  return out;
}

}  // namespace

logger::logger(log_format format, std::function<void(std::string_view)> sink)
    : format_(format), sink_(std::move(sink)) {
  if (!sink_) {
    sink_ = [](std::string_view line) {
      std::fwrite(line.data(), 1, line.size(), stdout);
      std::fputc('\n', stdout);
      std::fflush(stdout);
    };
  }
}

void logger::emit(std::string_view level, std::string_view event, const std::string& msg,
                  std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
  std::string line;
  if (format_ == log_format::text) {
    line = msg;
  } else {
    nlohmann::ordered_json j;
    j["ts"] = iso_now();
    j["level"] = level;
    j["msg"] = msg;
    j["event"] = event;
    for (auto& [k, v] : fields) j[std::string(k)] = v;
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  std::lock_guard lock(mutex_);
  sink_(line);
}

void logger::listening(std::string_view host, unsigned short port) {
  auto p = std::to_string(port);
  bool v6 = host.find(':') != std::string_view::npos;
  emit("info", "listening",
       cat({"Listening on ", v6 ? "[" : "", host, v6 ? "]" : "", ":", p}),
       {{"host", host}, {"port", p}});
}

void logger::joined(std::string_view client_id, std::string_view chat_id,
                    std::string_view tenant) {
  emit("info", "client_joined", cat({"Client ", client_id, " joined chat ", chat_id}),
       {{"client_id", client_id}, {"chat_id", chat_id}, {"tenant_id", tenant}});
}

void logger::left(std::string_view client_id, std::string_view chat_id, std::string_view tenant) {
  emit("info", "client_left", cat({"Client ", client_id, " left chat ", chat_id}),
       {{"client_id", client_id}, {"chat_id", chat_id}, {"tenant_id", tenant}});
}

void logger::auto_registered(std::string_view client_id, std::string_view chat_id,
                             std::string_view tenant) {
  emit("info", "auto_registered",
       cat({"Auto-registered client ", client_id, " to chat ", chat_id}),
       {{"client_id", client_id}, {"chat_id", chat_id}, {"tenant_id", tenant}});
}

void logger::no_clients(std::string_view chat_id, std::string_view tenant) {
  emit("warning", "no_clients_registered",
       cat({"No clients registered for specific chat ", chat_id}),
       {{"chat_id", chat_id}, {"tenant_id", tenant}});
}

void logger::answer_dropped(std::string_view chat_id, std::string_view tenant) {
  emit("warning", "answer_dropped", cat({"Dropped the answer for chat ", chat_id}),
       {{"chat_id", chat_id}, {"tenant_id", tenant}});
}

void logger::answer_failed(std::string_view chat_id, std::string_view tenant) {
  emit("error", "answer_failed", cat({"Answer failed for chat ", chat_id}),
       {{"chat_id", chat_id}, {"tenant_id", tenant}});
}

void logger::dropped(std::string_view client_id, std::string_view reason) {
  emit("warning", "client_dropped", cat({"Dropped client ", client_id, ": ", reason}),
       {{"client_id", client_id}, {"reason", reason}});
}

void logger::stopped() { emit("info", "stopped", "Stopped", {}); }

}  // namespace chat_backend
