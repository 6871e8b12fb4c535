#include "answer.hpp"

#include <chrono>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "ids.hpp"

namespace chat_backend {

namespace net = boost::asio;

namespace {

// Streams the prepared frames of one answer, pausing before each chunk after
// the first. Lives on one executor, kept alive by its pending timer.
class answer_stream : public std::enable_shared_from_this<answer_stream> {
 public:
  answer_stream(std::shared_ptr<shared_state> st, const net::any_io_executor& ex, std::string key)
      : st_(std::move(st)), timer_(ex), key_(std::move(key)) {}

  // frames_[i] is preceded by a pause when pause_before_[i].
  std::vector<frame_ptr> frames_;
  std::vector<bool> pause_before_;

  void run() { step(); }

 private:
  void step() {
    while (next_ < frames_.size()) {
      if (pause_before_[next_] && !waited_) {
        waited_ = true;
        timer_.expires_after(std::chrono::milliseconds(st_->opts.chunk_delay_ms));
        timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
          if (!ec) self->step();
        });
        return;
      }
      waited_ = false;
      st_->reg.broadcast_by_key(key_, frames_[next_]);
      ++next_;
    }
  }

  std::shared_ptr<shared_state> st_;
  net::steady_timer timer_;
  std::string key_;  // registry key of the chat
  std::size_t next_ = 0;
  bool waited_ = false;
};

frame_ptr share(std::string s) { return std::make_shared<const std::string>(std::move(s)); }


// The answer of a registered chat: spoiled on purpose (--drop-answers, --error-answers) or
// streamed to this replica's members, and with --redis sent whole to the other replicas,
// whose members get it from them. `local`: this replica has members of the chat.
void deliver_answer(const std::shared_ptr<shared_state>& st, const net::any_io_executor& ex,
                    const std::string& tenant, const std::string& chat_id,
                    const std::string& response_id, const std::string& in_reply_to,
                    const std::string& text, std::uint64_t nth, bool local) {
  auto& s = *st;
  std::string key = registry::key(tenant, chat_id);
  std::vector<frame_ptr> frames;
  std::vector<bool> pause;
  bool paced = false;  // chunks after the first wait --chunk-delay-ms
  auto push = [&](std::string f, bool p) {
    if (f.empty()) return;
    frames.push_back(share(std::move(f)));
    pause.push_back(p);
  };
  if (s.opts.drop_answers != 0 && nth % s.opts.drop_answers == 0) {
    counters::add(s.count.answers_dropped);
    s.log.answer_dropped(chat_id, tenant);
    return;
  }
  if (s.opts.error_answers != 0 && nth % s.opts.error_answers == 0) {
    counters::add(s.count.answers_failed);
    s.log.answer_failed(chat_id, tenant);
    push(s.dia->answer_error(tenant, chat_id, "answer_failed", "the answer could not be produced"),
         false);
  } else {
    counters::add(s.count.answers_delivered);
    const auto& d = *s.dia;
    auto pieces = split_answer(text, s.opts.chunks);
    paced = pieces.size() > 1;
    frames.reserve(pieces.size() + 4);
    push(d.typing(tenant, chat_id, true), false);
    push(d.answer_start(tenant, chat_id, response_id, in_reply_to), false);
    for (std::size_t i = 0; i < pieces.size(); ++i)
      push(d.answer_chunk(tenant, chat_id, response_id, i, pieces[i]), i > 0);
    push(d.answer_end(tenant, chat_id, response_id, text), false);
    push(d.typing(tenant, chat_id, false), false);
  }
  // Other replicas get the answer at once, unpaced: they only relay it to their sockets.
  if (s.fleet) s.fleet->publish(key, frames);
  if (!local) return;

  if (s.opts.chunk_delay_ms == 0 || !paced) {
    for (const auto& f : frames) s.reg.broadcast_by_key(key, f);
    return;
  }
  auto stream = std::make_shared<answer_stream>(st, ex, std::move(key));
  stream->frames_ = std::move(frames);
  stream->pause_before_ = std::move(pause);
  stream->run();
}

// The answer's frames go out now: registration is checked here, once (on every replica
// with --redis: "No clients registered" only when none of them has a member).
void broadcast_answer(const std::shared_ptr<shared_state>& st, const net::any_io_executor& ex,
                      const std::string& tenant, const std::string& chat_id,
                      const std::string& response_id, const std::string& in_reply_to,
                      const std::string& text, std::uint64_t nth) {
  auto& s = *st;
  if (!s.reg.members(tenant, chat_id)->empty())
    return deliver_answer(st, ex, tenant, chat_id, response_id, in_reply_to, text, nth, true);
  if (!s.fleet) {
    counters::add(s.count.unregistered_broadcasts);
    s.log.no_clients(chat_id, tenant);
    return;
  }
  s.fleet->held_elsewhere(registry::key(tenant, chat_id), [=](bool elsewhere) {
    net::post(ex, [=] {
      if (elsewhere)
        return deliver_answer(st, ex, tenant, chat_id, response_id, in_reply_to, text, nth, false);
      counters::add(st->count.unregistered_broadcasts);
      st->log.no_clients(chat_id, tenant);
    });
  });
}

}  // namespace

void start_answer(const std::shared_ptr<shared_state>& st, const net::any_io_executor& ex,
                  std::string tenant, std::string chat_id, std::string in_reply_to,
                  std::string content) {
  auto& s = *st;
  // The message's place in arrival order picks the answers that --drop-answers and
  // --error-answers spoil.
  const std::uint64_t nth = s.count.user_messages.fetch_add(1, std::memory_order_relaxed) + 1;
  s.history.append(tenant, chat_id, "user", in_reply_to, content, now_ms());
  std::string text = answer_text(content);
  std::string response_id = make_uuid();
  s.history.append(tenant, chat_id, "assistant", response_id, text, now_ms());

  if (s.opts.answer_delay_ms == 0)
    return broadcast_answer(st, ex, tenant, chat_id, response_id, in_reply_to, text, nth);
  auto timer = std::make_shared<net::steady_timer>(ex);
  timer->expires_after(std::chrono::milliseconds(s.opts.answer_delay_ms));
  timer->async_wait([st, ex, timer, tenant = std::move(tenant), chat_id = std::move(chat_id),
                     response_id = std::move(response_id),
                     in_reply_to = std::move(in_reply_to), text = std::move(text),
                     nth](const boost::system::error_code& ec) {
    if (!ec) broadcast_answer(st, ex, tenant, chat_id, response_id, in_reply_to, text, nth);
  });
}

}  // namespace chat_backend
