#include "ws_session.hpp"

#include <algorithm>
#include <deque>
#include <string>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "answer.hpp"
#include "ids.hpp"
#include "rest.hpp"

namespace chat_backend {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using error_code = boost::system::error_code;

namespace {

// The first token of a Sec-WebSocket-Protocol offer ("a, b" -> "a").
std::string first_subprotocol(std::string_view offer) {
  auto end = offer.find(',');
  auto tok = offer.substr(0, end);
  while (!tok.empty() && (tok.front() == ' ' || tok.front() == '\t')) tok.remove_prefix(1);
  while (!tok.empty() && (tok.back() == ' ' || tok.back() == '\t')) tok.remove_suffix(1);
  return std::string(tok);
}

// One WebSocket connection. Lives on one io_context thread for its whole
// life, owned by its pending operations and by its registrations (the
// registry holds it as a member until it leaves or closes). Only deliver()
// is called from other threads, and it only posts.
class ws_session final : public member, public std::enable_shared_from_this<ws_session> {
 public:
  ws_session(std::shared_ptr<shared_state> st, beast::tcp_stream&& stream)
      : st_(std::move(st)), ws_(std::move(stream)), client_id_(make_uuid()) {}

  ~ws_session() override {
    if (accepted_) st_->count.connections_open.fetch_sub(1, std::memory_order_relaxed);
  }

  void run(http::request<http::string_body> req) {
    tenant_ = tenant_from_target(req.target());
    if (tenant_.empty()) tenant_ = st_->opts.tenant;

    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    if (st_->opts.permessage_deflate) {
      websocket::permessage_deflate pmd;
      pmd.server_enable = true;
      ws_.set_option(pmd);
    }
    ws_.read_message_max(st_->opts.max_message_bytes);
    ws_.auto_fragment(false);
    std::string proto;
    if (auto it = req.find(http::field::sec_websocket_protocol); it != req.end())
      proto = first_subprotocol(it->value());
    ws_.set_option(websocket::stream_base::decorator(
        [proto = std::move(proto)](websocket::response_type& res) {
          res.set(http::field::server, "chat-backend");
          if (!proto.empty()) res.set(http::field::sec_websocket_protocol, proto);
        }));
    ws_.async_accept(req, [self = shared_from_this()](error_code ec) { self->on_accept(ec); });
  }

  void deliver(frame_ptr frame) override {
    net::post(ws_.get_executor(), [self = shared_from_this(), f = std::move(frame)]() mutable {
      self->send(std::move(f));
    });
  }

 private:
  void on_accept(error_code ec) {
    if (ec) return;  // a failed handshake: Beast has answered it; nothing registered yet
    accepted_ = true;
    counters::add(st_->count.connections_accepted);
    counters::add(st_->count.connections_open);
    for (auto& f : st_->dia->greeting(client_id_, tenant_))
      send(std::make_shared<const std::string>(std::move(f)));
    do_read();
  }

  void do_read() {
    ws_.async_read(buffer_, [self = shared_from_this()](error_code ec, std::size_t n) {
      self->on_read(ec, n);
    });
  }

  void on_read(error_code ec, std::size_t) {
    if (ec) {
      finish();
      return;
    }
    if (!ws_.got_text()) {
      reply_bad_request("binary frames are not used");
    } else {
      auto data = buffer_.cdata();
      handle(std::string_view(static_cast<const char*>(data.data()), data.size()));
    }
    buffer_.consume(buffer_.size());
    if (closing_) return;
    // Back-pressure: a client that sends faster than it reads its answers
    // waits until its queue drains, instead of growing it without bound.
    if (queued_bytes_ > pause_bytes()) {
      read_paused_ = true;
      return;
    }
    do_read();
  }

  std::size_t pause_bytes() const {
    return std::min<std::size_t>(1u << 20, st_->opts.max_queue_bytes / 2);
  }

  void join(const std::string& chat_id) {
    const auto& d = *st_->dia;
    if (chat_id.empty()) {
      send_own(d.joined(tenant_, {}, false, "chat_id is required"));
      return;
    }
    if (std::find(st_->opts.refuse_joins.begin(), st_->opts.refuse_joins.end(), chat_id) !=
        st_->opts.refuse_joins.end()) {
      send_own(d.joined(tenant_, chat_id, false, "chat not found"));
      return;
    }
    if (st_->reg.join(tenant_, chat_id, shared_from_this())) chats_.push_back(chat_id);
    counters::add(st_->count.joins);
    st_->log.joined(client_id_, chat_id, tenant_);
    if (!st_->fleet) return send_own(d.joined(tenant_, chat_id, true, {}));
    // With --redis the join is acknowledged once Redis lists this replica for the chat: an
    // answer that another replica produces after the client saw chat_joined must find it.
    st_->fleet->after_listed([self = shared_from_this(), chat_id] {
      net::post(self->ws_.get_executor(), [self, chat_id] {
        self->send_own(self->st_->dia->joined(self->tenant_, chat_id, true, {}));
      });
    });
  }

  void handle(std::string_view text) {
    const auto& d = *st_->dia;
    request req = d.parse(text);
    switch (req.kind) {
      case request_kind::bad:
        reply_bad_request(req.error);
        break;
      case request_kind::ping:
        send_own(d.pong(tenant_));
        break;
      case request_kind::join: {
        int delay = 0;
        for (const auto& [chat, ms] : st_->opts.join_delays)
          if (chat == req.chat_id) delay = ms;
        if (delay == 0) {
          join(req.chat_id);
          break;
        }
        auto timer = std::make_shared<net::steady_timer>(ws_.get_executor(),
                                                         std::chrono::milliseconds(delay));
        timer->async_wait([self = shared_from_this(), timer, chat = req.chat_id](beast::error_code ec) {
          if (!ec) self->join(chat);
        });
        break;
      }
      case request_kind::leave:
        if (req.chat_id.empty()) {
          send_own(d.left(tenant_, {}, false, "chat_id is required"));
          break;
        }
        if (!st_->reg.leave(tenant_, req.chat_id, this)) {
          send_own(d.left(tenant_, req.chat_id, false, "not joined to this chat"));
          break;
        }
        std::erase(chats_, req.chat_id);
        counters::add(st_->count.leaves);
        st_->log.left(client_id_, req.chat_id, tenant_);
        send_own(d.left(tenant_, req.chat_id, true, {}));
        break;
      case request_kind::send:
        if (st_->opts.auto_register && st_->reg.join(tenant_, req.chat_id, shared_from_this())) {
          chats_.push_back(req.chat_id);
          counters::add(st_->count.auto_registrations);
          st_->log.auto_registered(client_id_, req.chat_id, tenant_);
        }
        start_answer(st_, ws_.get_executor(), tenant_, std::move(req.chat_id), make_uuid(),
                     std::move(req.content));
        break;
      case request_kind::typing_start:
      case request_kind::typing_stop: {
        auto f = d.typing(tenant_, req.chat_id, req.kind == request_kind::typing_start);
        if (!f.empty())
          st_->reg.broadcast(tenant_, req.chat_id, std::make_shared<const std::string>(std::move(f)),
                             this);
        break;
      }
    }
  }

  void reply_bad_request(std::string_view why) {
    counters::add(st_->count.bad_requests);
    send_own(st_->dia->error(tenant_, "bad_request", why));
  }

  void send_own(std::string frame) { send(std::make_shared<const std::string>(std::move(frame))); }

  // Queues a frame; one write in flight at a time.
  void send(frame_ptr frame) {
    if (closing_ || finished_ || !accepted_) return;
    queued_bytes_ += frame->size();
    queue_.push_back(std::move(frame));
    if (queued_bytes_ > st_->opts.max_queue_bytes) {
      st_->log.dropped(client_id_, "send queue over --max-queue-bytes");
      begin_close(websocket::close_code::policy_error, "slow consumer");
      return;
    }
    if (queue_.size() == 1) do_write();
  }

  void do_write() {
    ws_.text(true);
    ws_.async_write(net::buffer(*queue_.front()),
                    [self = shared_from_this()](error_code ec, std::size_t n) {
                      self->on_write(ec, n);
                    });
  }

  void on_write(error_code ec, std::size_t) {
    if (queue_.empty()) return;  // cleared by begin_close / finish
    queued_bytes_ -= queue_.front()->size();
    queue_.pop_front();
    if (ec) {
      queue_.clear();
      queued_bytes_ = 0;
      return;  // the pending read fails too and finishes the session
    }
    counters::add(st_->count.frames_sent);
    if (!queue_.empty()) do_write();
    if (read_paused_ && !closing_ && !finished_ && queued_bytes_ <= pause_bytes() / 2) {
      read_paused_ = false;
      do_read();
    }
  }

  void begin_close(websocket::close_code code, const char* reason) {
    if (closing_) return;
    closing_ = true;
    // Keep only the frame being written; Beast runs the close after it.
    if (!queue_.empty()) queue_.erase(queue_.begin() + 1, queue_.end());
    queued_bytes_ = queue_.empty() ? 0 : queue_.front()->size();
    ws_.async_close(websocket::close_reason(code, reason),
                    [self = shared_from_this()](error_code) { self->finish(); });
  }

  // The connection is over: drop every registration (and with them the
  // registry's references to this session).
  void finish() {
    if (finished_) return;
    finished_ = true;
    for (const auto& chat : chats_) st_->reg.leave(tenant_, chat, this);
    chats_.clear();
    if (!closing_) {
      error_code ignored;
      beast::get_lowest_layer(ws_).socket().close(ignored);
    }
  }

  std::shared_ptr<shared_state> st_;
  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  std::deque<frame_ptr> queue_;
  std::size_t queued_bytes_ = 0;
  std::string client_id_;
  std::string tenant_;
  std::vector<std::string> chats_;  // chats this session is registered for
  bool accepted_ = false;
  bool closing_ = false;
  bool finished_ = false;
  bool read_paused_ = false;
};

}  // namespace

void run_ws_session(std::shared_ptr<shared_state> st, beast::tcp_stream stream,
                    http::request<http::string_body> req) {
  std::make_shared<ws_session>(std::move(st), std::move(stream))->run(std::move(req));
}

}  // namespace chat_backend
