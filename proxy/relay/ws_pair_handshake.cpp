// One WebSocket pair's two opening handshakes: the upgrade request to the backend, its
// answer checked, then the browser's 101 with what the backend agreed to. Until both are
// done the browser's leg is not read; a failure answers the browser with an HTTP status.

#include <chrono>

#include "common/text.hpp"
#include "proxy/base/log.hpp"
#include "proxy/net/headers.hpp"
#include "proxy/net/upstream_connect.hpp"
#include "proxy/relay/ws_pair.hpp"
#include "proxy/relay/ws_pair_internals.hpp"
#include "proxy/ws/handshake.hpp"
#include "rules/rest.hpp"

namespace wsproxy {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using namespace ws_pair_internals;

using text::seconds;

void ws_pair::begin() {
    if (auto problem = ws::check_upgrade_request(req_)) {
        w_.stats.count(metrics::handshake_error::bad_request);
        log::write(log::level::info, "client_handshake_failed",
                   {{"conn", id_}, {"error", problem->message}});
        return reject_upgrade(problem->status, "wsproxy: " + problem->message + "\n");
    }
    w_.pairs.emplace(id_, weak_from_this());
    async_connect_upstream(w_.ioc, w_.shared.opts, w_.shared.upstream_tls, [self = shared_from_this()](beast::error_code ec,
                                                           std::string_view stage,
                                                           std::optional<flex_stream> stream) {
        self->guard([&] { self->on_upstream_transport(ec, stage, std::move(stream)); });
    });
}

void ws_pair::on_upstream_transport(beast::error_code ec, std::string_view stage,
                                    std::optional<flex_stream> stream) {
    if (ec) {
        bool timeout = ec == beast::error::timeout;
        w_.stats.count(timeout ? metrics::upstream_error::timeout
                       : stage == "tls" ? metrics::upstream_error::tls
                                        : metrics::upstream_error::connect);
        log::write(log::level::warn, "upstream_failed",
                   {{"conn", id_}, {"stage", stage}, {"error", ec.message()},
                    {"upstream", w_.shared.opts.upstream.url}});
        return reject_upgrade(timeout ? http::status::gateway_timeout : http::status::bad_gateway,
                              "wsproxy: the upstream " + w_.shared.opts.upstream.url +
                                  " is unreachable (" + std::string(stage) + ": " + ec.message() +
                                  ")\n");
    }
    const auto& opts = w_.shared.opts;
    server_.emplace(std::move(*stream), false, opts.max_message_bytes);
    handshake_ = std::make_unique<upstream_handshake>();
    auto& hs = *handshake_;
    hs.key = ws::make_key();
    auto& r = hs.req;
    r.method(http::verb::get);
    r.target(req_.target());
    r.version(11);
    std::string host(req_[http::field::host]);
    if (host.empty()) host = opts.upstream.host + ":" + std::to_string(opts.upstream.port);
    r.set(http::field::host, host);
    r.set(http::field::upgrade, "websocket");
    r.set(http::field::connection, "Upgrade");
    r.set(http::field::sec_websocket_key, hs.key);
    r.set(http::field::sec_websocket_version, "13");
    if (opts.permessage_deflate) r.set(http::field::sec_websocket_extensions, ws::deflate_offer);
    // The browser's request, minus what belongs to this hop, plus X-Forwarded-*.
    http::fields forwarded;
    copy_end_to_end(req_, forwarded);
    add_forwarded(forwarded, req_, remote_, client_.stream.is_tls(), w_.shared.trusted.contains(remote_));
    copy_all(forwarded, r);
    hs.parser.header_limit(16 * 1024);
    hs.parser.body_limit(64 * 1024);
    server_->stream.tcp().expires_after(seconds(opts.handshake_timeout));
    http::async_write(server_->stream, r,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                          self->guard([&] { self->on_upstream_request_written(ec); });
                      });
}

void ws_pair::on_upstream_request_written(beast::error_code ec) {
    if (ec) return on_upstream_response(ec);
    auto& hs = *handshake_;
    http::async_read(server_->stream, hs.buffer, hs.parser,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                         self->guard([&] { self->on_upstream_response(ec); });
                     });
}

void ws_pair::on_upstream_response(beast::error_code ec) {
    auto& hs = *handshake_;
    auto& res = hs.parser.get();
    ws::upstream_verdict verdict;
    if (!ec) verdict = ws::check_upgrade_response(res, hs.key, w_.shared.opts.permessage_deflate);
    if (!ec && verdict.declined) {
        // The backend answered the upgrade with its own status: the browser gets it as is.
        w_.stats.count(metrics::upstream_error::handshake_rejected);
        log::write(log::level::info, "upstream_declined_upgrade",
                   {{"conn", id_}, {"status", res.result_int()}});
        std::string type(res[http::field::content_type]);
        std::string body = std::move(res.body());
        return reject_upgrade(res.result(), std::move(body), type.empty() ? "text/plain" : type,
                              &res.base());
    }
    if (ec || !verdict.error.empty()) {
        bool timeout = ec == beast::error::timeout;
        std::string why = ec ? ec.message() : verdict.error;
        w_.stats.count(timeout ? metrics::upstream_error::timeout
                               : metrics::upstream_error::handshake_rejected);
        log::write(log::level::warn, "upstream_failed",
                   {{"conn", id_}, {"stage", "handshake"}, {"error", why}});
        server_->stream.close();
        return reject_upgrade(timeout ? http::status::gateway_timeout : http::status::bad_gateway,
                              "wsproxy: the upstream WebSocket handshake failed (" + why + ")\n");
    }
    server_->stream.tcp().expires_never();
    if (verdict.deflate) {
        server_->reader.use_deflate(*verdict.deflate, false);
        server_->deflate.emplace(*verdict.deflate, false);
    }
    // Frames the backend sent right behind its 101 (connection_ready, typically).
    auto early = hs.buffer.cdata();
    server_->in.assign(static_cast<const char*>(early.data()), early.size());

    // The browser's 101: the backend's end-to-end headers (its subprotocol choice,
    // cookies) and our own answer to the browser's extension offer.
    auto out = std::make_shared<http::response<http::empty_body>>(http::status::switching_protocols,
                                                                 11);
    out->set(http::field::upgrade, "websocket");
    out->set(http::field::connection, "Upgrade");
    out->set(http::field::sec_websocket_accept,
             ws::accept_for(req_[http::field::sec_websocket_key]));
    if (w_.shared.opts.permessage_deflate) {
        auto offer = req_[http::field::sec_websocket_extensions];
        if (auto agreed = offer.empty() ? std::nullopt : ws::accept_deflate_offer(offer)) {
            out->set(http::field::sec_websocket_extensions, agreed->response);
            client_.reader.use_deflate(agreed->params, true);
            client_.deflate.emplace(agreed->params, true);
        }
    }
    http::fields back;
    copy_end_to_end(res, back);
    copy_all(back, *out);
    handshake_.reset();  // its headers and buffer are not needed any more
    client_.stream.tcp().expires_after(seconds(w_.shared.opts.handshake_timeout));
    http::async_write(client_.stream, *out,
                      [self = shared_from_this(), out](beast::error_code ec, std::size_t) {
                          self->guard([&] { self->on_client_accept(ec); });
                      });
}

void ws_pair::reject_upgrade(http::status status, std::string body, std::string content_type,
                             const http::fields* upstream_headers) {
    auto res = std::make_shared<http::response<http::string_body>>(status, req_.version());
    if (upstream_headers) {
        copy_end_to_end(*upstream_headers, *res);
        res->erase(http::field::content_length);  // set again for the body below
    }
    res->set(http::field::content_type, content_type);
    res->set(http::field::connection, "close");
    if (status == http::status::upgrade_required) res->set(http::field::sec_websocket_version, "13");
    res->body() = std::move(body);
    res->prepare_payload();
    auto& stream = client_.stream;
    stream.tcp().expires_after(seconds(w_.shared.opts.handshake_timeout));
    http::async_write(stream, *res, [self = shared_from_this(), res](beast::error_code, std::size_t) {
        self->guard([&] {
            self->client_.stream.close();
            self->finish();
        });
    });
}

void ws_pair::on_client_accept(beast::error_code ec) {
    if (ec) {
        w_.stats.count(ec == beast::error::timeout ? metrics::handshake_error::timeout
                                                   : metrics::handshake_error::bad_request);
        log::write(log::level::info, "client_handshake_failed",
                   {{"conn", id_}, {"error", ec.message()}});
        // The backend has accepted us: it gets a proper close.
        client_.read = leg_read::closed;
        client_.write = leg_write::done;
        client_.stream.close();
        server_->stream.tcp().socket().non_blocking(true, ec);
        send_close(server_side, ws::close_code::going_away, "client went away");
        do_read(server_side);
        return;
    }
    client_.stream.tcp().expires_never();
    established_ = true;
    w_.stats.connection_opened();
    rules::open_info info;
    info.target = std::string(req_.target());
    for (const auto& f : req_) {
        std::string name(f.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        info.headers.emplace_back(std::move(name), std::string(f.value()));
    }
    const auto& cfg = engine_.cfg();
    auto now = now_ms();
    session_ = rules::session_of(cfg, info.headers);
    if (!session_.empty()) {
        w_.shared.sessions.add_socket(session_, &w_, id_, now);
        session_touched_ = now;
        if (cfg.rejoin.enabled)
            info.remembered_chats = w_.shared.sessions.remembered_chats(
                session_, now, static_cast<std::int64_t>(cfg.rejoin.ttl_s) * 1000,
                &info.remembered_conns);
    }
    {
        // The query stays out: it may carry tokens. The user agent is cut at 256 bytes.
        beast::error_code peer_ec;
        auto peer = client_.stream.tcp().socket().remote_endpoint(peer_ec);
        std::string remote = remote_;
        if (!peer_ec)
            remote = (peer.address().is_v6() ? "[" + remote_ + "]" : remote_) + ":" +
                     std::to_string(peer.port());
        log::write(log::level::info, "connection_opened",
                   {{"conn", id_},
                    {"remote", remote},
                    {"path", std::string(req_.target().substr(0, req_.target().find('?')))},
                    {"user_agent", std::string(req_[http::field::user_agent].substr(0, 256))}});
    }
    // Plain sockets are read and written without blocking, by hand (do_read, write_bytes).
    for (int s : {client_side, server_side}) {
        leg& l = at(s);
        l.last_read = now;
        if (!l.stream.is_tls()) l.stream.tcp().socket().non_blocking(true, ec);
    }
    actions_.clear();
    engine_.on_open(info, now, actions_);
    run_actions(-1);
    // The request is no longer needed; its headers may be large.
    req_ = {};
    // Bytes that came with the handshakes are the first frames.
    for (int s : {client_side, server_side}) {
        leg& l = at(s);
        if (!l.in.empty() && input_open(l.read)) process(s, l.in.data(), l.in.size(), true);
        else do_read(s);
    }
}

}  // namespace wsproxy
