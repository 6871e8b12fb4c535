#pragma once
// The REST API, without I/O: one request in, one response out. The HTTP
// session (http_session.cpp) does the socket work and calls this on its own
// thread. A message post hands the answer to `start` (which streams it).

#include <functional>
#include <string>
#include <string_view>

#include "state.hpp"

namespace chat_backend {

struct rest_request {
  std::string_view method;  // "GET", "POST", ...
  std::string_view target;  // origin-form: path and query
  std::string_view body;
  std::string_view tenant_header;  // X-Tenant-ID, may be empty
};

struct rest_response {
  unsigned status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::string allow;  // for 405
};

// start(tenant, chat_id, message_id, content): begin the answer to a stored post.
using answer_starter =
    std::function<void(std::string, std::string, std::string, std::string)>;

rest_response handle_rest(shared_state& st, const rest_request& req, const answer_starter& start);

// The tenant named by a target's tenant_id query parameter, or empty.
std::string tenant_from_target(std::string_view target);

}  // namespace chat_backend
