#include "proxy/cluster/redis_link.hpp"

#include <hiredis/hiredis.h>
#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>

namespace wsproxy::cluster {
namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

namespace {

// RESP2: an array of bulk strings, which is what every Redis command is.
void append_command(std::string& out, const std::vector<std::string>& args) {
    out.push_back('*');
    out.append(std::to_string(args.size())).append("\r\n");
    for (const auto& a : args) {
        out.push_back('$');
        out.append(std::to_string(a.size())).append("\r\n").append(a).append("\r\n");
    }
}

}  // namespace

std::string_view reply_text(const redisReply* r) {
    if (!r) return {};
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
        r->type == REDIS_REPLY_ERROR)
        return {r->str, r->len};
    return {};
}

bool reply_is_error(const redisReply* r) { return !r || r->type == REDIS_REPLY_ERROR; }

redis_link::redis_link(net::io_context& ioc, settings s)
    : ioc_(ioc), s_(std::move(s)), resolver_(ioc), deadline_(ioc), reader_(redisReaderCreate()) {}

redis_link::~redis_link() {
    if (reader_) redisReaderFree(reader_);
}

void redis_link::connect(std::function<void(std::string)> done) {
    connect_done_ = std::move(done);
    deadline_.expires_after(s_.timeout);
    deadline_.async_wait([self = shared_from_this()](beast::error_code ec) {
        if (!ec && !self->connected_) self->fail("no connection within --shared-state-timeout");
    });
    resolver_.async_resolve(s_.url.host, std::to_string(s_.url.port),
                            [self = shared_from_this()](beast::error_code ec,
                                                        tcp::resolver::results_type r) {
                                self->on_resolved(ec, std::move(r));
                            });
}

void redis_link::on_resolved(beast::error_code ec, tcp::resolver::results_type results) {
    if (closed_) return;
    if (ec) return fail("cannot resolve " + s_.url.host + ": " + ec.message());
    flex_stream::tcp_type tcp_stream(ioc_.get_executor());
    stream_.emplace(s_.tls ? flex_stream(std::move(tcp_stream), *s_.tls)
                           : flex_stream(std::move(tcp_stream)));
    stream_->tcp().async_connect(results, [self = shared_from_this()](beast::error_code ec,
                                                                      const tcp::endpoint&) {
        if (self->closed_) return;
        if (ec) return self->fail("cannot connect: " + ec.message());
        beast::error_code ignored;
        self->stream_->tcp().socket().set_option(tcp::no_delay(true), ignored);
        auto* tls = self->stream_->tls();
        if (!tls) return self->on_transport();
        // The certificate must name the host we asked for (as for a wss:// upstream).
        SSL_set_tlsext_host_name(tls->native_handle(), self->s_.url.host.c_str());
        tls->set_verify_callback(net::ssl::host_name_verification(self->s_.url.host));
        tls->async_handshake(net::ssl::stream_base::client,
                             [self](beast::error_code ec) {
                                 if (self->closed_) return;
                                 if (ec) return self->fail("TLS: " + ec.message());
                                 self->on_transport();
                             });
    });
}

void redis_link::on_transport() {
    read();
    // AUTH and SELECT go first; the link is usable once their answers are in.
    auto check = [self = shared_from_this()](const char* what) {
        return [self, what](const redisReply* r) {
            if (reply_is_error(r) && !self->closed_)
                self->fail(std::string(what) + " refused: " + std::string(reply_text(r)));
        };
    };
    if (!s_.password.empty()) {
        if (s_.url.user.empty())
            command({"AUTH", s_.password}, check("AUTH"));
        else
            command({"AUTH", s_.url.user, s_.password}, check("AUTH"));
    }
    if (s_.url.db != 0) command({"SELECT", std::to_string(s_.url.db)}, check("SELECT"));
    command({"PING"}, [self = shared_from_this()](const redisReply* r) {
        if (self->closed_) return;
        if (reply_is_error(r))
            return self->fail("PING refused: " + std::string(reply_text(r)));
        self->connected_ = true;
        if (auto done = std::exchange(self->connect_done_, {})) done("");
    });
}

void redis_link::command(std::vector<std::string> args, handler h) {
    if (closed_) {
        if (h) h(nullptr);
        return;
    }
    append_command(writing_ ? queued_ : out_, args);
    pending_.push_back({std::move(h), std::chrono::steady_clock::now()});
    if (pending_.size() == 1) arm_deadline();
    if (!writing_ && stream_) flush();
}

void redis_link::flush() {
    if (out_.empty() || closed_) return;
    writing_ = true;
    net::async_write(*stream_, net::buffer(out_),
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                         self->writing_ = false;
                         if (self->closed_) return;
                         if (ec) return self->fail("write: " + ec.message());
                         self->out_.clear();
                         std::swap(self->out_, self->queued_);
                         self->flush();
                     });
}

void redis_link::read() {
    stream_->async_read_some(
        net::buffer(in_), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
            if (self->closed_) return;
            if (ec) return self->fail(ec == net::error::eof ? "Redis closed the connection"
                                                            : "read: " + ec.message());
            if (redisReaderFeed(self->reader_, self->in_.data(), n) != REDIS_OK)
                return self->fail("unreadable reply");
            for (;;) {
                void* r = nullptr;
                if (redisReaderGetReply(self->reader_, &r) != REDIS_OK)
                    return self->fail(std::string("unreadable reply: ") + self->reader_->errstr);
                if (!r) break;
                self->dispatch(static_cast<redisReply*>(r));
                freeReplyObject(r);
                if (self->closed_) return;
            }
            self->read();
        });
}

void redis_link::dispatch(redisReply* r) {
    // In subscribe mode Redis pushes ["message", channel, payload] between the answers.
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
        reply_text(r->element[0]) == "message") {
        if (on_message) on_message(reply_text(r->element[1]), reply_text(r->element[2]));
        return;
    }
    if (pending_.empty()) return fail("a reply nobody asked for");
    auto h = std::move(pending_.front().h);
    pending_.pop_front();
    arm_deadline();
    if (h) h(r);
}

// One deadline, for the oldest unanswered command: a Redis that stops answering is down,
// even when TCP stays up.
void redis_link::arm_deadline() {
    if (!connected_ && connect_done_) return;  // the connect deadline is running
    if (pending_.empty()) {
        deadline_.cancel();
        return;
    }
    deadline_.expires_at(pending_.front().sent + s_.timeout);
    deadline_.async_wait([self = shared_from_this()](beast::error_code ec) {
        if (ec || self->closed_ || self->pending_.empty()) return;
        if (std::chrono::steady_clock::now() >= self->pending_.front().sent + self->s_.timeout)
            self->fail("no answer within --shared-state-timeout");
    });
}

void redis_link::fail(std::string why) {
    if (closed_) return;
    const bool was_connected = connected_;
    close();
    if (auto done = std::exchange(connect_done_, {})) return done(why);
    if (was_connected && on_failed) on_failed(why);
}

void redis_link::close() {
    if (closed_) return;
    closed_ = true;
    deadline_.cancel();
    resolver_.cancel();
    if (stream_) stream_->close();
    for (auto& p : std::exchange(pending_, {}))
        if (p.h) p.h(nullptr);
}

}  // namespace wsproxy::cluster
