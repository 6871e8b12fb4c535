#include "replicas.hpp"

#include <hiredis/hiredis.h>

#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>

#include "proxy/base/options.hpp"
#include "proxy/cluster/redis_link.hpp"

namespace chat_backend {

namespace net = boost::asio;
using wsproxy::cluster::redis_link;
using wsproxy::cluster::reply_is_error;
using wsproxy::cluster::reply_text;

namespace {
const std::string prefix = "chat-backend:";
const std::string channel = prefix + "answers";
std::string members_key(const std::string& key) { return prefix + "members:" + key; }
}  // namespace

struct replicas::settings {
  redis_link::settings link;
};

replicas::replicas(const std::string& url, std::string id,
                   std::function<void(const std::string&, const frame_ptr&)> deliver)
    : settings_(std::make_unique<settings>()),
      id_(std::move(id)),
      deliver_(std::move(deliver)),
      retry_(ioc_) {
  try {
    settings_->link.url = wsproxy::cluster::parse_redis_url(url);
  } catch (const wsproxy::startup_error& e) {
    std::string why = e.what();
    if (why.rfind("--shared-state", 0) == 0) why.replace(0, 14, "--redis");
    throw std::invalid_argument(why);
  }
  if (settings_->link.url.tls)
    throw std::invalid_argument("--redis: rediss:// is not supported by the demo backend");
}

replicas::~replicas() { stop(); }

void replicas::start() {
  net::post(ioc_, [this] { connect(); });
  thread_ = std::thread([this] {
    auto guard = net::make_work_guard(ioc_);
    ioc_.run();
  });
}

void replicas::stop() {
  if (!thread_.joinable()) return;
  net::post(ioc_, [this] {
    stopped_ = true;
    if (cmd_) cmd_->close();
    if (sub_) sub_->close();
    retry_.cancel();
    ioc_.stop();
  });
  thread_.join();
}

void replicas::connect() {
  if (stopped_) return;
  cmd_ = std::make_shared<redis_link>(ioc_, settings_->link);
  sub_ = std::make_shared<redis_link>(ioc_, settings_->link);
  auto cmd = cmd_, sub = sub_;
  cmd_->on_failed = sub_->on_failed = [this](std::string) { down(); };
  sub_->on_message = [this](std::string_view, std::string_view payload) {
    auto m = nlohmann::json::parse(payload, nullptr, false);
    if (m.is_discarded() || m.value("from", "") == id_) return;
    const std::string key = m.value("key", "");
    for (const auto& f : m.value("frames", nlohmann::json::array()))
      if (f.is_string()) deliver_(key, std::make_shared<const std::string>(f.get<std::string>()));
  };
  cmd_->connect([this, cmd, sub](std::string why) {
    if (cmd != cmd_) return;
    if (!why.empty()) return down();
    sub->connect([this, cmd, sub](std::string why) {
      if (sub != sub_) return;
      if (!why.empty()) return down();
      sub->command({"SUBSCRIBE", channel}, [this, sub](const redisReply* r) {
        if (sub != sub_ || reply_is_error(r)) return down();
        up_ = true;
        // Listed again after an outage (or a Redis restart that lost them).
        for (const auto& key : present_) cmd_->command({"SADD", members_key(key), id_});
      });
    });
  });
}

void replicas::down() {
  if (stopped_) return;
  up_ = false;
  if (cmd_) cmd_->close();
  if (sub_) sub_->close();
  cmd_.reset();
  sub_.reset();
  retry_.expires_after(std::chrono::milliseconds(500));
  retry_.async_wait([this](boost::system::error_code ec) {
    if (!ec) connect();
  });
}

void replicas::presence(const std::string& key, bool present) {
  net::post(ioc_, [this, key, present] {
    if (present)
      present_.insert(key);
    else
      present_.erase(key);
    if (up_ && cmd_) cmd_->command({present ? "SADD" : "SREM", members_key(key), id_});
  });
}

void replicas::held_elsewhere(const std::string& key, std::function<void(bool)> done) {
  net::post(ioc_, [this, key, done = std::move(done)] {
    if (!up_ || !cmd_) return done(false);
    cmd_->command({"SMEMBERS", members_key(key)}, [this, done](const redisReply* r) {
      bool other = false;
      if (!reply_is_error(r) && r->type == REDIS_REPLY_ARRAY)
        for (std::size_t i = 0; i < r->elements; ++i)
          if (reply_text(r->element[i]) != id_) other = true;
      done(other);
    });
  });
}

void replicas::after_listed(std::function<void()> done) {
  net::post(ioc_, [this, done = std::move(done)] {
    if (!up_ || !cmd_) return done();
    // Commands on one link are answered in order: this one after the SADDs queued before it.
    cmd_->command({"PING"}, [done](const redisReply*) { done(); });
  });
}

void replicas::publish(const std::string& key, const std::vector<frame_ptr>& frames) {
  auto list = nlohmann::json::array();
  for (const auto& f : frames) list.push_back(*f);
  std::string message = nlohmann::json{{"from", id_}, {"key", key}, {"frames", std::move(list)}}.dump();
  net::post(ioc_, [this, message = std::move(message)] {
    if (up_ && cmd_) cmd_->command({"PUBLISH", channel, message});
  });
}

}  // namespace chat_backend
