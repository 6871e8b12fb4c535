#pragma once
// One connection to Redis: resolve, connect, TLS (rediss://), AUTH, SELECT, then commands
// pipelined in order, or, once it subscribed, the messages Redis pushes. hiredis decodes
// the replies (its redisReader, the RESP parser of its own async API); the I/O is Asio's,
// so that the link shares the TLS stack of the proxy and never blocks (hiredis 0.14, the
// version in Debian 12, resolves names with a blocking getaddrinfo and has no TLS).
// Lives on the shared-state client's thread (cluster::client); owns itself while I/O is
// pending. Any failure closes it: the client reconnects with a new link.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/cluster/redis_url.hpp"
#include "proxy/net/flex_stream.hpp"

struct redisReply;
struct redisReader;

namespace wsproxy::cluster {

class redis_link : public std::enable_shared_from_this<redis_link> {
public:
    // The reply to a command, or nullptr when the link failed before it came.
    using handler = std::function<void(const redisReply*)>;
    struct settings {
        redis_url url;
        std::string password;
        std::chrono::milliseconds timeout{1000};  // connect, and each answer
        boost::asio::ssl::context* tls{nullptr};  // set for rediss://
    };

    redis_link(boost::asio::io_context& ioc, settings s);
    ~redis_link();
    redis_link(const redis_link&) = delete;
    redis_link& operator=(const redis_link&) = delete;

    // Connects and authenticates; `done("")` once commands may be sent, else `done(why)`.
    void connect(std::function<void(std::string)> done);
    // Queues a command (arguments as sent, binary-safe); `h` gets its reply in order.
    void command(std::vector<std::string> args, handler h = {});
    // Closes at once; no handler runs after this (pending ones get nullptr first).
    void close();
    bool connected() const { return connected_ && !closed_; }

    // A message pushed on a channel this link subscribed to: (channel, payload).
    std::function<void(std::string_view, std::string_view)> on_message;
    // The link failed after connect() succeeded (once): the reason.
    std::function<void(std::string)> on_failed;

private:
    void on_resolved(boost::beast::error_code ec,
                     boost::asio::ip::tcp::resolver::results_type results);
    void on_transport();
    void read();
    void flush();
    void dispatch(redisReply* r);
    void arm_deadline();
    void fail(std::string why);

    boost::asio::io_context& ioc_;
    const settings s_;
    boost::asio::ip::tcp::resolver resolver_;
    std::optional<flex_stream> stream_;
    boost::asio::steady_timer deadline_;
    redisReader* reader_{nullptr};
    std::vector<char> in_ = std::vector<char>(16 * 1024);
    std::string out_;     // being written
    std::string queued_;  // waiting for the write in flight
    bool writing_{false};
    struct pending {
        handler h;
        std::chrono::steady_clock::time_point sent;
    };
    std::deque<pending> pending_;
    std::function<void(std::string)> connect_done_;
    bool connected_{false};
    bool closed_{false};
};

// Reply helpers: a reply's text (string, status or error), or "" for anything else.
std::string_view reply_text(const redisReply* r);
bool reply_is_error(const redisReply* r);

}  // namespace wsproxy::cluster
