#pragma once
// One client connection before (or instead of) a WebSocket upgrade: the TLS
// handshake, the HTTP request, then either a hand-over to ws_pair or plain
// HTTP reverse proxying over one kept-alive upstream connection.
// Owns itself and lives on one worker thread.
#include <boost/beast/http.hpp>
#include <memory>
#include <optional>
#include <string>

#include "proxy/flex_stream.hpp"
#include "proxy/worker.hpp"

namespace wsproxy {

class http_session : public std::enable_shared_from_this<http_session> {
public:
    http_session(worker& w, flex_stream stream, std::string remote);
    void start();

private:
    using request = boost::beast::http::request<boost::beast::http::string_body>;
    using response = boost::beast::http::response<boost::beast::http::string_body>;

    void do_read();
    void on_read(boost::beast::error_code ec);
    void upgrade();
    void route();
    void hold_for_joins(const std::string& chat, const std::string& session);
    void on_join_result(bool joined);
    void release_hold(bool timed_out);
    void forward();
    void send_upstream();
    void on_upstream_written(boost::beast::error_code ec);
    void on_upstream_response(boost::beast::error_code ec);
    void upstream_failed(boost::beast::error_code ec, std::string_view stage);
    void respond(boost::beast::http::status status, std::string body, bool keep_alive);
    void write_response();
    void close();

    worker& w_;
    flex_stream stream_;
    const std::string remote_;
    boost::beast::flat_buffer buf_;
    std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
    request req_;      // the client's request being served
    request out_;      // the same request as sent upstream
    std::optional<flex_stream> upstream_;
    boost::beast::flat_buffer upstream_buf_;
    std::optional<boost::beast::http::response_parser<boost::beast::http::string_body>> res_parser_;
    response res_;
    // A REST message held until its session's sockets are joined to its chat.
    std::string rest_chat_;
    std::size_t joins_pending_{0};
    bool any_joined_{false};
    std::optional<boost::asio::steady_timer> hold_timer_;
    bool upstream_reused_{false};
    bool retried_{false};
    bool keep_alive_{false};
};

}  // namespace wsproxy
