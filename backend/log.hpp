#pragma once
// The backend's log: the protocol's exact lines (text) or one JSON object per
// line (json). Shared by every thread; emitting a line takes one mutex so
// lines never interleave. Lives as long as the server.

#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "chat_backend.hpp"

namespace chat_backend {

class logger {
 public:
  logger(log_format format, std::function<void(std::string_view)> sink);

  void listening(std::string_view host, unsigned short port);
  void joined(std::string_view client_id, std::string_view chat_id, std::string_view tenant);
  void left(std::string_view client_id, std::string_view chat_id, std::string_view tenant);
  void auto_registered(std::string_view client_id, std::string_view chat_id,
                       std::string_view tenant);
  void no_clients(std::string_view chat_id, std::string_view tenant);
  // An answer withheld on purpose (--drop-answers) or replaced by an error (--error-answers).
  void answer_dropped(std::string_view chat_id, std::string_view tenant);
  void answer_failed(std::string_view chat_id, std::string_view tenant);
  void dropped(std::string_view client_id, std::string_view reason);
  void stopped();

 private:
  // fields: key/value pairs added to the JSON form only.
  void emit(std::string_view level, std::string_view event, const std::string& msg,
            std::initializer_list<std::pair<std::string_view, std::string_view>> fields);

  log_format format_;
  std::function<void(std::string_view)> sink_;
  std::mutex mutex_;
};

}  // namespace chat_backend
