// The demo chat backend over real loopback sockets, in-process: the
// behaviour of protocol.md plus the backend's own additions (README).

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "chat_backend.hpp"
#include "ws_test_client.hpp"

namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace http = ws_test::http;

// A backend on 127.0.0.1:0 whose log lines the test can wait for.
struct backend {
  explicit backend(const std::function<void(chat_backend::options&)>& tweak = {}) {
    chat_backend::options o;
    o.port = 0;
    o.chunk_delay_ms = 1;
    o.log = log.sink();
    if (tweak) tweak(o);
    srv = std::make_unique<chat_backend::server>(o);
    srv->start();
  }
  unsigned short port() const { return srv->port(); }

  ws_test::line_log log;
  std::unique_ptr<chat_backend::server> srv;
};

// Connects and consumes the standard greeting; returns the client id.
std::string connect_ready(ws_test::client& c, unsigned short port,
                          const std::string& target = "/ws/chat?tenant_id=miptech-company") {
  REQUIRE_FALSE(c.connect(port, target));
  auto est = c.read_json();
  REQUIRE(est);
  REQUIRE((*est)["type"] == "connection_established");
  auto ready = c.read_until("connection_ready");
  REQUIRE(ready);
  return (*est)["data"].value("client_id", "");
}

void join(ws_test::client& c, const std::string& chat) {
  REQUIRE_FALSE(c.send_json({{"type", "join_chat"}, {"data", {{"chat_id", chat}}}}));
  auto j = c.read_until("chat_joined");
  REQUIRE(j);
  REQUIRE((*j)["data"]["success"] == true);
}

ws_test::http_result post_message(unsigned short port, const std::string& chat,
                                  const std::string& content) {
  return ws_test::http_request(port, http::verb::post, "/api/v1/chats/" + chat + "/messages",
                               json{{"content", content}}.dump());
}

// The next frame is the answer to a ping: nothing else was queued before it.
void expect_nothing_pending(ws_test::client& c) {
  REQUIRE_FALSE(c.send_json({{"type", "ping"}, {"data", json::object()}}));
  auto j = c.read_json();
  REQUIRE(j);
  CHECK((*j)["type"] == "pong");
}

struct answer {
  std::vector<json> frames;
  std::string chunks;  // concatenated response_chunk contents
};

// Reads one whole answer (typing_start .. typing_stop) and checks its shape.
answer read_answer(ws_test::client& c, const std::string& chat, const std::string& in_reply_to,
                   unsigned n_chunks) {
  answer a;
  for (unsigned i = 0; i < n_chunks + 4; ++i) {
    auto j = c.read_json();
    REQUIRE(j);
    a.frames.push_back(*j);
  }
  std::vector<std::string> types;
  for (auto& f : a.frames) types.push_back(f["type"]);
  std::vector<std::string> expected{"typing_start", "response_start"};
  for (unsigned i = 0; i < n_chunks; ++i) expected.push_back("response_chunk");
  expected.push_back("response_complete");
  expected.push_back("typing_stop");
  REQUIRE(types == expected);

  const std::string response_id = a.frames[1]["data"]["response_id"];
  CHECK(a.frames[1]["data"]["in_reply_to"] == in_reply_to);
  for (unsigned i = 0; i < n_chunks; ++i) {
    const auto& d = a.frames[2 + i]["data"];
    CHECK(d["index"] == i);
    CHECK(d["response_id"] == response_id);
    a.chunks += d["content"].get<std::string>();
  }
  CHECK(a.frames[2 + n_chunks]["data"]["response_id"] == response_id);
  CHECK(a.frames[2 + n_chunks]["data"]["content"] == a.chunks);
  for (auto& f : a.frames) {
    CHECK(f["chat_id"] == chat);
    CHECK(f["data"]["chat_id"] == chat);
  }
  return a;
}

// Bounded wait for a condition the server reaches asynchronously.
bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds limit = 5s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

}  // namespace

TEST_CASE("a new connection gets connection_established, three progress phases, then connection_ready",
          "[backend]") {
  backend b;
  ws_test::client c;
  REQUIRE_FALSE(c.connect(b.port(), "/ws/chat?tenant_id=acme"));
  std::vector<json> frames;
  for (int i = 0; i < 5; ++i) {
    auto j = c.read_json();
    REQUIRE(j);
    frames.push_back(*j);
  }
  CHECK(frames[0]["type"] == "connection_established");
  const std::string cid = frames[0]["data"]["client_id"];
  CHECK(cid.size() == 36);
  CHECK_FALSE(frames[0].contains("client_id"));
  CHECK(frames[0]["data"]["tenant_id"] == "acme");
  const char* phases[] = {"starting", "services", "complete"};
  for (int i = 0; i < 3; ++i) {
    CHECK(frames[1 + i]["type"] == "initialization_progress");
    CHECK(frames[1 + i]["data"]["phase"] == phases[i]);
  }
  CHECK(frames[3]["data"]["progress"] == 100);
  CHECK(frames[4]["type"] == "connection_ready");
  CHECK(frames[4]["data"]["client_id"] == cid);
  std::set<std::string> ids;
  for (auto& f : frames) {
    CHECK(f["chat_id"].is_null());
    CHECK(f["tenant_id"] == "acme");
    CHECK(f["event_ts"].is_number_integer());
    ids.insert(f["message_id"].get<std::string>());
  }
  CHECK(ids.size() == frames.size());
}

TEST_CASE("join_chat is answered with chat_joined and logs the join", "[backend]") {
  backend b;
  ws_test::client c;
  auto cid = connect_ready(c, b.port());
  REQUIRE_FALSE(c.send_json({{"type", "join_chat"}, {"data", {{"chat_id", "chat-1"}}}}));
  auto j = c.read_json();
  REQUIRE(j);
  CHECK((*j)["type"] == "chat_joined");
  CHECK((*j)["data"]["chat_id"] == "chat-1");
  CHECK((*j)["data"]["success"] == true);
  CHECK((*j)["chat_id"] == "chat-1");
  CHECK(b.log.count("Client " + cid + " joined chat chat-1") == 1);
  CHECK(b.srv->members("chat-1") == 1);
}

TEST_CASE("join_chat without a chat_id is refused with success false", "[backend]") {
  backend b;
  ws_test::client c;
  connect_ready(c, b.port());
  REQUIRE_FALSE(c.send_json({{"type", "join_chat"}, {"data", json::object()}}));
  auto j = c.read_json();
  REQUIRE(j);
  CHECK((*j)["type"] == "chat_joined");
  CHECK((*j)["data"]["success"] == false);
  CHECK((*j)["data"]["error"].is_string());
  CHECK(b.log.count("joined chat") == 0);
}

TEST_CASE("a chat in refuse_joins (--refuse-join) gets join_chat answered with success false", "[backend]") {
  backend b([](chat_backend::options& o) { o.refuse_joins = {"closed-chat"}; });
  ws_test::client c;
  connect_ready(c, b.port());
  REQUIRE_FALSE(c.send_json({{"type", "join_chat"}, {"data", {{"chat_id", "closed-chat"}}}}));
  auto j = c.read_json();
  REQUIRE(j);
  CHECK((*j)["type"] == "chat_joined");
  CHECK((*j)["data"]["chat_id"] == "closed-chat");
  CHECK((*j)["data"]["success"] == false);
  CHECK((*j)["data"]["error"] == "chat not found");
  CHECK(b.srv->members("closed-chat") == 0);
  // Other chats are joined as usual.
  REQUIRE_FALSE(c.send_json({{"type", "join_chat"}, {"data", {{"chat_id", "open-chat"}}}}));
  j = c.read_json();
  REQUIRE(j);
  CHECK((*j)["data"]["success"] == true);
  CHECK(b.srv->members("open-chat") == 1);
}

TEST_CASE("a REST message to a chat nobody joined logs No clients registered once and delivers nothing",
          "[backend]") {
  backend b;
  ws_test::client c;
  connect_ready(c, b.port());  // connected, but never joins
  auto r = post_message(b.port(), "lonely", "hi");
  REQUIRE_FALSE(r.ec);
  CHECK(r.res.result_int() == 202);
  CHECK(r.json()["message_id"].is_string());
  REQUIRE(b.log.wait_for("No clients registered for specific chat lonely"));
  CHECK(b.log.count("No clients registered") == 1);
  CHECK(b.srv->unregistered_broadcasts() == 1);
  expect_nothing_pending(c);
}

TEST_CASE("a REST message to a joined chat streams the whole answer in order", "[backend]") {
  backend b([](auto& o) { o.chunks = 4; });
  ws_test::client c;
  connect_ready(c, b.port());
  join(c, "chat-1");
  auto r = post_message(b.port(), "chat-1", "hello world, this is a test");
  REQUIRE(r.res.result_int() == 202);
  auto a = read_answer(c, "chat-1", r.json()["message_id"], 4);
  CHECK(a.chunks == "Echo: hello world, this is a test");
  CHECK(b.log.count("No clients registered") == 0);

  auto hist = ws_test::http_request(b.port(), http::verb::get, "/api/v1/chats/chat-1/messages");
  REQUIRE(hist.res.result_int() == 200);
  auto msgs = hist.json()["messages"];
  REQUIRE(msgs.size() == 2);
  CHECK(msgs[0]["role"] == "user");
  CHECK(msgs[1]["content"] == a.chunks);
}

TEST_CASE("chunks split no multi-byte character, escape what JSON needs and concatenate to the answer",
          "[backend]") {
  backend b([](auto& o) {
    o.chunks = 7;
    o.chunk_delay_ms = 0;
  });
  ws_test::client c;
  connect_ready(c, b.port());
  join(c, "u");
  const std::string content = "héllo \"wörld\" \\ \n\t\x01 ✓ 日本 😀";
  auto r = post_message(b.port(), "u", content);
  auto a = read_answer(c, "u", r.json()["message_id"], 7);
  CHECK(a.chunks == "Echo: " + content);
}

TEST_CASE("answers of one chat never reach a connection registered only for another", "[backend]") {
  backend b([](auto& o) { o.threads = 2; });
  ws_test::client a, c;
  connect_ready(a, b.port());
  connect_ready(c, b.port());
  join(a, "A");
  join(c, "B");
  auto r = post_message(b.port(), "A", "for A");
  read_answer(a, "A", r.json()["message_id"], 3);
  expect_nothing_pending(c);
  r = post_message(b.port(), "B", "for B");
  read_answer(c, "B", r.json()["message_id"], 3);
  expect_nothing_pending(a);
}

TEST_CASE("every connection registered for a chat gets its answers, on any thread", "[backend]") {
  backend b([](auto& o) { o.threads = 2; });
  ws_test::client c1, c2, c3;
  for (auto* c : {&c1, &c2, &c3}) {
    connect_ready(*c, b.port());
    join(*c, "shared");
  }
  auto r = post_message(b.port(), "shared", "to all");
  for (auto* c : {&c1, &c2, &c3}) read_answer(*c, "shared", r.json()["message_id"], 3);
}

TEST_CASE("send_message to an unjoined chat auto-registers the socket and answers it", "[backend]") {
  backend b;
  ws_test::client c;
  auto cid = connect_ready(c, b.port());
  REQUIRE_FALSE(
      c.send_json({{"type", "send_message"}, {"data", {{"chat_id", "x"}, {"content", "yo"}}}}));
  auto first = c.read_json();
  REQUIRE(first);
  CHECK((*first)["type"] == "typing_start");
  std::vector<json> rest;
  auto done = c.read_until("typing_stop", {}, &rest);
  REQUIRE(done);
  CHECK(b.log.count("Auto-registered client " + cid + " to chat x") == 1);
  CHECK(b.log.count("No clients registered") == 0);
  CHECK(b.srv->members("x") == 1);
  CHECK(b.srv->snapshot().auto_registrations == 1);
}

TEST_CASE("with auto-register off, send_message to an unjoined chat is discarded", "[backend]") {
  backend b([](auto& o) { o.auto_register = false; });
  ws_test::client c;
  connect_ready(c, b.port());
  REQUIRE_FALSE(
      c.send_json({{"type", "send_message"}, {"data", {{"chat_id", "x"}, {"content", "yo"}}}}));
  REQUIRE(b.log.wait_for("No clients registered for specific chat x"));
  CHECK(b.log.count("Auto-registered") == 0);
  CHECK(b.srv->unregistered_broadcasts() == 1);
  expect_nothing_pending(c);
}

TEST_CASE("client_id is placed in data, at top level, in both or nowhere as --client-id-at says",
          "[backend]") {
  using at = chat_backend::client_id_at;
  auto where = GENERATE(at::data, at::top, at::both, at::none);
  backend b([&](auto& o) { o.cid = where; });
  ws_test::client c;
  REQUIRE_FALSE(c.connect(b.port(), "/ws/chat"));
  auto est = c.read_json();
  REQUIRE(est);
  REQUIRE((*est)["type"] == "connection_established");
  bool in_data = (*est)["data"].contains("client_id");
  bool at_top = est->contains("client_id");
  CHECK(in_data == (where == at::data || where == at::both));
  CHECK(at_top == (where == at::top || where == at::both));
  if (in_data && at_top) CHECK((*est)["client_id"] == (*est)["data"]["client_id"]);
  CHECK((*est)["tenant_id"] == "miptech-company");
  auto ready = c.read_until("connection_ready");
  REQUIRE(ready);
  CHECK((*ready)["data"].contains("client_id") == (where != at::none));
}

TEST_CASE("frames that are not JSON objects of a known type get bad_request and the socket stays open",
          "[backend]") {
  backend b;
  ws_test::client c;
  connect_ready(c, b.port());
  const std::vector<std::string> bad_frames{"not json",          "[1,2]",
                                            "42",                R"({"type":"dance"})",
                                            R"({"data":{}})",    std::string(1000, '[')};
  for (const auto& bad : bad_frames) {
    REQUIRE_FALSE(c.send_text(bad));
    auto j = c.read_json();
    REQUIRE(j);
    CHECK((*j)["type"] == "error");
    CHECK((*j)["data"]["code"] == "bad_request");
  }
  REQUIRE_FALSE(c.send_binary("\x01\x02"));
  auto j = c.read_json();
  REQUIRE(j);
  CHECK((*j)["data"]["code"] == "bad_request");
  expect_nothing_pending(c);
  CHECK(b.srv->snapshot().bad_requests == 7);
}

TEST_CASE("leave_chat answers chat_left, logs it and stops delivery", "[backend]") {
  backend b;
  ws_test::client c;
  auto cid = connect_ready(c, b.port());
  join(c, "L");
  REQUIRE_FALSE(c.send_json({{"type", "leave_chat"}, {"data", {{"chat_id", "L"}}}}));
  auto j = c.read_json();
  REQUIRE(j);
  CHECK((*j)["type"] == "chat_left");
  CHECK((*j)["data"]["success"] == true);
  CHECK(b.log.count("Client " + cid + " left chat L") == 1);
  post_message(b.port(), "L", "gone");
  REQUIRE(b.log.wait_for("No clients registered for specific chat L"));
  expect_nothing_pending(c);
}

TEST_CASE("closing a connection removes its registrations", "[backend]") {
  backend b;
  {
    ws_test::client c;
    connect_ready(c, b.port());
    join(c, "a");
    join(c, "b");
    CHECK(b.srv->members("a") == 1);
    c.close();
  }
  CHECK(eventually([&] { return b.srv->members("a") == 0 && b.srv->members("b") == 0; }));
  CHECK(eventually([&] { return b.srv->snapshot().connections_open == 0; }));
}

TEST_CASE("the first offered subprotocol is echoed and permessage-deflate is negotiated",
          "[backend]") {
  backend b;
  ws_test::client c;
  ws_test::connect_options opt;
  opt.subprotocol = "chat.v2, chat.v1";
  opt.permessage_deflate = true;
  REQUIRE_FALSE(c.connect(b.port(), "/any/path/at/all", opt));
  const auto& res = c.handshake_response();
  CHECK(res[http::field::sec_websocket_protocol] == "chat.v2");
  CHECK(std::string(res[http::field::sec_websocket_extensions]).find("permessage-deflate") !=
        std::string::npos);
  auto est = c.read_json();
  REQUIRE(est);
  CHECK((*est)["type"] == "connection_established");
}

TEST_CASE("with --no-permessage-deflate and no subprotocol offered, neither is in the handshake",
          "[backend]") {
  backend b([](auto& o) { o.permessage_deflate = false; });
  ws_test::client c;
  ws_test::connect_options opt;
  opt.permessage_deflate = true;
  REQUIRE_FALSE(c.connect(b.port(), "/ws/chat", opt));
  CHECK(c.handshake_response().count(http::field::sec_websocket_protocol) == 0);
  CHECK(c.handshake_response().count(http::field::sec_websocket_extensions) == 0);
}

TEST_CASE("a message over --max-message-bytes closes the socket with 1009", "[backend]") {
  backend b([](auto& o) { o.max_message_bytes = 1024; });
  ws_test::client c;
  connect_ready(c, b.port());
  c.send_text(std::string(4096, 'x'));
  while (c.read_text()) {
  }
  CHECK_FALSE(c.is_open());
  CHECK(c.close_reason().code == ws_test::websocket::close_code::too_big);
}

TEST_CASE("the REST API creates chats, reports health and answers errors in JSON", "[backend]") {
  backend b;
  auto created = ws_test::http_request(b.port(), http::verb::post, "/api/v1/chats");
  REQUIRE_FALSE(created.ec);
  CHECK(created.res.result_int() == 201);
  CHECK(created.json()["chat_id"].get<std::string>().size() == 36);

  auto health = ws_test::http_request(b.port(), http::verb::get, "/healthz");
  CHECK(health.res.result_int() == 200);
  CHECK(health.res.body() == "ok");

  auto missing = ws_test::http_request(b.port(), http::verb::get, "/nope");
  CHECK(missing.res.result_int() == 404);
  CHECK(missing.json()["error"] == "not_found");

  auto bad = ws_test::http_request(b.port(), http::verb::post, "/api/v1/chats/c/messages", "{oops");
  CHECK(bad.res.result_int() == 400);
  CHECK(bad.json()["error"] == "bad_request");

  auto no_content =
      ws_test::http_request(b.port(), http::verb::post, "/api/v1/chats/c/messages", "{}");
  CHECK(no_content.res.result_int() == 400);

  auto empty = ws_test::http_request(b.port(), http::verb::get, "/api/v1/chats/none/messages");
  CHECK(empty.res.result_int() == 200);
  CHECK(empty.json()["messages"].empty());
  CHECK(b.log.count("No clients registered") == 0);
}

TEST_CASE("the REST API keeps the connection alive between requests", "[backend]") {
  backend b;
  ws_test::net::io_context ioc;
  ws_test::beast::tcp_stream s(ioc);
  s.connect(ws_test::tcp::endpoint(ws_test::net::ip::make_address("127.0.0.1"), b.port()));
  s.expires_after(5s);
  for (int i = 0; i < 3; ++i) {
    http::request<http::string_body> req(http::verb::get, "/healthz", 11);
    req.set(http::field::host, "127.0.0.1");
    http::write(s, req);
    ws_test::beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(s, buf, res);
    CHECK(res.result_int() == 200);
    CHECK(res.keep_alive());
  }
}

TEST_CASE("REST messages name their tenant and reach only that tenant's sockets", "[backend]") {
  backend b;
  ws_test::client acme, other;
  connect_ready(acme, b.port(), "/ws/chat?tenant_id=acme");
  connect_ready(other, b.port(), "/ws/chat");  // default tenant
  join(acme, "same-id");
  join(other, "same-id");
  auto r = ws_test::http_request(b.port(), http::verb::post,
                                 "/api/v1/chats/same-id/messages?tenant_id=acme",
                                 R"({"content":"t"})");
  REQUIRE(r.res.result_int() == 202);
  auto first = acme.read_json();
  REQUIRE(first);
  CHECK((*first)["tenant_id"] == "acme");
  REQUIRE(acme.read_until("typing_stop"));
  expect_nothing_pending(other);
}

TEST_CASE("json log format writes one object per line whose msg is the text line", "[backend]") {
  backend b([](auto& o) { o.format = chat_backend::log_format::json; });
  post_message(b.port(), "j", "x");
  REQUIRE(b.log.wait_for("No clients registered for specific chat j"));
  for (const auto& line : b.log.lines()) {
    auto j = json::parse(line, nullptr, false);
    REQUIRE(j.is_object());
    CHECK(j.contains("ts"));
    CHECK(j.contains("level"));
    if (j["event"] == "no_clients_registered") {
      CHECK(j["msg"] == "No clients registered for specific chat j");
      CHECK(j["chat_id"] == "j");
    }
  }
}

TEST_CASE("the rooms dialect speaks the same protocol under other names", "[backend]") {
  backend b([](auto& o) {
    o.dialect = chat_backend::dialect_kind::rooms;
    o.chunks = 2;
  });
  ws_test::client c;
  REQUIRE_FALSE(c.connect(b.port(), "/rt/rooms/r1"));
  auto hello = c.read_json();
  REQUIRE(hello);
  CHECK((*hello)["event"] == "hello");
  const std::string sid = (*hello)["payload"]["session_id"];
  CHECK((*hello)["room"].is_null());
  CHECK((*hello)["ts"].is_number_integer());
  auto ready = c.read_json();
  REQUIRE(ready);
  CHECK((*ready)["event"] == "ready");
  CHECK((*ready)["payload"]["session_id"] == sid);

  // The room in the URL is not joined by itself.
  post_message(b.port(), "r1", "nobody");
  REQUIRE(b.log.wait_for("No clients registered for specific chat r1"));

  REQUIRE_FALSE(c.send_json({{"event", "subscribe"}, {"payload", {{"room", "r1"}}}}));
  auto sub = c.read_json();
  REQUIRE(sub);
  CHECK((*sub)["event"] == "subscribed");
  CHECK((*sub)["payload"]["ok"] == true);
  CHECK((*sub)["room"] == "r1");
  CHECK(b.log.count("Client " + sid + " joined chat r1") == 1);

  auto r = post_message(b.port(), "r1", "hey");
  std::vector<json> frames;
  auto end = c.read_until("answer_end", {}, &frames, "event");
  REQUIRE(end);
  CHECK((*end)["payload"]["text"] == "Echo: hey");
  std::string text;
  std::vector<std::string> events;
  for (auto& f : frames) {
    events.push_back(f["event"]);
    if (f["event"] == "answer_delta") text += f["payload"]["text"].get<std::string>();
    if (f["event"] == "answer_start") CHECK(f["payload"]["in_reply_to"] == r.json()["message_id"]);
  }
  CHECK(events == std::vector<std::string>{"typing", "answer_start", "answer_delta", "answer_delta"});
  CHECK(text == "Echo: hey");
  auto stop = c.read_json();
  REQUIRE(stop);
  CHECK((*stop)["event"] == "typing");
  CHECK((*stop)["payload"]["on"] == false);

  REQUIRE_FALSE(c.send_json({{"event", "ping"}}));
  auto pong = c.read_json();
  REQUIRE(pong);
  CHECK((*pong)["event"] == "pong");

  REQUIRE_FALSE(c.send_json({{"event", "post"}, {"payload", {{"room", "r2"}, {"text", "auto"}}}}));
  REQUIRE(c.read_until("answer_end", {}, nullptr, "event"));
  CHECK(b.log.count("Auto-registered client " + sid + " to chat r2") == 1);

  REQUIRE_FALSE(c.send_json({{"event", "unsubscribe"}, {"payload", {{"room", "r1"}}}}));
  auto unsub = c.read_until("unsubscribed", {}, nullptr, "event");
  REQUIRE(unsub);
  CHECK((*unsub)["payload"]["ok"] == true);
  CHECK(b.log.count("Client " + sid + " left chat r1") == 1);

  REQUIRE_FALSE(c.send_json({{"type", "join_chat"}}));
  auto err = c.read_json();
  REQUIRE(err);
  CHECK((*err)["event"] == "error");
  CHECK((*err)["payload"]["code"] == "bad_request");
}

TEST_CASE("start reports a busy port through its error code", "[backend]") {
  backend first;
  chat_backend::options o;
  o.port = first.port();
  o.log = [](std::string_view) {};
  chat_backend::server second(o);
  std::error_code ec;
  CHECK_FALSE(second.start(ec));
  CHECK(ec);
}

TEST_CASE("a socket whose send queue exceeds --max-queue-bytes is closed with 1008 and logged",
          "[backend]") {
  backend b([](auto& o) { o.max_queue_bytes = 4096; });
  ws_test::client c;
  auto cid = connect_ready(c, b.port());
  join(c, "big");
  post_message(b.port(), "big", std::string(5000, 'x'));
  while (c.read_text()) {
  }
  CHECK_FALSE(c.is_open());
  CHECK(c.close_reason().code == ws_test::websocket::close_code::policy_error);
  CHECK(b.log.count("Dropped client " + cid) == 1);
  CHECK(eventually([&] { return b.srv->members("big") == 0; }));
}
