#pragma once
// Several chat-backend replicas behind one load balancer (--redis URL), as multi-replica chat
// backends do: each replica lists, in Redis, the chats it has registered sockets for, and
// sends every answer to the others over one pub/sub channel; the replica that holds a
// registered socket delivers it. "No clients registered" is logged only when no replica has
// one. Redis names: <prefix>members:<tenant>\0<chat> (a set of replica ids) and the channel
// <prefix>answers. Runs on a thread of its own; every public function may be called from any
// thread. While Redis is down the replica works alone and reconnects every 500 ms.
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "registry.hpp"

namespace wsproxy::cluster {
class redis_link;
}

namespace chat_backend {

class replicas {
 public:
  // Throws std::invalid_argument on a bad URL (the message says what to write).
  // `deliver(key, frame)`: hand a frame another replica answered to this replica's members.
  replicas(const std::string& url, std::string id,
           std::function<void(const std::string&, const frame_ptr&)> deliver);
  ~replicas();
  void start();
  void stop();

  const std::string& id() const { return id_; }
  // This replica's first member of chat `key` registered / its last one left.
  void presence(const std::string& key, bool present);
  // Whether another replica has a member of `key`; `done` runs on the replicas' thread
  // (false at once while Redis is down).
  void held_elsewhere(const std::string& key, std::function<void(bool)> done);
  // `done()` once every presence() change made before this call is in Redis (or at once
  // while Redis is down); on the replicas' thread.
  void after_listed(std::function<void()> done);
  // The frames of one answer, for the other replicas' members of `key`.
  void publish(const std::string& key, const std::vector<frame_ptr>& frames);

 private:
  void connect();
  void down();

  boost::asio::io_context ioc_{1};
  std::thread thread_;
  struct settings;
  std::unique_ptr<settings> settings_;
  const std::string id_;
  std::function<void(const std::string&, const frame_ptr&)> deliver_;
  std::shared_ptr<wsproxy::cluster::redis_link> cmd_, sub_;
  boost::asio::steady_timer retry_;
  std::unordered_set<std::string> present_;  // keys with members here (replicas' thread)
  bool up_ = false;
  bool stopped_ = false;
};

}  // namespace chat_backend
