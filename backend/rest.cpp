#include "rest.hpp"

#include <vector>

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <nlohmann/json.hpp>

#include "ids.hpp"

namespace chat_backend {

namespace {

using json = nlohmann::json;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

rest_response error_response(unsigned status, std::string_view code, std::string_view message) {
  rest_response r;
  r.status = status;
  r.body = dump({{"error", code}, {"message", message}});
  return r;
}

rest_response method_not_allowed(std::string allow) {
  auto r = error_response(405, "method_not_allowed", "method not allowed on this path");
  r.allow = std::move(allow);
  return r;
}

}  // namespace

std::string tenant_from_target(std::string_view target) {
  auto u = boost::urls::parse_origin_form(target);
  if (!u) return {};
  auto params = u->params();
  auto it = params.find("tenant_id");
  if (it == params.end() || !(*it).has_value) return {};
  return std::string((*it).value);
}

rest_response handle_rest(shared_state& st, const rest_request& req, const answer_starter& start) {
  auto u = boost::urls::parse_origin_form(req.target);
  if (!u) return error_response(400, "bad_request", "malformed request target");

  std::vector<std::string> seg;
  for (auto s : u->segments()) seg.push_back(s);
  while (!seg.empty() && seg.back().empty()) seg.pop_back();  // tolerate a trailing slash

  std::string tenant = tenant_from_target(req.target);
  if (tenant.empty()) tenant = std::string(req.tenant_header);
  if (tenant.empty()) tenant = st.opts.tenant;

  if (seg.size() == 1 && seg[0] == "healthz") {
    if (req.method != "GET" && req.method != "HEAD") return method_not_allowed("GET, HEAD");
    rest_response r;
    r.body = "ok";
    r.content_type = "text/plain";
    return r;
  }

  const bool api = seg.size() >= 3 && seg[0] == "api" && seg[1] == "v1" && seg[2] == "chats";
  if (api && seg.size() == 3) {
    if (req.method != "POST") return method_not_allowed("POST");
    rest_response r;
    r.status = 201;
    r.body = dump({{"chat_id", st.history.create_chat(tenant)}});
    return r;
  }
  if (api && seg.size() == 5 && seg[4] == "messages" && !seg[3].empty()) {
    const std::string& chat_id = seg[3];
    if (req.method == "GET") {
      rest_response r;
      r.body = st.history.history_json(tenant, chat_id);
      return r;
    }
    if (req.method != "POST") return method_not_allowed("GET, POST");
    if (json_depth(req.body) > 64) return error_response(400, "bad_request", "JSON nested too deeply");
    json j = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return error_response(400, "bad_request", "body is not valid JSON");
    if (!j.is_object()) return error_response(400, "bad_request", "body is not a JSON object");
    auto c = j.find("content");
    if (c == j.end() || !c->is_string())
      return error_response(400, "bad_request", "body needs \"content\" (a string)");
    std::string message_id = make_uuid();
    rest_response r;
    r.status = 202;
    r.body = dump({{"message_id", message_id}, {"chat_id", chat_id}});
    start(std::move(tenant), chat_id, std::move(message_id), c->get<std::string>());
    return r;
  }
  return error_response(404, "not_found", "no such endpoint");
}

}  // namespace chat_backend
