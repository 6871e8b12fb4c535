#pragma once
// What every connection and every thread of one server shares. Created by
// server::start() and held through shared_ptr by each session, so it outlives
// the last of them. opts and dialect are immutable; logger, registry and
// store are thread-safe; counters are relaxed atomics.

#include <atomic>
#include <cstdint>
#include <memory>

#include "chat_backend.hpp"
#include "dialect.hpp"
#include "log.hpp"
#include "registry.hpp"
#include "replicas.hpp"
#include "store.hpp"

namespace chat_backend {

struct counters {
  std::atomic<std::uint64_t> connections_accepted{0}, connections_open{0}, http_requests{0},
      user_messages{0}, answers_delivered{0}, unregistered_broadcasts{0}, frames_sent{0},
      bad_requests{0}, joins{0}, leaves{0}, auto_registrations{0}, answers_dropped{0},
      answers_failed{0};

  static void add(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) {
    c.fetch_add(n, std::memory_order_relaxed);
  }
};

struct shared_state {
  explicit shared_state(const options& o)
      : opts(o),
        dia(make_dialect(o.dialect, o.cid)),
        log(o.format, o.log),
        history(o.history_limit) {}

  const options opts;
  const std::unique_ptr<const dialect> dia;
  logger log;
  registry reg;
  store history;
  counters count;
  // --redis: the other replicas (null without it). Started and stopped by the server.
  std::unique_ptr<replicas> fleet;
};

}  // namespace chat_backend
