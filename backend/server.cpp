#include <unistd.h>

#include <atomic>
#include <charconv>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "chat_backend.hpp"
#include "http_session.hpp"
#include "state.hpp"

namespace chat_backend {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

// io_context pool (one per thread, as in Asio's http/server2): the acceptor
// lives on the first, and each accepted socket is handed round-robin to the
// next, where its session stays for life.
struct server::impl {
  explicit impl(options o) : opts(std::move(o)) {
    if (opts.threads == 0) opts.threads = 1;
  }

  options opts;
  std::shared_ptr<shared_state> st;
  std::vector<std::unique_ptr<net::io_context>> iocs;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
  std::vector<std::thread> threads;
  std::optional<tcp::acceptor> acceptor;
  std::optional<net::steady_timer> retry_timer;
  std::size_t next = 0;  // acceptor thread only
  unsigned short bound_port = 0;
  bool started = false;
  bool running = false;  // listening and threads up
  bool stopped = false;

  bool start(std::error_code& out) {
    if (started) {
      out = std::make_error_code(std::errc::operation_in_progress);
      return false;
    }
    started = true;
    st = std::make_shared<shared_state>(opts);
    if (!opts.redis.empty()) {
      std::string id = opts.replica_id;
      if (id.empty()) {
        char host[256] = {};
        ::gethostname(host, sizeof host - 1);
        id = std::string(host) + "-" + std::to_string(::getpid());
      }
      auto* s = st.get();
      s->fleet = std::make_unique<replicas>(
          opts.redis, id, [s](const std::string& key, const frame_ptr& f) {
            s->reg.broadcast_by_key(key, f);
          });
      s->reg.on_presence = [s](const std::string& key, bool present) {
        s->fleet->presence(key, present);
      };
      s->fleet->start();
    }
    for (unsigned i = 0; i < opts.threads; ++i) {
      iocs.push_back(std::make_unique<net::io_context>(1));
      guards.push_back(net::make_work_guard(*iocs.back()));
    }
    error_code ec;
    tcp::resolver resolver(*iocs[0]);
    auto results = resolver.resolve(opts.host, std::to_string(opts.port),
                                    tcp::resolver::numeric_service, ec);
    if (!ec && results.empty()) ec = net::error::host_not_found;
    if (ec) {
      out = ec;
      return false;
    }
    tcp::endpoint ep = results.begin()->endpoint();
    acceptor.emplace(*iocs[0]);
    acceptor->open(ep.protocol(), ec);
    if (!ec) acceptor->set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor->bind(ep, ec);
    if (!ec) acceptor->listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      acceptor.reset();
      out = ec;
      return false;
    }
    bound_port = acceptor->local_endpoint(ec).port();
    st->log.listening(ep.address().to_string(), bound_port);
    retry_timer.emplace(*iocs[0]);
    do_accept();
    for (auto& ioc : iocs) threads.emplace_back([&ioc] { ioc->run(); });
    running = true;
    return true;
  }

  void do_accept() {
    auto& target = *iocs[next];
    next = (next + 1) % iocs.size();
    acceptor->async_accept(target, [this](error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted || !acceptor->is_open()) return;
      if (ec) {
        // Out of descriptors and the like: back off instead of spinning.
        retry_timer->expires_after(std::chrono::milliseconds(50));
        retry_timer->async_wait([this](error_code e) {
          if (!e) do_accept();
        });
        return;
      }
      socket.set_option(tcp::no_delay(true), ec);
      run_http_session(st, std::move(socket));
      do_accept();
    });
  }

  void stop() {
    if (!started || stopped) return;
    stopped = true;
    // The other replicas' answers are delivered through the io_contexts: they go first.
    if (st && st->fleet) st->fleet->stop();
    for (auto& ioc : iocs) ioc->stop();
    for (auto& t : threads)
      if (t.joinable()) t.join();
    guards.clear();
    // Registrations hold sessions; drop them, then the sessions go with their
    // io_contexts' pending handlers.
    if (st) st->reg.clear();
    acceptor.reset();
    retry_timer.reset();
    iocs.clear();
    if (running) st->log.stopped();
  }
};

server::server(options opts) : impl_(std::make_unique<impl>(std::move(opts))) {}

server::~server() { stop(); }

void server::start() {
  std::error_code ec;
  if (!start(ec))
    throw std::system_error(ec, "chat-backend: cannot listen on " + impl_->opts.host + ":" +
                                    std::to_string(impl_->opts.port));
}

bool server::start(std::error_code& ec) {
  ec.clear();
  bool ok = impl_->start(ec);
  if (!ok) impl_->stop();
  return ok;
}

void server::stop() { impl_->stop(); }

unsigned short server::port() const { return impl_->bound_port; }

const options& server::config() const { return impl_->opts; }

stats server::snapshot() const {
  stats s;
  if (!impl_->st) return s;
  const auto& c = impl_->st->count;
  auto rd = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  s.connections_accepted = rd(c.connections_accepted);
  s.connections_open = rd(c.connections_open);
  s.http_requests = rd(c.http_requests);
  s.user_messages = rd(c.user_messages);
  s.answers_delivered = rd(c.answers_delivered);
  s.unregistered_broadcasts = rd(c.unregistered_broadcasts);
  s.frames_sent = rd(c.frames_sent);
  s.bad_requests = rd(c.bad_requests);
  s.joins = rd(c.joins);
  s.leaves = rd(c.leaves);
  s.auto_registrations = rd(c.auto_registrations);
  s.answers_dropped = rd(c.answers_dropped);
  s.answers_failed = rd(c.answers_failed);
  return s;
}

std::uint64_t server::unregistered_broadcasts() const {
  return impl_->st ? impl_->st->count.unregistered_broadcasts.load(std::memory_order_relaxed) : 0;
}

std::size_t server::members(std::string_view chat_id, std::string_view tenant) const {
  if (!impl_->st) return 0;
  return impl_->st->reg.count(tenant.empty() ? std::string_view(impl_->opts.tenant) : tenant,
                              chat_id);
}

bool parse_listen(std::string_view text, std::string& host, unsigned short& port) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string_view h = text.substr(0, colon), p = text.substr(colon + 1);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
    h = h.substr(1, h.size() - 2);
  } else if (h.find(':') != std::string_view::npos) {
    return false;  // a bare IPv6 address needs brackets
  }
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
  if (p.empty() || ec != std::errc() || ptr != p.data() + p.size() || value > 65535) return false;
  host = h.empty() ? "127.0.0.1" : std::string(h);
  port = static_cast<unsigned short>(value);
  return true;
}

}  // namespace chat_backend
