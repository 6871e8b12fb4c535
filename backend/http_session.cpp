#include "http_session.hpp"

#include <chrono>
#include <optional>

#include <boost/asio/dispatch.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "answer.hpp"
#include "rest.hpp"
#include "ws_session.hpp"

namespace chat_backend {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using error_code = boost::system::error_code;

namespace {

constexpr auto idle_timeout = std::chrono::seconds(60);

// One HTTP/1.1 connection until it upgrades or closes. Lives on the socket's
// io_context thread, owned by its pending operation.
class http_session : public std::enable_shared_from_this<http_session> {
 public:
  http_session(std::shared_ptr<shared_state> st, net::ip::tcp::socket&& socket)
      : st_(std::move(st)), stream_(std::move(socket)) {}

  void run() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->do_read(); });
  }

 private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(st_->opts.max_message_bytes);
    stream_.expires_after(idle_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](error_code ec, std::size_t n) {
                       self->on_read(ec, n);
                     });
  }

  void on_read(error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream) {
      stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
      return;
    }
    if (ec == http::error::body_limit) {
      write_error(http::status::payload_too_large, "request body over --max-message-bytes");
      return;
    }
    if (ec) {
      if (ec != beast::error::timeout && ec != net::error::operation_aborted &&
          ec != net::error::eof && ec != net::error::connection_reset && !parser_->is_header_done())
        write_error(http::status::bad_request, "malformed HTTP request");
      return;
    }
    if (beast::websocket::is_upgrade(parser_->get())) {
      stream_.expires_never();
      // Bytes a client pipelines behind its upgrade request are not carried
      // over (clients wait for the 101 before sending frames).
      run_ws_session(st_, std::move(stream_), parser_->release());
      return;
    }
    serve(parser_->release());
  }

  void serve(http::request<http::string_body> req) {
    counters::add(st_->count.http_requests);
    rest_request rr;
    rr.method = req.method_string();
    rr.target = req.target();
    rr.body = req.body();
    if (auto it = req.find("X-Tenant-ID"); it != req.end()) rr.tenant_header = it->value();
    auto ex = stream_.get_executor();
    auto st = st_;
    rest_response out = handle_rest(
        *st_, rr,
        [st, ex](std::string tenant, std::string chat, std::string message_id,
                 std::string content) {
          start_answer(st, ex, std::move(tenant), std::move(chat), std::move(message_id),
                       std::move(content));
        });

    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(out.status), req.version());
    res->set(http::field::server, "chat-backend");
    res->set(http::field::content_type, out.content_type);
    if (!out.allow.empty()) res->set(http::field::allow, out.allow);
    res->keep_alive(req.keep_alive());
    if (req.method() != http::verb::head) res->body() = std::move(out.body);
    res->prepare_payload();
    write(std::move(res));
  }

  void write_error(http::status status, std::string_view message) {
    auto res = std::make_shared<http::response<http::string_body>>(status, 11);
    res->set(http::field::server, "chat-backend");
    res->set(http::field::content_type, "application/json");
    res->keep_alive(false);
    res->body() = std::string(R"({"error":")") +
                  (status == http::status::payload_too_large ? "payload_too_large" : "bad_request") +
                  R"(","message":")" + std::string(message) + "\"}";
    res->prepare_payload();
    write(std::move(res));
  }

  void write(std::shared_ptr<http::response<http::string_body>> res) {
    stream_.expires_after(idle_timeout);
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](error_code ec, std::size_t) {
                        self->on_write(ec, res->need_eof());
                      });
  }

  void on_write(error_code ec, bool close) {
    if (ec) return;
    if (close) {
      stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
      return;
    }
    do_read();
  }

  std::shared_ptr<shared_state> st_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

}  // namespace

void run_http_session(std::shared_ptr<shared_state> st, net::ip::tcp::socket socket) {
  std::make_shared<http_session>(std::move(st), std::move(socket))->run();
}

}  // namespace chat_backend
