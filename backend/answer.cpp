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

}  // namespace

void start_answer(const std::shared_ptr<shared_state>& st, const net::any_io_executor& ex,
                  std::string tenant, std::string chat_id, std::string in_reply_to,
                  std::string content) {
  auto& s = *st;
  counters::add(s.count.user_messages);
  s.history.append(tenant, chat_id, "user", in_reply_to, content, now_ms());
  const std::string text = answer_text(content);
  const std::string response_id = make_uuid();
  s.history.append(tenant, chat_id, "assistant", response_id, text, now_ms());

  std::string key = registry::key(tenant, chat_id);
  if (s.reg.members_by_key(key)->empty()) {
    counters::add(s.count.unregistered_broadcasts);
    s.log.no_clients(chat_id, tenant);
    return;
  }
  counters::add(s.count.answers_delivered);

  const auto& d = *s.dia;
  auto pieces = split_answer(text, s.opts.chunks);
  std::vector<frame_ptr> frames;
  std::vector<bool> pause;
  frames.reserve(pieces.size() + 4);
  auto push = [&](std::string f, bool p) {
    if (f.empty()) return;
    frames.push_back(share(std::move(f)));
    pause.push_back(p);
  };
  push(d.typing(tenant, chat_id, true), false);
  push(d.answer_start(tenant, chat_id, response_id, in_reply_to), false);
  for (std::size_t i = 0; i < pieces.size(); ++i)
    push(d.answer_chunk(tenant, chat_id, response_id, i, pieces[i]), i > 0);
  push(d.answer_end(tenant, chat_id, response_id, text), false);
  push(d.typing(tenant, chat_id, false), false);

  if (s.opts.chunk_delay_ms == 0 || pieces.size() <= 1) {
    for (const auto& f : frames) s.reg.broadcast_by_key(key, f);
    return;
  }
  auto stream = std::make_shared<answer_stream>(st, ex, std::move(key));
  stream->frames_ = std::move(frames);
  stream->pause_before_ = std::move(pause);
  stream->run();
}

}  // namespace chat_backend
