#include "proxy/relay/http_session.hpp"

#include <poll.h>

#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "common/text.hpp"
#include "proxy/net/headers.hpp"
#include "proxy/http/message_checks.hpp"
#include "proxy/base/log.hpp"
#include "proxy/net/upstream_connect.hpp"
#include "proxy/cluster/client.hpp"
#include "proxy/relay/ws_pair.hpp"
#include "rules/rest.hpp"

namespace wsproxy {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

namespace {

using text::seconds;

// At most this many 1xx responses before the final one: more is a broken upstream.
constexpr unsigned max_interims = 16;
// What a lingering close reads and discards, at most, before closing (as nginx's
// lingering_close): the client's unread request bytes must not turn our answer into a reset.
constexpr std::size_t linger_bytes = 1 << 20;
constexpr auto linger_time = std::chrono::seconds(2);

bool client_went_away(beast::error_code ec) {
    return ec == http::error::end_of_stream || ec == net::error::eof ||
           ec == net::error::connection_reset || ec == net::error::broken_pipe;
}

}  // namespace

http_session::http_session(worker& w, flex_stream stream, std::string remote, bool over_capacity)
    : w_(w),
      stream_(std::move(stream)),
      remote_(std::move(remote)),
      trusted_peer_(w.shared.trusted.contains(remote_)),
      id_(w.next_http_id++),
      over_capacity_(over_capacity) {
    if (over_capacity_) {
        owns_slot_ = false;
        w_.shared.connections.fetch_sub(1, std::memory_order_relaxed);
    }
}

http_session::~http_session() {
    if (owns_slot_) w_.shared.connections.fetch_sub(1, std::memory_order_relaxed);
    w_.http_sessions.erase(id_);
}

void http_session::start() {
    w_.http_sessions.emplace(id_, weak_from_this());
    auto after_handshake = [this] {
        if (!over_capacity_) return do_read();
        w_.stats.count(metrics::reject_reason::max_connections);
        respond(http::status::service_unavailable,
                "wsproxy: too many connections (--max-connections)\n", false);
    };
    auto* tls = stream_.tls();
    if (!tls) return after_handshake();
    stream_.tcp().expires_after(seconds(w_.shared.opts.handshake_timeout));
    tls->async_handshake(net::ssl::stream_base::server,
                         [self = shared_from_this(), after_handshake](beast::error_code ec) {
                             if (ec) {
                                 self->w_.stats.count(ec == beast::error::timeout
                                                          ? metrics::handshake_error::timeout
                                                          : metrics::handshake_error::tls);
                                 log::write(log::level::debug, "client_tls_failed",
                                            {{"remote", self->remote_}, {"error", ec.message()}});
                                 return self->close(false);
                             }
                             after_handshake();
                         });
}

void http_session::drain() {
    if (idle_) close(false);
}

void http_session::abort() {
    closing_ = true;
    stream_.close();
    if (upstream_) upstream_->close();
    if (hold_timer_) hold_timer_->cancel();
    if (lookup_timer_) lookup_timer_->cancel();
}

void http_session::do_read() {
    if (w_.shared.draining.load() && buf_.size() == 0) return close(false);
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(w_.shared.opts.max_header_bytes));
    parser_->body_limit(w_.shared.opts.max_body_bytes);
    interims_ = 0;
    // One deadline for the whole request: a client that trickles it in (slowloris) is dropped.
    stream_.tcp().expires_after(seconds(w_.shared.opts.handshake_timeout));
    read_head();
}

// The head is fed to Beast's parser by hand, so that its bytes can be checked for
// obs-fold first (Beast unfolds it silently) and so that 100 Continue can be sent
// between head and body.
void http_session::read_head() {
    while (buf_.size() > 0) {
        auto data = buf_.cdata();
        std::string_view bytes(static_cast<const char*>(data.data()), data.size());
        if (http1::has_obs_fold(bytes)) return refuse(400, "obs-fold (a header line starting with a space) is obsolete");
        beast::error_code ec;
        auto used = parser_->put(data, ec);
        buf_.consume(used);
        if (parser_->is_header_done()) return on_head();
        if (ec == http::error::need_more) {
            if (used == 0) break;
            continue;
        }
        if (ec) return on_read_error(ec);
    }
    idle_ = !parser_->got_some() && buf_.size() == 0;
    auto room = std::min<std::size_t>(16 * 1024, w_.shared.opts.max_header_bytes + 4);
    stream_.async_read_some(buf_.prepare(room),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                                self->idle_ = false;
                                if (ec) return self->on_read_error(ec);
                                self->buf_.commit(n);
                                self->read_head();
                            });
}

void http_session::on_head() {
    auto& head = parser_->get();
    if (auto p = http1::check_request(head.method(), head.target(), head.version(), head))
        return refuse(p->status, p->message);
    // Absolute-form: the target's authority replaces Host (RFC 9112 3.2.2), and the
    // backend gets the origin form.
    if (!head.target().empty() && head.target()[0] != '/' && head.target() != "*") {
        auto origin = http1::split_absolute_form(head.target());
        head.target(origin->target);
        head.set(http::field::host, origin->authority);
    }
    head_fields_ = static_cast<std::size_t>(std::distance(head.begin(), head.end()));
    if (websocket::is_upgrade(head)) {
        if (head.has_content_length() || head.chunked())
            return refuse(400, "a WebSocket upgrade carries no body");
        req_ = parser_->release();
        keep_alive_ = false;
        return upgrade();
    }
    if (auto length = parser_->content_length(); length && *length > w_.shared.opts.max_body_bytes) {
        w_.stats.count(metrics::reject_reason::body_too_large);
        return respond(http::status::payload_too_large,
                       "wsproxy: request body exceeds --max-body-bytes\n", false);
    }
    if (parser_->is_done()) return on_request();
    // The client waits for our word before sending its body (and gets it even when the
    // body came along, as from nginx); the backend gets the body whole, so the
    // expectation ends here (Expect is not sent upstream).
    if (head.version() >= 11 && beast::iequals(head[http::field::expect], "100-continue")) {
        static const std::string continue_line = "HTTP/1.1 100 Continue\r\n\r\n";
        net::async_write(stream_, net::buffer(continue_line),
                         [self = shared_from_this()](beast::error_code ec, std::size_t) {
                             if (ec) return self->close(false);
                             self->read_body();
                         });
        return;
    }
    read_body();
}

void http_session::read_body() {
    http::async_read(stream_, buf_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                         if (ec) return self->on_read_error(ec);
                         self->on_request();
                     });
}

void http_session::on_read_error(beast::error_code ec) {
    if (closing_) return;
    if (client_went_away(ec) || ec == net::error::operation_aborted) return close(false);
    if (ec == beast::error::timeout) {
        // A half-sent request is an error; an idle keep-alive connection is not.
        if (parser_ && parser_->got_some()) w_.stats.count(metrics::handshake_error::timeout);
        return close(false);
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
    refuse(400, ec.message());
}

// A request we will not forward: answered, and the connection closed, since what
// follows it in the stream cannot be trusted to start a request.
void http_session::refuse(unsigned status, std::string_view why) {
    w_.stats.count(metrics::handshake_error::bad_request);
    log::write(log::level::debug, "bad_request",
               {{"remote", remote_}, {"status", status}, {"error", why}});
    respond(static_cast<http::status>(status), "wsproxy: malformed HTTP request: " + std::string(why) + "\n",
            false);
}

void http_session::on_request() {
    stream_.tcp().expires_never();
    req_ = parser_->release();
    // Beast appends a chunked body's trailer fields to the header fields. They are not
    // headers (RFC 9110 6.5.1: never merged unless the field allows it), and a trailer
    // could otherwise smuggle in a Host or X-Forwarded-For; as nginx, they are dropped.
    auto it = req_.begin();
    for (std::size_t i = 0; i < head_fields_ && it != req_.end(); ++i) ++it;
    while (it != req_.end()) it = req_.erase(it);
    keep_alive_ = req_.keep_alive();
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
    auto hold = ++hold_id_;
    auto cfg = w_.shared.rules.load();
    auto refs = session.empty() ? std::vector<session_registry::socket_ref>{}
                                : w_.shared.sessions.sockets(session);
    if (cfg->rest.sockets == rules::rest_sockets::most_recent && refs.size() > 1) {
        auto newest = std::max_element(refs.begin(), refs.end(), [](const auto& a, const auto& b) {
            return a.last_active < b.last_active;
        });
        refs = {*newest};
    }
    // Sockets of the session on other pods are asked through Redis; the answer of all of
    // them counts as one pending join. Without Redis (or while it is down), only this pod's.
    auto* cluster = w_.shared.sessions.cluster();
    const bool remote = cluster != nullptr && !session.empty() && cluster->up();
    local_joins_ = refs.size();
    joins_pending_ = refs.size() + (remote ? 1 : 0);
    if (joins_pending_ == 0) return release_hold(false);
    hold_timer_.emplace(w_.ioc, std::chrono::milliseconds(cfg->rest.wait_ms));
    hold_timer_->async_wait([self = shared_from_this(), hold](beast::error_code ec) {
        if (!ec && self->hold_id_ == hold && self->joins_pending_ > 0) self->release_hold(true);
    });
    // Only a weak reference crosses threads, so this session is never destroyed elsewhere.
    std::weak_ptr<http_session> weak = weak_from_this();
    worker* home = &w_;
    // The request, as the cause of the joins (tap, logs): the path without its query.
    std::string target(req_.target().substr(0, req_.target().find('?')).substr(0, 512));
    std::string cause = std::string(req_.method_string()) + " " + target;
    if (remote)
        cluster->request_joins(session, chat, cause, cfg->rest.wait_ms,
                               [weak, home, hold](bool joined, std::size_t pods) {
                                   net::post(home->ioc, [weak, hold, joined, pods] {
                                       if (auto self = weak.lock())
                                           self->on_remote_joins(hold, joined, pods);
                                   });
                               });
    for (const auto& ref : refs) {
        net::post(ref.owner->ioc, [owner = ref.owner, id = ref.id, chat, weak, home, hold, cause] {
            auto reply = [weak, home, hold](bool joined) {
                net::post(home->ioc, [weak, joined, hold] {
                    if (auto self = weak.lock()) self->on_join_result(hold, joined);
                });
            };
            auto it = owner->pairs.find(id);
            auto pair = it == owner->pairs.end() ? nullptr : it->second.lock();
            if (!pair) return reply(false);
            pair->ensure_joined(chat, reply, cause);
        });
    }
}

void http_session::on_join_result(std::uint64_t hold, bool joined) {
    // An answer for an earlier request of this connection (released by its timeout)
    // says nothing about this one.
    if (hold != hold_id_ || joins_pending_ == 0) return;
    any_joined_ = any_joined_ || joined;
    if (--joins_pending_ == 0) release_hold(false);
}

void http_session::on_remote_joins(std::uint64_t hold, bool joined, std::size_t pods) {
    if (hold != hold_id_ || joins_pending_ == 0) return;
    // No socket of the session on any pod: nothing was held for, as without shared state.
    if (pods == 0 && local_joins_ == 0 && hold_timer_) {
        hold_timer_->cancel();
        hold_timer_.reset();
    }
    on_join_result(hold, joined);
}

void http_session::release_hold(bool timed_out) {
    if (closing_) return;  // aborted at the drain timeout: nobody is left to answer
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
    w_.stats.count(metrics::proxy_stat::user_messages, registered ? 0 : 1);
    forward();
}

// A tab that reconnects to this pod after its session joined chats on another: those
// chats are read from Redis first, so that ws_pair finds them in the session registry
// as if they had been joined here. Returns whether the upgrade waits for them.
bool http_session::look_up_remembered_chats() {
    auto* cluster = w_.shared.sessions.cluster();
    if (lookup_done_ || cluster == nullptr || !cluster->up()) return false;
    lookup_done_ = true;
    auto cfg = w_.shared.rules.load();
    if (!cfg->rejoin.enabled) return false;
    std::vector<std::pair<std::string, std::string>> headers;
    for (const auto& f : req_) headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    std::string session = rules::session_of(*cfg, headers);
    if (session.empty()) return false;
    // The timer holds this session; the answer comes back through a weak reference.
    lookup_timer_.emplace(w_.ioc, std::chrono::milliseconds(static_cast<std::int64_t>(
                                      w_.shared.opts.cluster.timeout * 1000)));
    lookup_timer_->async_wait([self = shared_from_this()](beast::error_code ec) {
        if (!ec) self->end_lookup();
    });
    std::weak_ptr<http_session> weak = weak_from_this();
    worker* home = &w_;
    const auto max = cfg->rejoin.max_chats;
    cluster->lookup_chats(session, static_cast<std::int64_t>(cfg->rejoin.ttl_s) * 1000, max,
                          [weak, home, session, max](cluster::client::chat_list chats) {
                              net::post(home->ioc, [weak, home, session, max, chats] {
                                  home->shared.sessions.merge_remote_chats(session, chats,
                                                                           now_ms(), max);
                                  if (auto self = weak.lock()) self->end_lookup();
                              });
                          });
    return true;
}

void http_session::end_lookup() {
    if (!lookup_timer_) return;
    lookup_timer_->cancel();
    lookup_timer_.reset();
    if (closing_) return;
    upgrade();
}

void http_session::upgrade() {
    if (w_.shared.draining.load()) {
        return respond(http::status::service_unavailable, "wsproxy: shutting down\n", false);
    }
    if (look_up_remembered_chats()) return;
    // ws_pair gives the connection slot back when it is destroyed.
    owns_slot_ = false;
    w_.http_sessions.erase(id_);
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
    // The body is complete: an expectation was met here (100 Continue) or never needed.
    out_.erase(http::field::expect);
    add_forwarded(out_, req_, remote_, stream_.is_tls(), trusted_peer_);
    // We speak HTTP/1.1 upstream, which needs a Host: an HTTP/1.0 client may have sent none.
    std::string host(req_[http::field::host]);
    if (host.empty()) {
        const auto& up = w_.shared.opts.upstream;
        host = up.host + ":" + std::to_string(up.port);
    }
    out_.set(http::field::host, host);
    out_.keep_alive(true);
    out_.body() = req_.body();
    out_.prepare_payload();
    if (upstream_ && !upstream_usable()) {
        upstream_.reset();
        upstream_buf_.clear();
    }
    if (upstream_) {
        upstream_reused_ = true;
        return send_upstream();
    }
    upstream_reused_ = false;
    async_connect_upstream(w_.ioc, w_.shared.opts, w_.shared.upstream_tls, [self = shared_from_this()](beast::error_code ec,
                                                           std::string_view stage,
                                                           std::optional<flex_stream> s) {
        if (ec) return self->upstream_failed(ec, stage);
        self->upstream_.emplace(std::move(*s));
        self->send_upstream();
    });
}

// A kept-alive upstream connection is only reused while it is quiet: one that is
// readable between responses has closed (EOF), reset, or sent bytes nobody asked for.
// Finding that out before writing is what keeps a request from reaching a backend
// that was already closing (which could then only be answered by a replay).
bool http_session::upstream_usable() {
    if (upstream_buf_.size() > 0) return false;
    pollfd p{};
    p.fd = upstream_->tcp().socket().native_handle();
    p.events = POLLIN | POLLRDHUP;
    return ::poll(&p, 1, 0) == 0;
}

void http_session::send_upstream() {
    interims_ = 0;
    res_parser_.reset();
    upstream_->tcp().expires_after(seconds(w_.shared.opts.idle_timeout));
    http::async_write(*upstream_, out_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                          if (ec) return self->upstream_failed(ec, "write");
                          self->read_response_head();
                      });
}

void http_session::read_response_head() {
    res_parser_.emplace();
    res_parser_->body_limit(w_.shared.opts.max_body_bytes);
    res_parser_->header_limit(static_cast<std::uint32_t>(w_.shared.opts.max_header_bytes * 4));
    if (req_.method() == http::verb::head) res_parser_->skip(true);
    http::async_read_header(*upstream_, upstream_buf_, *res_parser_,
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                                self->on_response_head(ec);
                            });
}

void http_session::on_response_head(beast::error_code ec) {
    if (ec) return upstream_failed(ec, "read");
    auto& head = res_parser_->get();
    unsigned status = head.result_int();
    if (auto p = http1::check_response(status, head, false)) return bad_upstream_response(p->message);
    if (status >= 100 && status < 200) {
        if (++interims_ > max_interims)
            return bad_upstream_response("more than 16 interim (1xx) responses to one request");
        // HTTP/1.0 clients know no 1xx (RFC 9110 15.2): they get the final response only.
        if (req_.version() < 11) return read_response_head();
        return relay_interim();
    }
    http::async_read(*upstream_, upstream_buf_, *res_parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                         self->on_upstream_response(ec);
                     });
}

// 100 Continue, 103 Early Hints and the like go to the client as they came, then the
// final response is read: each is a part of this request's answer, never the answer.
void http_session::relay_interim() {
    const auto& head = res_parser_->get();
    interim_ = std::make_shared<http::response<http::empty_body>>();
    interim_->result(head.result_int());
    interim_->reason(head.reason());
    interim_->version(11);
    copy_end_to_end(head, *interim_);
    stream_.tcp().expires_after(seconds(w_.shared.opts.idle_timeout));
    http::async_write(stream_, *interim_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                          self->interim_.reset();
                          if (ec) return self->close(false);
                          self->read_response_head();
                      });
}

void http_session::on_upstream_response(beast::error_code ec) {
    if (ec) return upstream_failed(ec, "read");
    upstream_->tcp().expires_never();
    auto upstream_res = res_parser_->release();
    // Bytes behind a complete response (a 204 or 304 with a body, more than its
    // Content-Length) belong to no request: that connection is not used again.
    if (!upstream_res.keep_alive() || upstream_buf_.size() > 0) {
        upstream_.reset();
        upstream_buf_.clear();
    }
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

void http_session::bad_upstream_response(std::string_view why) {
    upstream_.reset();
    upstream_buf_.clear();
    w_.stats.count(metrics::upstream_error::bad_response);
    log::write(log::level::warn, "upstream_bad_response",
               {{"error", why}, {"upstream", w_.shared.opts.upstream.url},
                {"method", std::string(req_.method_string())}});
    // Whatever the client was sent already (1xx) ends with this final answer.
    respond(http::status::bad_gateway, "wsproxy: " + std::string(why) + "\n", keep_alive_);
}

void http_session::upstream_failed(beast::error_code ec, std::string_view stage) {
    upstream_.reset();
    upstream_buf_.clear();
    // A reused connection the backend closed under us, before answering anything: sent
    // again on a new one only when doing so cannot change the outcome (RFC 9110 9.2.2).
    // A POST (a user's chat message) may have been read and acted on: 502, never twice.
    bool nothing_answered = interims_ == 0 && !(res_parser_ && res_parser_->got_some());
    bool stale = upstream_reused_ && !retried_ && (stage == "write" || stage == "read") &&
                 client_went_away(ec) && nothing_answered;
    if (stale && http1::idempotent(req_.method())) {
        retried_ = true;
        return forward();  // joins were settled the first time
    }
    bool timeout = ec == beast::error::timeout;
    if (ec == http::error::body_limit) {
        w_.stats.count(metrics::upstream_error::closed);
        return respond(http::status::bad_gateway,
                       "wsproxy: the upstream response exceeds --max-body-bytes\n", keep_alive_);
    }
    if (stage == "read" && !timeout && !client_went_away(ec) && ec != net::error::operation_aborted)
        return bad_upstream_response("the upstream response is malformed: " + ec.message());
    w_.stats.count(timeout ? metrics::upstream_error::timeout
                   : stage == "tls" ? metrics::upstream_error::tls
                   : stage == "connect" || stage == "resolve" ? metrics::upstream_error::connect
                                                             : metrics::upstream_error::closed);
    log::write(log::level::warn, "upstream_failed",
               {{"stage", stage}, {"error", ec.message()}, {"upstream", w_.shared.opts.upstream.url},
                {"method", std::string(req_.method_string())},
                {"replayed", false}});
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
    if (closing_) return;
    // Draining: this is the connection's last response, and it says so.
    if (w_.shared.draining.load() && keep_alive_) {
        keep_alive_ = false;
        res_.keep_alive(false);
    }
    w_.stats.count(metrics::proxy_stat::http_requests, metrics::http_code_label(res_.result_int()));
    stream_.tcp().expires_after(seconds(w_.shared.opts.idle_timeout));
    // An error that ends the connection before the request was read whole: linger so
    // that the client reads our answer instead of a reset.
    bool linger = !keep_alive_ && (!parser_ || !parser_->is_done() || buf_.size() > 0);
    http::async_write(stream_, res_, [self = shared_from_this(), linger](beast::error_code ec,
                                                                          std::size_t) {
        if (ec || !self->keep_alive_) return self->close(linger && !ec);
        self->retried_ = false;
        self->do_read();
    });
}

void http_session::close(bool linger) {
    if (closing_) return;
    closing_ = true;
    idle_ = false;
    if (upstream_) upstream_->close();
    if (auto* tls = stream_.tls()) {
        // A TLS close_notify, bounded by a short deadline, then the socket.
        stream_.tcp().expires_after(std::chrono::seconds(2));
        tls->async_shutdown([self = shared_from_this()](beast::error_code) {
            self->stream_.close();
        });
        return;
    }
    if (!linger) return stream_.close();
    // Half-close, then read and discard until the client closes too (bounded in bytes
    // and time), so that our response is not lost to a reset.
    beast::error_code ignored;
    stream_.tcp().socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
    stream_.tcp().expires_after(linger_time);
    buf_.clear();
    struct discard {
        std::shared_ptr<http_session> self;
        std::size_t left;
        void operator()(beast::error_code ec = {}, std::size_t n = 0) {
            auto& s = *self;
            if (n > 0) s.buf_.clear();
            left = n >= left ? 0 : left - n;
            if (ec || left == 0) return s.stream_.close();
            s.stream_.async_read_some(s.buf_.prepare(16 * 1024), std::move(*this));
        }
    };
    discard{shared_from_this(), linger_bytes}();
}

}  // namespace wsproxy
