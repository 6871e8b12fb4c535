#pragma once
// The state a worker thread's sessions share. `shared_state` is created at
// start and outlives every session; its mutable parts are atomics or guarded.
// A `worker` is one io_context and its thread: every session started on it
// stays on it for life, so its members need no locks.
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <unordered_map>
#include <vector>

#include "metrics/registry.hpp"
#include "proxy/relay/chat_registry.hpp"
#include "proxy/http/trusted_peers.hpp"
#include "proxy/base/options.hpp"
#include "proxy/net/edge_wait.hpp"
#include "proxy/relay/session_registry.hpp"
#include "rules/config.hpp"

namespace wsproxy {

class ws_pair;
class http_session;
namespace tap {
class hub;
}

struct shared_state {
    explicit shared_state(proxy_options o) : opts(std::move(o)) {}

    const proxy_options opts;
    std::atomic<std::shared_ptr<const rules::config>> rules;  // swapped on reload
    boost::asio::ssl::context* client_tls{nullptr};           // set when --tls-cert is given
    boost::asio::ssl::context* upstream_tls{nullptr};         // set for wss:// upstreams
    metrics::registry* metrics{nullptr};
    tap::hub* tap{nullptr};  // the live tap (proxy/admin/tap.hpp); set before the workers start
    chat_registry chats;
    session_registry sessions;
    http1::trusted_peers trusted;  // --trusted-proxies
    std::size_t max_connections{0};
    // Client connections accepted and not yet closed, HTTP and WebSocket alike (an
    // upgraded connection's slot passes from its http_session to its ws_pair).
    std::atomic<std::size_t> connections{0};
    std::atomic<bool> draining{false};
    std::atomic<std::uint64_t> next_connection_id{1};
};

struct worker {
    worker(unsigned i, shared_state& s, metrics::shard& m) : index(i), shared(s), stats(m) {}

    boost::asio::io_context ioc{1};
    // Plain legs wait for readability through this: no system call per wait (net/edge_wait.hpp).
    edge_wait readable{ioc};
    const unsigned index;
    shared_state& shared;
    metrics::shard& stats;
    // Live connection pairs on this thread, for drain and snapshots.
    std::unordered_map<std::uint64_t, std::weak_ptr<ws_pair>> pairs;
    // Client connections not (yet) upgraded, for drain: idle ones close at once.
    std::unordered_map<std::uint64_t, std::weak_ptr<http_session>> http_sessions;
    std::uint64_t next_http_id{1};
    // Every plain-TCP leg on this thread reads into this one buffer and keeps only an
    // incomplete frame's bytes for itself: an idle connection holds no read buffer.
    std::vector<char> read_buffer = std::vector<char>(64 * 1024);

    // Masking keys for frames to the backend (RFC 6455 5.3): xorshift seeded from
    // random_device, as Beast's default generator is; masking guards intermediaries
    // against chosen plaintext, it is not secrecy. Never zero: zero means "unmasked"
    // to ws::write_header.
    std::uint32_t next_mask_key() {
        for (;;) {
            mask_state_ ^= mask_state_ << 13;
            mask_state_ ^= mask_state_ >> 7;
            mask_state_ ^= mask_state_ << 17;
            if (auto k = static_cast<std::uint32_t>(mask_state_ >> 16)) return k;
        }
    }

private:
    std::uint64_t mask_state_{std::random_device{}() | (std::uint64_t{std::random_device{}()} << 32) | 1};
};

// Milliseconds of a steady_clock time point.
inline std::int64_t to_ms(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// Milliseconds on a monotonic clock: the engine's notion of time.
inline std::int64_t now_ms() { return to_ms(std::chrono::steady_clock::now()); }

}  // namespace wsproxy
