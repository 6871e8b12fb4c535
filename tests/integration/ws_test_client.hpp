#pragma once
// Small blocking-with-deadlines clients for integration tests: a WebSocket
// client, a one-shot HTTP request, and a log capture. Every call is bounded
// by a timeout, so a hang fails the test instead of freezing CI; nothing
// sleeps. Each client owns a private io_context that runs only inside its own
// calls, on the calling thread: use one client from one thread.
//
// Plain ws:// only (TLS tests wrap their own stream).

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

namespace ws_test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using namespace std::chrono_literals;
using headers = std::vector<std::pair<std::string, std::string>>;

struct connect_options {
  std::string host = "127.0.0.1";
  headers extra_headers;                  // added to the upgrade request
  std::optional<std::string> subprotocol; // Sec-WebSocket-Protocol offer, e.g. "chat, v2"
  bool permessage_deflate = false;        // offer permessage-deflate
  std::size_t read_message_max = 64u << 20;
};

class client {
 public:
  explicit client(std::chrono::milliseconds timeout = 5s) : timeout_(timeout), ws_(ioc_) {}

  ~client() {
    error_code ec;
    beast::get_lowest_layer(ws_).socket().close(ec);
    ioc_.restart();
    ioc_.run_for(1s);  // let aborted operations finish while members still exist
  }

  client(const client&) = delete;
  client& operator=(const client&) = delete;

  // TCP connect and WebSocket handshake to host:port/target. On failure the
  // error is returned; a rejected upgrade's response is still in handshake_response().
  error_code connect(unsigned short port, const std::string& target,
                     const connect_options& opt = {}) {
    auto deadline = std::chrono::steady_clock::now() + timeout_;
    error_code ec;
    tcp::resolver resolver(ioc_);
    auto results = resolver.resolve(opt.host, std::to_string(port), ec);
    if (ec) return fail(ec);

    bool done = false;
    beast::get_lowest_layer(ws_).async_connect(results, [&](error_code e, const tcp::endpoint&) {
      ec = e;
      done = true;
    });
    if (!run_until([&] { return done; }, deadline)) return fail(beast::error::timeout);
    if (ec) return fail(ec);
    beast::get_lowest_layer(ws_).socket().set_option(tcp::no_delay(true), ec);

    if (opt.permessage_deflate) {
      websocket::permessage_deflate pmd;
      pmd.client_enable = true;
      ws_.set_option(pmd);
    }
    ws_.read_message_max(opt.read_message_max);
    auto extra = opt.extra_headers;
    auto proto = opt.subprotocol;
    ws_.set_option(websocket::stream_base::decorator([extra, proto](websocket::request_type& req) {
      for (const auto& [k, v] : extra) req.set(k, v);
      if (proto) req.set(http::field::sec_websocket_protocol, *proto);
    }));
    done = false;
    std::string host_header = opt.host + ":" + std::to_string(port);
    ws_.async_handshake(handshake_res_, host_header, target, [&](error_code e) {
      ec = e;
      done = true;
    });
    if (!run_until([&] { return done; }, deadline)) return fail(beast::error::timeout);
    if (ec) return fail(ec);
    open_ = true;
    return {};
  }

  const websocket::response_type& handshake_response() const { return handshake_res_; }

  error_code send_text(std::string_view text) { return write(text, true); }
  error_code send_binary(std::string_view bytes) { return write(bytes, false); }
  error_code send_json(const nlohmann::json& j) { return write(j.dump(), true); }

  // The next message (text or binary), or nullopt on timeout or when the
  // connection is over (then last_error() says why, close_reason() what the peer sent).
  std::optional<std::string> read_text(std::optional<std::chrono::milliseconds> timeout = {}) {
    auto deadline = std::chrono::steady_clock::now() + timeout.value_or(timeout_);
    if (inbox_.empty() && open_) {
      start_read();
      run_until([&] { return !inbox_.empty() || !open_; }, deadline);
    }
    if (inbox_.empty()) return std::nullopt;
    auto msg = std::move(inbox_.front());
    inbox_.pop_front();
    return msg;
  }

  // The next message parsed as JSON (a discarded value when it is not JSON).
  std::optional<nlohmann::json> read_json(std::optional<std::chrono::milliseconds> timeout = {}) {
    auto text = read_text(timeout);
    if (!text) return std::nullopt;
    return nlohmann::json::parse(*text, nullptr, false);
  }

  // Reads until a JSON object whose `key` field equals value; frames passed
  // over are appended to skipped when given. nullopt on timeout/close.
  std::optional<nlohmann::json> read_until(std::string_view value,
                                           std::optional<std::chrono::milliseconds> timeout = {},
                                           std::vector<nlohmann::json>* skipped = nullptr,
                                           const std::string& key = "type") {
    auto deadline = std::chrono::steady_clock::now() + timeout.value_or(timeout_);
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left <= 0ms) return std::nullopt;
      auto j = read_json(left);
      if (!j) return std::nullopt;
      if (j->is_object() && j->contains(key) && (*j)[key] == value) return j;
      if (skipped) skipped->push_back(std::move(*j));
    }
  }

  // Close handshake with code (and reason); waits (bounded) for the peer's close frame.
  error_code close(websocket::close_code code = websocket::close_code::normal,
                   std::string_view reason = {}) {
    if (!open_) return last_error_;
    auto deadline = std::chrono::steady_clock::now() + timeout_;
    bool done = false;
    error_code ec;
    ws_.async_close(websocket::close_reason(code, reason), [&](error_code e) {
      ec = e;
      done = true;
    });
    if (!run_until([&] { return done && !reading_; }, deadline)) ec = beast::error::timeout;
    open_ = false;
    return ec;
  }

  bool is_open() const { return open_; }
  error_code last_error() const { return last_error_; }
  websocket::close_reason close_reason() const { return ws_.reason(); }
  websocket::stream<beast::tcp_stream>& stream() { return ws_; }

 private:
  template <class Done>
  bool run_until(Done done, std::chrono::steady_clock::time_point deadline) {
    while (!done()) {
      if (ioc_.stopped()) ioc_.restart();
      if (ioc_.run_one_until(deadline) == 0) {
        if (std::chrono::steady_clock::now() >= deadline) return done();
        if (ioc_.stopped() && !done()) {
          ioc_.restart();
          if (ioc_.poll() == 0) return done();  // no work left: it cannot happen
        }
      }
    }
    return true;
  }

  // One read stays pending across calls, so a timed-out read_text loses nothing.
  void start_read() {
    if (reading_ || !open_) return;
    reading_ = true;
    ws_.async_read(rbuf_, [this](error_code ec, std::size_t) {
      reading_ = false;
      if (ec) {
        last_error_ = ec;
        open_ = false;
        return;
      }
      inbox_.push_back(beast::buffers_to_string(rbuf_.data()));
      rbuf_.consume(rbuf_.size());
    });
  }

  error_code write(std::string_view data, bool text) {
    if (!open_) return last_error_ ? last_error_ : net::error::not_connected;
    auto deadline = std::chrono::steady_clock::now() + timeout_;
    wbuf_.assign(data);
    ws_.text(text);
    bool done = false;
    error_code ec;
    ws_.async_write(net::buffer(wbuf_), [&](error_code e, std::size_t) {
      ec = e;
      done = true;
    });
    if (!run_until([&] { return done; }, deadline)) {
      // The write cannot be abandoned safely while it references locals.
      beast::get_lowest_layer(ws_).socket().close(ec);
      run_until([&] { return done; }, std::chrono::steady_clock::now() + 1s);
      open_ = false;
      return last_error_ = beast::error::timeout;
    }
    if (ec) last_error_ = ec;
    return ec;
  }

  error_code fail(error_code ec) {
    error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
    ioc_.restart();
    ioc_.run_for(1s);
    last_error_ = ec;
    return ec;
  }

  std::chrono::milliseconds timeout_;
  net::io_context ioc_;
  websocket::stream<beast::tcp_stream> ws_;
  websocket::response_type handshake_res_;
  beast::flat_buffer rbuf_;
  std::string wbuf_;
  std::deque<std::string> inbox_;
  error_code last_error_;
  bool open_ = false;
  bool reading_ = false;
};

struct http_result {
  error_code ec;
  http::response<http::string_body> res;
  nlohmann::json json() const { return nlohmann::json::parse(res.body(), nullptr, false); }
};

// One HTTP/1.1 request on a fresh connection, bounded by timeout.
inline http_result http_request(unsigned short port, http::verb method, const std::string& target,
                                std::string body = {}, const headers& extra = {},
                                std::chrono::milliseconds timeout = 5s,
                                const std::string& host = "127.0.0.1") {
  http_result out;
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  http::request<http::string_body> req(method, target, 11);
  req.set(http::field::host, host + ":" + std::to_string(port));
  for (const auto& [k, v] : extra) req.set(k, v);
  if (!body.empty() || method == http::verb::post || method == http::verb::put) {
    req.set(http::field::content_type, "application/json");
    req.body() = std::move(body);
  }
  req.prepare_payload();
  beast::flat_buffer buffer;
  tcp::resolver resolver(ioc);
  auto results = resolver.resolve(host, std::to_string(port), out.ec);
  if (out.ec) return out;
  stream.expires_after(timeout);
  stream.async_connect(results, [&](error_code ec, const tcp::endpoint&) {
    if (ec) {
      out.ec = ec;
      return;
    }
    http::async_write(stream, req, [&](error_code ec, std::size_t) {
      if (ec) {
        out.ec = ec;
        return;
      }
      http::async_read(stream, buffer, out.res, [&](error_code ec, std::size_t) { out.ec = ec; });
    });
  });
  ioc.run();  // bounded by the stream's deadline
  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  return out;
}

// Collects log lines from any thread and lets a test wait for one.
class line_log {
 public:
  // A sink for chat_backend::options::log (or any std::function<void(string_view)>).
  std::function<void(std::string_view)> sink() {
    return [this](std::string_view line) {
      {
        std::lock_guard lock(mutex_);
        lines_.emplace_back(line);
      }
      cv_.notify_all();
    };
  }

  // Waits until at least n lines contain needle; true when they do.
  bool wait_for(std::string_view needle, std::chrono::milliseconds timeout = 5s,
                std::size_t n = 1) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return count_locked(needle) >= n; });
  }

  std::size_t count(std::string_view needle) const {
    std::lock_guard lock(mutex_);
    return count_locked(needle);
  }

  std::vector<std::string> lines() const {
    std::lock_guard lock(mutex_);
    return lines_;
  }

 private:
  std::size_t count_locked(std::string_view needle) const {
    std::size_t n = 0;
    for (const auto& l : lines_)
      if (l.find(needle) != std::string::npos) ++n;
    return n;
  }

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
};

}  // namespace ws_test
