#include "proxy/http_session.hpp"

#include <boost/beast/websocket/rfc6455.hpp>

#include "proxy/headers.hpp"
#include "proxy/log.hpp"
#include "proxy/upstream_connect.hpp"
#include "proxy/ws_pair.hpp"
#include "rules/rest.hpp"

namespace wsproxy {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

namespace {

std::chrono::steady_clock::duration seconds(double s) {
    return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(s));
}

}  // namespace

http_session::http_session(worker& w, flex_stream stream, std::string remote)
    : w_(w), stream_(std::move(stream)), remote_(std::move(remote)) {}

void http_session::start() {
    auto* tls = stream_.tls();
    if (!tls) return do_read();
    stream_.tcp().expires_after(seconds(w_.shared.opts.handshake_timeout));
    tls->async_handshake(net::ssl::stream_base::server,
                         [self = shared_from_this()](beast::error_code ec) {
                             if (ec) {
                                 self->w_.stats.count(ec == beast::error::timeout
                                                          ? metrics::handshake_error::timeout
                                                          : metrics::handshake_error::tls);
                                 log::write(log::level::debug, "client_tls_failed",
                                            {{"remote", self->remote_}, {"error", ec.message()}});
                                 return self->close();
                             }
                             self->do_read();
                         });
}

void http_session::do_read() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(w_.shared.opts.max_header_bytes));
    parser_->body_limit(w_.shared.opts.max_body_bytes);
    // One deadline for the whole request: a client that trickles it in (slowloris) is dropped.
    stream_.tcp().expires_after(seconds(w_.shared.opts.handshake_timeout));
    http::async_read(stream_, buf_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                         self->on_read(ec);
                     });
}

void http_session::on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::eof ||
        ec == net::error::connection_reset)
        return close();
    if (ec == beast::error::timeout) {
        // A half-sent request is an error; an idle keep-alive connection is not.
        if (parser_->got_some()) w_.stats.count(metrics::handshake_error::timeout);
        return close();
    }
    if (ec == http::error::header_limit) {
        w_.stats.count(metrics::reject_reason::header_too_large);
        return respond(http::status::request_header_fields_too_large,
                       "wsproxy: request headers exceed --max-header-bytes\n", false);
    }
    if (ec == http::error::body_limit) {
        w_.stats.count(metrics::reject_reason::body_too_large);
        return respond(http::status::payload_too_large,
                       "wsproxy: request body exceeds --max-body-bytes\n", false);
    }
    if (ec) {
        w_.stats.count(metrics::handshake_error::bad_request);
        log::write(log::level::debug, "bad_request", {{"remote", remote_}, {"error", ec.message()}});
        return respond(http::status::bad_request, "wsproxy: malformed HTTP request\n", false);
    }
    stream_.tcp().expires_never();
    req_ = parser_->release();
    keep_alive_ = req_.keep_alive();
    if (websocket::is_upgrade(req_)) return upgrade();
    route();
}

void http_session::route() {
    auto cfg = w_.shared.rules.load();
    auto chat = rules::match_rest_route(*cfg, req_.method_string(), req_.target());
    if (!chat) return forward();
    std::vector<std::pair<std::string, std::string>> headers;
    for (const auto& f : req_) {
        std::string name(f.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (name == "cookie" || name == cfg->rest.session_header) headers.emplace_back(name, f.value());
    }
    hold_for_joins(*chat, rules::session_of(*cfg, headers));
}

// The seed's frontend sends user messages by REST. Before one goes upstream, the
// sockets of the same browser session are joined to its chat (on their own
// threads, by posting), and the request waits, bounded, for the backend's answers.
void http_session::hold_for_joins(const std::string& chat, const std::string& session) {
    rest_chat_ = chat;
    any_joined_ = false;
    auto cfg = w_.shared.rules.load();
    auto refs = session.empty() ? std::vector<session_registry::socket_ref>{}
                                : w_.shared.sessions.sockets(session);
    if (cfg->rest.sockets == rules::rest_sockets::most_recent && refs.size() > 1) {
        auto newest = std::max_element(refs.begin(), refs.end(), [](const auto& a, const auto& b) {
            return a.last_active < b.last_active;
        });
        refs = {*newest};
    }
    joins_pending_ = refs.size();
    if (refs.empty()) return release_hold(false);
    hold_timer_.emplace(w_.ioc, std::chrono::milliseconds(cfg->rest.wait_ms));
    hold_timer_->async_wait([self = shared_from_this()](beast::error_code ec) {
        if (!ec && self->joins_pending_ > 0) self->release_hold(true);
    });
    // Only a weak reference crosses threads, so this session is never destroyed elsewhere.
    std::weak_ptr<http_session> weak = weak_from_this();
    worker* home = &w_;
    for (const auto& ref : refs) {
        net::post(ref.owner->ioc, [owner = ref.owner, id = ref.id, chat, weak, home] {
            auto reply = [weak, home](bool joined) {
                net::post(home->ioc, [weak, joined] {
                    if (auto self = weak.lock()) self->on_join_result(joined);
                });
            };
            auto it = owner->pairs.find(id);
            auto pair = it == owner->pairs.end() ? nullptr : it->second.lock();
            if (!pair) return reply(false);
            pair->ensure_joined(chat, reply);
        });
    }
}

void http_session::on_join_result(bool joined) {
    if (joins_pending_ == 0) return;  // already released by the timeout
    any_joined_ = any_joined_ || joined;
    if (--joins_pending_ == 0) release_hold(false);
}

void http_session::release_hold(bool timed_out) {
    if (hold_timer_) {
        hold_timer_->cancel();
        using result = metrics::join_wait_result;
        w_.stats.count(timed_out     ? result::timeout
                       : any_joined_ ? result::acknowledged
                                     : result::failed);
    }
    hold_timer_.reset();
    joins_pending_ = 0;
    bool registered = any_joined_ || w_.shared.chats.registered(rest_chat_);
    w_.stats.count(metrics::proxy_stat::broadcasts, registered ? 0 : 1);
    forward();
}

void http_session::upgrade() {
    auto& shared = w_.shared;
    if (shared.draining.load()) {
        return respond(http::status::service_unavailable, "wsproxy: shutting down\n", false);
    }
    auto active = shared.connections.fetch_add(1, std::memory_order_relaxed);
    if (active >= shared.max_connections) {
        shared.connections.fetch_sub(1, std::memory_order_relaxed);
        w_.stats.count(metrics::reject_reason::max_connections);
        return respond(http::status::service_unavailable,
                       "wsproxy: too many connections (--max-connections)\n", false);
    }
    // ws_pair releases the connection slot when it is destroyed.
    // Bytes read behind the request are the browser's first frames.
    auto early = buf_.cdata();
    std::make_shared<ws_pair>(w_, std::move(stream_), std::move(req_), remote_,
                              std::string(static_cast<const char*>(early.data()), early.size()))
        ->start();
}

void http_session::forward() {
    out_ = {};
    out_.method_string(req_.method_string());
    out_.target(req_.target());
    out_.version(11);
    copy_end_to_end(req_, out_);
    add_forwarded(out_, req_, remote_, stream_.is_tls());
    auto host = req_[http::field::host];
    if (!host.empty()) out_.set(http::field::host, host);
    out_.keep_alive(true);
    out_.body() = req_.body();
    out_.prepare_payload();
    if (upstream_) {
        upstream_reused_ = true;
        return send_upstream();
    }
    upstream_reused_ = false;
    async_connect_upstream(w_, [self = shared_from_this()](beast::error_code ec,
                                                           std::string_view stage,
                                                           std::optional<flex_stream> s) {
        if (ec) return self->upstream_failed(ec, stage);
        self->upstream_.emplace(std::move(*s));
        self->send_upstream();
    });
}

void http_session::send_upstream() {
    upstream_->tcp().expires_after(seconds(w_.shared.opts.idle_timeout));
    http::async_write(*upstream_, out_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                          self->on_upstream_written(ec);
                      });
}

void http_session::on_upstream_written(beast::error_code ec) {
    if (ec) return upstream_failed(ec, "write");
    res_parser_.emplace();
    res_parser_->body_limit(w_.shared.opts.max_body_bytes);
    res_parser_->header_limit(static_cast<std::uint32_t>(w_.shared.opts.max_header_bytes * 4));
    if (req_.method() == http::verb::head) res_parser_->skip(true);
    http::async_read(*upstream_, upstream_buf_, *res_parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                         self->on_upstream_response(ec);
                     });
}

void http_session::on_upstream_response(beast::error_code ec) {
    if (ec) return upstream_failed(ec, "read");
    upstream_->tcp().expires_never();
    auto upstream_res = res_parser_->release();
    if (!upstream_res.keep_alive()) upstream_.reset();
    res_ = {};
    res_.result(upstream_res.result_int());
    res_.reason(upstream_res.reason());
    res_.version(req_.version());
    copy_end_to_end(upstream_res, res_);
    if (req_.method() == http::verb::head) {
        auto length = upstream_res[http::field::content_length];
        if (!length.empty()) res_.set(http::field::content_length, length);
    } else {
        res_.body() = std::move(upstream_res.body());
        res_.prepare_payload();
    }
    res_.keep_alive(keep_alive_);
    write_response();
}

void http_session::upstream_failed(beast::error_code ec, std::string_view stage) {
    upstream_.reset();
    upstream_buf_.clear();
    // A kept-alive connection the backend closed meanwhile: one retry on a fresh one.
    bool stale = upstream_reused_ && !retried_ && (stage == "write" || stage == "read") &&
                 (ec == http::error::end_of_stream || ec == net::error::eof ||
                  ec == net::error::connection_reset || ec == net::error::broken_pipe) &&
                 !(res_parser_ && res_parser_->got_some());
    if (stale) {
        retried_ = true;
        return forward();  // joins were settled the first time
    }
    bool timeout = ec == beast::error::timeout;
    if (ec == http::error::body_limit) {
        w_.stats.count(metrics::upstream_error::closed);
        return respond(http::status::bad_gateway,
                       "wsproxy: the upstream response exceeds --max-body-bytes\n", keep_alive_);
    }
    w_.stats.count(timeout ? metrics::upstream_error::timeout
                   : stage == "tls" ? metrics::upstream_error::tls
                   : stage == "connect" || stage == "resolve" ? metrics::upstream_error::connect
                                                             : metrics::upstream_error::closed);
    log::write(log::level::warn, "upstream_failed",
               {{"stage", stage}, {"error", ec.message()}, {"upstream", w_.shared.opts.upstream.url},
                {"method", std::string(req_.method_string())}});
    respond(timeout ? http::status::gateway_timeout : http::status::bad_gateway,
            "wsproxy: the upstream " + w_.shared.opts.upstream.url + " is unavailable (" +
                std::string(stage) + ": " + ec.message() + ")\n",
            keep_alive_);
}

void http_session::respond(http::status status, std::string body, bool keep_alive) {
    res_ = {};
    res_.result(status);
    res_.version(req_.version() ? req_.version() : 11);
    res_.set(http::field::content_type, "text/plain");
    res_.body() = std::move(body);
    res_.prepare_payload();
    keep_alive_ = keep_alive;
    res_.keep_alive(keep_alive);
    write_response();
}

void http_session::write_response() {
    w_.stats.count(metrics::proxy_stat::http_requests, metrics::http_code_label(res_.result_int()));
    stream_.tcp().expires_after(seconds(w_.shared.opts.idle_timeout));
    http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
        if (ec || !self->keep_alive_) return self->close();
        self->retried_ = false;
        self->do_read();
    });
}

void http_session::close() {
    if (auto* tls = stream_.tls()) {
        // A TLS close_notify, bounded by a short deadline, then the socket.
        stream_.tcp().expires_after(std::chrono::seconds(2));
        tls->async_shutdown([self = shared_from_this()](beast::error_code) {
            self->stream_.close();
        });
        return;
    }
    stream_.close();
}

}  // namespace wsproxy
