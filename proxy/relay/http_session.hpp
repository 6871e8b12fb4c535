#pragma once
// One client connection before (or instead of) a WebSocket upgrade: the TLS
// handshake, the HTTP request, then either a hand-over to ws_pair or plain
// HTTP reverse proxying over one kept-alive upstream connection.
// Owns itself and lives on one worker thread.
//
// One request at a time, in order: a pipelined request waits in buf_ until the
// response before it is written, so a response can only ever reach its own request.
//
//   state          | event                                  | next
//   ---------------+----------------------------------------+------------------------------
//   idle           | bytes arrive                           | reading head
//   idle           | drain                                  | closed at once
//   reading head   | head parsed and checked (message_checks)| upgrade (ws_pair owns it), or
//                  |                                        | reading body (100 Continue first
//                  |                                        | when the client expects it)
//   reading head   | head refused                           | 400/405/431/501, lingering close
//   reading body   | body complete                          | holding (REST join) or upstream
//   holding        | every join answered, refused or timed  | upstream
//                  | out (answers keyed by hold id)         |
//   upstream       | 1xx (not 101)                          | relayed to an HTTP/1.1 client,
//                  |                                        | upstream again
//   upstream       | final response                         | writing
//   upstream       | reused connection failed before any    | upstream on a new connection,
//                  | response byte, idempotent method       | once; otherwise 502
//   writing        | written, keep-alive and not draining   | idle
//   writing        | written, otherwise                     | closed
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "proxy/net/flex_stream.hpp"
#include "proxy/relay/worker.hpp"

namespace wsproxy {

class http_session : public std::enable_shared_from_this<http_session> {
public:
    // `over_capacity`: the connection came past --max-connections; it is answered 503
    // and closed, and holds no connection slot.
    http_session(worker& w, flex_stream stream, std::string remote, bool over_capacity);
    ~http_session();
    void start();

    // Drain: an idle keep-alive connection closes now; a busy one after its response.
    void drain();
    // The drain timeout passed: close whatever the state.
    void abort();

private:
    using request = boost::beast::http::request<boost::beast::http::string_body>;
    using response = boost::beast::http::response<boost::beast::http::string_body>;

    void do_read();
    void read_head();
    void on_head();
    void read_body();
    void on_read_error(boost::beast::error_code ec);
    void refuse(unsigned status, std::string_view why);
    void on_request();
    void upgrade();
    void route();
    void hold_for_joins(const std::string& chat, const std::string& session);
    void on_join_result(std::uint64_t hold, bool joined);
    void on_remote_joins(std::uint64_t hold, bool joined, std::size_t pods);
    bool look_up_remembered_chats();
    void end_lookup();
    void release_hold(bool timed_out);
    void forward();
    bool upstream_usable();
    void send_upstream();
    void read_response_head();
    void on_response_head(boost::beast::error_code ec);
    void relay_interim();
    void on_upstream_response(boost::beast::error_code ec);
    void upstream_failed(boost::beast::error_code ec, std::string_view stage);
    void bad_upstream_response(std::string_view why);
    void respond(boost::beast::http::status status, std::string body, bool keep_alive);
    void write_response();
    void close(bool linger);

    worker& w_;
    flex_stream stream_;
    const std::string remote_;
    const bool trusted_peer_;  // --trusted-proxies names it
    std::uint64_t id_;
    bool owns_slot_{true};     // gives back a connection slot when destroyed
    bool over_capacity_;
    bool idle_{false};         // between requests, nothing read of the next one
    bool closing_{false};
    boost::beast::flat_buffer buf_;
    std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
    request req_;      // the client's request being served
    request out_;      // the same request as sent upstream
    std::optional<flex_stream> upstream_;
    boost::beast::flat_buffer upstream_buf_;
    std::optional<boost::beast::http::response_parser<boost::beast::http::string_body>> res_parser_;
    response res_;
    std::shared_ptr<boost::beast::http::response<boost::beast::http::empty_body>> interim_;
    unsigned interims_{0};   // 1xx responses to this request
    std::size_t head_fields_{0};  // fields in the request head; what follows are trailers
    // A REST message held until its session's sockets are joined to its chat. Answers
    // carry the hold's id: a late one for an earlier request settles nothing.
    std::string rest_chat_;
    std::uint64_t hold_id_{0};
    std::size_t joins_pending_{0};
    std::size_t local_joins_{0};  // of joins_pending_, sockets on this pod
    // --shared-state: before an upgrade, the session's remembered chats are read from Redis
    // (bounded by --shared-state-timeout), so that a tab reconnecting here rejoins them.
    std::optional<boost::asio::steady_timer> lookup_timer_;
    bool lookup_done_{false};
    bool any_joined_{false};
    std::optional<boost::asio::steady_timer> hold_timer_;
    bool upstream_reused_{false};
    bool retried_{false};
    bool keep_alive_{false};
};

}  // namespace wsproxy
