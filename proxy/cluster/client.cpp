#include "proxy/cluster/client.hpp"

#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>
#include <cstdlib>
#include <cstring>
#include <random>

#include "proxy/base/log.hpp"
#include "proxy/base/run_loop.hpp"

namespace wsproxy::cluster {
namespace net = boost::asio;
namespace beast = boost::beast;
using op = metrics::shared_state_op;
using result = metrics::shared_state_result;

namespace {

constexpr std::chrono::milliseconds first_backoff{100};
constexpr std::chrono::milliseconds max_backoff{5000};

std::int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string default_pod_id() {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::strcpy(host, "wsproxy");
    std::string id(host);
    id.push_back('-');
    id.append(std::to_string(::getpid()));
    return id;
}

std::chrono::milliseconds ms_of(double seconds) {
    return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
}

}  // namespace

std::string session_hash(const std::string& session) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_Digest(session.data(), session.size(), digest, &size, EVP_sha256(), nullptr);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(size * 2);
    for (unsigned i = 0; i < size; ++i) {
        out.push_back(hex[digest[i] >> 4]);
        out.push_back(hex[digest[i] & 15]);
    }
    return out;
}

client::client(const cluster_options& o, metrics::registry& metrics, std::int64_t chat_ttl_s)
    : metrics_(metrics),
      prefix_(o.prefix),
      pod_id_(o.pod_id.empty() ? default_pod_id() : o.pod_id),
      channel_(o.prefix + "pod:" + pod_id_),
      socket_ttl_ms_(ms_of(o.socket_ttl).count()),
      chat_ttl_ms_(chat_ttl_s * 1000),
      retry_(ioc_),
      beat_(ioc_) {
    link_settings_.url = parse_redis_url(o.url);
    if (!o.password_file.empty())
        link_settings_.password = read_token_file(o.password_file, "--shared-state-password-file");
    link_settings_.timeout = ms_of(o.timeout);
    if (link_settings_.url.tls) {
        auto& ctx = tls_.emplace(net::ssl::context::tls_client);
        ctx.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_tlsv1 |
                        net::ssl::context::no_tlsv1_1);
        ctx.set_verify_mode(net::ssl::verify_peer);
        ctx.set_default_verify_paths();  // SSL_CERT_FILE / SSL_CERT_DIR name a private CA
        link_settings_.tls = &ctx;
    }
}

client::~client() { stop(); }

void client::start(join_handler on_join) {
    on_join_ = std::move(on_join);
    log::write(log::level::info, "shared_state_starting",
               {{"redis", link_settings_.url.text}, {"pod", pod_id_}});
    net::post(ioc_, [this] { connect(); });
    thread_ = std::thread([this] {
        auto guard = net::make_work_guard(ioc_);
        run_loop(ioc_, "shared_state");
    });
}

void client::stop() {
    if (!thread_.joinable()) return;
    net::post(ioc_, [this] {
        stopped_ = true;
        if (cmd_) cmd_->close();
        if (sub_) sub_->close();
        retry_.cancel();
        beat_.cancel();
        for (auto& [id, w] : waits_) w.timer->cancel();
        ioc_.stop();
    });
    thread_.join();
    up_.store(false);
    metrics_.set_shared_state_up(false);
}

void client::count(op o, result r) {
    metrics_.control().count(metrics::proxy_stat::shared_state_operations,
                             metrics::shared_state_label(o, r));
}

std::string client::key_of(const std::string& session_hash, const char* what) const {
    std::string k = prefix_;
    k.append("session:").append(session_hash).push_back(':');
    k.append(what);
    return k;
}

void client::connect() {
    if (stopped_) return;
    if (state_ != state::starting) state_ = state::connecting;
    cmd_ = std::make_shared<redis_link>(ioc_, link_settings_);
    sub_ = std::make_shared<redis_link>(ioc_, link_settings_);
    auto cmd = cmd_, sub = sub_;
    for (auto* l : {&cmd_, &sub_})
        (*l)->on_failed = [this, link = l->get()](std::string why) {
            if (link == cmd_.get() || link == sub_.get()) on_link_down(why);
        };
    sub_->on_message = [this](std::string_view, std::string_view payload) { on_message(payload); };
    cmd_->connect([this, cmd, sub](std::string why) {
        if (cmd != cmd_) return;
        if (!why.empty()) return on_link_down(why);
        sub->connect([this, cmd, sub](std::string why) {
            if (sub != sub_) return;
            if (!why.empty()) return on_link_down(why);
            sub->command({"SUBSCRIBE", channel_}, [this, sub](const redisReply* r) {
                if (sub != sub_ || !r) return;
                if (reply_is_error(r))
                    return on_link_down("SUBSCRIBE refused: " + std::string(reply_text(r)));
                went_up();
            });
        });
    });
}

void client::went_up() {
    const bool was_down = state_ == state::down || state_ == state::connecting;
    state_ = state::up;
    backoff_ = std::chrono::milliseconds(0);
    up_.store(true, std::memory_order_relaxed);
    metrics_.set_shared_state_up(true);
    count(op::connect, result::ok);
    log::write(log::level::info, "shared_state_up",
               {{"redis", link_settings_.url.text},
                {"pod", pod_id_},
                {"recovered", was_down},
                {"sessions", sessions_.size()}});
    heartbeat();  // lists this pod's sessions again after an outage
}

void client::on_link_down(const std::string& why) {
    if (stopped_) return;
    if (cmd_) cmd_->close();
    if (sub_) sub_->close();
    cmd_.reset();
    sub_.reset();
    beat_.cancel();
    count(op::connect, result::error);
    const bool change = state_ == state::up || state_ == state::starting;
    up_.store(false, std::memory_order_relaxed);
    metrics_.set_shared_state_up(false);
    if (change) {
        metrics_.control().count(metrics::proxy_stat::shared_state_degraded);
        log::write(log::level::warn, "shared_state_down",
                   {{"redis", link_settings_.url.text},
                    {"error", why},
                    {"effect", "local-only: REST joins and rejoins reach only this pod's sockets "
                               "until Redis is back"}});
    } else {
        log::write(log::level::debug, "shared_state_retry_failed", {{"error", why}});
    }
    state_ = state::down;
    // Requests waiting for other pods' answers get none now.
    std::vector<std::string> ids;
    for (auto& [id, w] : waits_) ids.push_back(id);
    for (auto& id : ids) finish_wait(id);
    backoff_ = backoff_.count() == 0 ? first_backoff : std::min(max_backoff, backoff_ * 2);
    static thread_local std::minstd_rand jitter{std::random_device{}()};
    const auto spread = backoff_.count() / 5;
    auto wait = backoff_ + std::chrono::milliseconds(
                               spread ? static_cast<std::int64_t>(jitter() % (2 * spread)) - spread
                                      : 0);
    retry_.expires_after(wait);
    retry_.async_wait([this](beast::error_code ec) {
        if (!ec) connect();
    });
}

void client::arm_heartbeat() {
    beat_.expires_after(std::chrono::milliseconds(std::max<std::int64_t>(socket_ttl_ms_ / 3, 10)));
    beat_.async_wait([this](beast::error_code ec) {
        if (!ec) heartbeat();
    });
}

// Every session with a socket here is listed again with this pod's time, and its key's
// life extended: a pod that dies drops out of every list within --shared-state-ttl.
void client::heartbeat() {
    if (state_ != state::up || !cmd_) return;
    arm_heartbeat();
    if (sessions_.empty()) return;
    const auto now = std::to_string(wall_ms());
    const auto ttl = std::to_string(socket_ttl_ms_);
    auto failed = std::make_shared<bool>(false);
    std::size_t n = 0;
    for (const auto& [hash, s] : sessions_) {
        const auto key = key_of(hash, "pods");
        cmd_->command({"ZADD", key, now, pod_id_}, [failed](const redisReply* r) {
            if (reply_is_error(r)) *failed = true;
        });
        const bool last = ++n == sessions_.size();
        cmd_->command({"PEXPIRE", key, ttl}, [this, failed, last](const redisReply* r) {
            if (reply_is_error(r)) *failed = true;
            if (last) count(op::heartbeat, *failed ? result::error : result::ok);
        });
    }
}

void client::session_opened(const std::string& session) {
    net::post(ioc_, [this, hash = session_hash(session), session] {
        auto& s = sessions_[hash];
        s.session = session;
        if (++s.sockets != 1) return;
        if (state_ != state::up) return count(op::register_, result::skipped);
        const auto key = key_of(hash, "pods");
        cmd_->command({"ZADD", key, std::to_string(wall_ms()), pod_id_});
        cmd_->command({"PEXPIRE", key, std::to_string(socket_ttl_ms_)},
                      [this](const redisReply* r) {
                          count(op::register_, reply_is_error(r) ? result::error : result::ok);
                      });
    });
}

void client::session_closed(const std::string& session) {
    net::post(ioc_, [this, hash = session_hash(session)] {
        auto it = sessions_.find(hash);
        if (it == sessions_.end() || --it->second.sockets != 0) return;
        sessions_.erase(it);
        if (state_ != state::up) return count(op::register_, result::skipped);
        cmd_->command({"ZREM", key_of(hash, "pods"), pod_id_}, [this](const redisReply* r) {
            count(op::register_, reply_is_error(r) ? result::error : result::ok);
        });
    });
}

void client::remember_chat(const std::string& session, const std::string& chat,
                           std::size_t max_chats) {
    net::post(ioc_, [this, hash = session_hash(session), chat, max_chats] {
        if (state_ != state::up) return count(op::remember, result::skipped);
        const auto key = key_of(hash, "chats");
        cmd_->command({"ZADD", key, std::to_string(wall_ms()), chat});
        // Only the newest max_chats stay (rank 0 is the oldest).
        cmd_->command({"ZREMRANGEBYRANK", key, "0", std::to_string(-1 - static_cast<long long>(max_chats))});
        cmd_->command({"PEXPIRE", key, std::to_string(chat_ttl_ms_)}, [this](const redisReply* r) {
            count(op::remember, reply_is_error(r) ? result::error : result::ok);
        });
    });
}

void client::lookup_chats(const std::string& session, std::int64_t ttl_ms, std::size_t max,
                          std::function<void(chat_list)> done) {
    net::post(ioc_, [this, hash = session_hash(session), ttl_ms, max, done = std::move(done)] {
        if (state_ != state::up) {
            count(op::lookup, result::skipped);
            return done({});
        }
        const auto now = wall_ms();
        cmd_->command({"ZREVRANGEBYSCORE", key_of(hash, "chats"), "+inf",
                       std::to_string(now - ttl_ms), "WITHSCORES", "LIMIT", "0",
                       std::to_string(max)},
                      [this, now, done](const redisReply* r) {
                          chat_list out;
                          if (reply_is_error(r) || r->type != REDIS_REPLY_ARRAY) {
                              count(op::lookup, result::error);
                              return done(std::move(out));
                          }
                          count(op::lookup, result::ok);
                          for (std::size_t i = 0; i + 1 < r->elements; i += 2) {
                              const std::string at(reply_text(r->element[i + 1]));
                              std::int64_t when = std::atoll(at.c_str());
                              out.emplace_back(std::string(reply_text(r->element[i])),
                                               std::max<std::int64_t>(0, now - when));
                          }
                          done(std::move(out));
                      });
    });
}

void client::request_joins(const std::string& session, const std::string& chat,
                           const std::string& cause, std::int64_t wait_ms,
                           std::function<void(bool, std::size_t)> done) {
    net::post(ioc_, [this, hash = session_hash(session), chat, cause, wait_ms,
                     done = std::move(done)]() mutable {
        if (state_ != state::up) {
            count(op::join_request, result::skipped);
            return done(false, 0);
        }
        const auto started = std::chrono::steady_clock::now();
        cmd_->command(
            {"ZRANGEBYSCORE", key_of(hash, "pods"), std::to_string(wall_ms() - socket_ttl_ms_),
             "+inf"},
            [this, hash, chat, cause, wait_ms, started, done](const redisReply* r) mutable {
                if (reply_is_error(r) || r->type != REDIS_REPLY_ARRAY || !cmd_) {
                    count(op::join_request, result::error);
                    return done(false, 0);
                }
                std::vector<std::string> pods;
                for (std::size_t i = 0; i < r->elements; ++i)
                    if (reply_text(r->element[i]) != pod_id_)
                        pods.emplace_back(reply_text(r->element[i]));
                count(op::join_request, result::ok);
                if (pods.empty()) return done(false, 0);
                const std::string id = pod_id_ + "/" + std::to_string(next_request_++);
                auto& w = waits_[id];
                w.asked = w.left = pods.size();
                w.started = started;
                w.done = std::move(done);
                w.timer = std::make_unique<net::steady_timer>(ioc_);
                w.timer->expires_after(std::chrono::milliseconds(wait_ms));
                w.timer->async_wait([this, id](beast::error_code ec) {
                    if (!ec) finish_wait(id);
                });
                const std::string message = nlohmann::json{{"type", "join"},
                                                           {"id", id},
                                                           {"from", pod_id_},
                                                           {"session", hash},
                                                           {"chat", chat},
                                                           {"cause", cause}}
                                                .dump();
                for (const auto& pod : pods) {
                    // A pod still listed but gone (no subscriber) will never answer.
                    cmd_->command({"PUBLISH", prefix_ + "pod:" + pod, message},
                                  [this, id](const redisReply* r) {
                                      if (r && r->type == REDIS_REPLY_INTEGER && r->integer > 0)
                                          return;
                                      auto it = waits_.find(id);
                                      if (it != waits_.end() && --it->second.left == 0)
                                          finish_wait(id);
                                  });
                }
            });
    });
}

void client::finish_wait(const std::string& id) {
    auto it = waits_.find(id);
    if (it == waits_.end()) return;
    auto w = std::move(it->second);
    waits_.erase(it);
    w.timer->cancel();
    if (w.left == 0) {
        const auto took = std::chrono::steady_clock::now() - w.started;
        metrics_.control().observe(
            metrics::histogram::shared_state_join,
            static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::nanoseconds>(took).count()));
    }
    w.done(w.joined, w.asked);
}

void client::on_message(std::string_view payload) {
    auto m = nlohmann::json::parse(payload, nullptr, false);
    if (m.is_discarded() || !m.is_object()) return;
    const std::string type = m.value("type", "");
    const std::string id = m.value("id", "");
    if (type == "ack") {
        auto it = waits_.find(id);
        if (it == waits_.end()) return;  // answered after rest.wait_ms: nobody waits
        it->second.joined = it->second.joined || m.value("joined", false);
        if (--it->second.left == 0) finish_wait(id);
        return;
    }
    if (type != "join") return;
    const std::string from = m.value("from", "");
    auto s = sessions_.find(m.value("session", ""));
    if (from.empty() || s == sessions_.end() || !on_join_) return answer_join(from, id, false);
    on_join_(s->second.session, m.value("chat", ""), m.value("cause", ""),
             [this, from, id](bool joined) {
                 net::post(ioc_, [this, from, id, joined] { answer_join(from, id, joined); });
             });
}

void client::answer_join(const std::string& from, const std::string& id, bool joined) {
    if (from.empty() || state_ != state::up || !cmd_) return count(op::join_answer, result::skipped);
    cmd_->command({"PUBLISH", prefix_ + "pod:" + from,
                   nlohmann::json{{"type", "ack"}, {"id", id}, {"joined", joined}}.dump()},
                  [this](const redisReply* r) {
                      count(op::join_answer, reply_is_error(r) ? result::error : result::ok);
                  });
}

}  // namespace wsproxy::cluster
