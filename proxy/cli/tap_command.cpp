// `wsproxy tap`: a live view of /tap in the terminal, from one proxy or several merged.
//
// Each admin address is one `tap_source`, a /tap stream that outlives restarts of its proxy:
//
//   state       event                                 next        says on stderr
//   connecting  handshake done                        live        "reconnected to X" after a loss
//   connecting  unreachable, never live, no --wait    gone        why, and the exit code is 1
//   connecting  unreachable otherwise                 waiting     "...; retrying in D s"
//   connecting  HTTP 401/403 (the token)              gone        why, and the exit code is 1
//   live        stream ends, --no-reconnect           gone        "the proxy at X closed the
//   stream" live        stream ends                           waiting     "connection to X lost
//   (...);
//                                                                  reconnecting in D s"
//   waiting     backoff timer                         connecting
//   any         SIGINT/SIGTERM, --max-frames          gone        (a live stream is closed 1000)
//
// A refused first connect fails fast because then the address or the proxy is wrong and the
// operator is at the keyboard; once a stream has worked, its loss is a restart or a rollout
// and the tap waits for the proxy to come back. The run ends when every source is gone.
//
// With --history N, every source's history (sent before its history_end line) is held until
// all sources have sent theirs, then printed merged by time, then "--- live ---" on stderr;
// live events that arrive meanwhile wait behind it, so the output never goes back in time.
// After a reconnect the history is asked for again and only events newer than the last one
// printed from that source are shown: the gap of a restart is filled without duplicates.
#include <unistd.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <cstdio>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>

#include "proxy/base/options.hpp"
#include "proxy/cli/commands.hpp"

namespace wsproxy::cli {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

namespace {

struct palette {
    bool on{false};
    const char* c(const char* code) const { return on ? code : ""; }
    const char* dim() const { return c("\x1b[2m"); }
    const char* bold() const { return c("\x1b[1m"); }
    const char* cyan() const { return c("\x1b[36m"); }
    const char* green() const { return c("\x1b[32m"); }
    const char* yellow() const { return c("\x1b[33m"); }
    const char* red() const { return c("\x1b[31m"); }
    const char* magenta() const { return c("\x1b[35m"); }
    const char* blue() const { return c("\x1b[34m"); }
    const char* reset() const { return c("\x1b[0m"); }
};

void emit(const std::string& line) {
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

void say(const std::string& line) {
    std::fprintf(stderr, "wsproxy tap: %s\n", line.c_str());
}

std::string local_clock(std::int64_t ms) {
    std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    localtime_r(&secs, &tm);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms % 1000));
    return buf;
}

std::string str_or(const nlohmann::json& j, const char* key, const char* fallback) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

std::string pad(std::string s, std::size_t width) {
    if (s.size() < width) s.append(width - s.size(), ' ');
    return s;
}

std::string human_size(std::uint64_t n) {
    char buf[32];
    if (n < 10 * 1024)
        std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
    else if (n < 10 * 1024 * 1024)
        std::snprintf(buf, sizeof buf, "%.1f KiB", n / 1024.0);
    else
        std::snprintf(buf, sizeof buf, "%.1f MiB", n / (1024.0 * 1024.0));
    return buf;
}

std::string seconds_text(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f s", s);
    return buf;
}

// `source` is empty with one admin address: the column is only worth its width with several.
std::string render(const nlohmann::json& ev, const palette& p, const std::string& source,
                   std::size_t source_width) {
    std::string line;
    line += p.dim() + local_clock(ev.value("ts", std::int64_t{0})) + p.reset() + "  ";
    if (!source.empty()) line += pad(source, source_width) + "  ";
    bool up = str_or(ev, "direction", "") == "client_to_server";
    line += std::string(up ? p.cyan() : p.green()) + (up ? "\u2192" : "\u2190") + p.reset() + " ";
    line += p.dim() + pad("#" + std::to_string(ev.value("conn", std::uint64_t{0})), 6) + p.reset();
    line += std::string(p.bold()) + pad(str_or(ev, "type", "-"), 24) + p.reset() + " ";
    line += pad("chat=" + str_or(ev, "chat_id", "-"), 44) + " ";
    line += pad(human_size(ev.value("size", std::uint64_t{0})), 10);
    const auto& flags = ev.contains("flags") ? ev["flags"] : nlohmann::json::object();
    auto flag = [&](const char* name, const char* colour) {
        if (flags.value(name, false)) line += std::string(" ") + colour + name + p.reset();
    };
    flag("injected", p.yellow());
    flag("hidden", p.magenta());
    flag("replaced", p.magenta());
    flag("invalid", p.red());
    flag("binary", p.blue());
    flag("uninspected", p.red());
    if (ev.contains("payload")) {
        std::string text =
            ev["payload"].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        if (text.size() > 240) text = text.substr(0, 240) + "...";
        line += std::string("  ") + p.dim() + text + p.reset();
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    return line;
}

std::string tap_target(const tap_args& a) {
    std::string q;
    auto add = [&q](const char* name, const std::string& v) {
        q += q.empty() ? "?" : "&";
        q += name;
        q += '=';
        q += url_encode(v);
    };
    for (auto& v : a.chats) add("chat_id", v);
    for (auto& v : a.types) add("type", v);
    for (auto& v : a.clients) add("client_id", v);
    for (auto& v : a.conns) add("conn", std::to_string(v));
    for (auto& v : a.directions) add("direction", v);
    if (a.history) add("history", std::to_string(a.history));
    return "/tap" + q;
}

// The rules' message names from a hello line; none when the proxy predates the field.
std::optional<std::vector<std::string>> known_types(const nlohmann::json& hello) {
    for (const auto* j : {&hello, hello.contains("tap") ? &hello["tap"] : &hello}) {
        auto it = j->find("types");
        if (it == j->end() || !it->is_array()) continue;
        std::vector<std::string> out;
        for (const auto& t : *it)
            if (t.is_string()) out.push_back(t.get<std::string>());
        // No names at all is a proxy that could not list them, not rules that know none.
        if (out.empty()) return std::nullopt;
        return out;
    }
    return std::nullopt;
}

class tap_run;

// One admin address's /tap stream (see the table at the top). Lives as long as the run.
class tap_source {
public:
    enum class state { connecting, live, waiting, gone };

    tap_source(tap_run& run, admin_source address);
    void connect();
    void stop();
    state current() const { return state_; }
    const admin_source& address() const { return address_; }
    bool in_gate{false};      // its history is still awaited (--history)
    std::int64_t last_ts{0};  // of the last frame printed from it
    bool refilling{false};    // history after a reconnect: only what is newer
    // last_ts when the stream was lost. Frozen, because the history is not in time order
    // where it matters: a message held for its join is kept after the join's answer.
    std::int64_t printed_before_loss{0};
    bool hello_seen{false};

private:
    void attempt_failed(const std::string& why, bool retryable);
    void lost(const std::string& why, bool clean);
    void retry_in(double seconds);
    void read_next();
    void gone(const std::string& why, bool failed);

    tap_run& run_;
    admin_source address_;
    tcp::resolver resolver_;
    net::steady_timer retry_timer_;
    std::unique_ptr<websocket::stream<beast::tcp_stream>> ws_;
    websocket::response_type res_;
    beast::flat_buffer buf_;
    backoff backoff_;
    state state_{state::connecting};
    bool ever_live_{false};
    bool lost_once_{false};
};

// Shared by every source: the output, the --history gate, the frame count and the end.
class tap_run {
public:
    tap_run(const tap_args& a, std::vector<admin_source> addresses, std::string token)
        : args(a),
          token(std::move(token)),
          signals_(ioc, SIGINT, SIGTERM),
          gate_timer_(ioc),
          stop_timer_(ioc) {
        colours.on = !a.json && ::isatty(STDOUT_FILENO) && !std::getenv("NO_COLOR");
        gate_open_ = a.history == 0;
        for (auto& addr : addresses) {
            source_width_ = std::max(source_width_, addr.label.size());
            sources_.push_back(std::make_unique<tap_source>(*this, std::move(addr)));
            sources_.back()->in_gate = !gate_open_;
        }
        several_ = sources_.size() > 1;
    }

    int run() {
        signals_.async_wait([this](beast::error_code ec, int) {
            if (!ec) finish(exit_code_);
        });
        if (!gate_open_) {
            // A source that never answers its history must not hold the others back forever.
            gate_timer_.expires_after(std::chrono::seconds(15));
            gate_timer_.async_wait([this](beast::error_code ec) {
                if (ec || gate_open_) return;
                for (auto& s : sources_)
                    if (s->in_gate)
                        say(s->address().label + " sent no history_end within 15 s; going live");
                open_gate();
            });
        }
        for (auto& s : sources_) s->connect();
        ioc.run();
        return exit_code_;
    }

    bool stopping() const { return stopping_; }

    void on_hello(tap_source& s, const std::string& text, const nlohmann::json& hello) {
        const auto& info = hello["tap"];
        if (!s.hello_seen)
            say("watching " + s.address().where() +
                (s.address().label != s.address().where() ? " as " + s.address().label : "") +
                " (payloads " + (info.value("payloads", false) ? "shown, redacted" : "not shown") +
                ")");
        s.hello_seen = true;
        auto types = known_types(hello);
        if (types) warn_unknown_types(s, *types);
        if (args.json) emit(with_source(text, s.address().label));
        // A proxy without these fields predates history: it will send no history_end.
        const bool has_history =
            hello.contains("types") || info.contains("types") || info.contains("history");
        if (!has_history && s.in_gate) {
            say(s.address().label + " keeps no history (an older wsproxy): live frames only");
            leave_gate(s);
        }
    }

    void on_history_end(tap_source& s, const std::string& text) {
        if (args.json) {
            if (gate_open_)
                emit(with_source(text, s.address().label));
            else
                held_ends_.push_back(with_source(text, s.address().label));
        }
        s.refilling = false;
        leave_gate(s);
    }

    void on_event(tap_source& s, const std::string& text, const nlohmann::json& ev) {
        const bool history = ev.value("history", false);
        const auto ts = ev.value("ts", std::int64_t{0});
        if (history && s.refilling && ts <= s.printed_before_loss) return;  // seen already
        held_event e{ts, &s, text, ev};
        if (!gate_open_) {
            (history ? held_history_ : held_live_).push_back(std::move(e));
            return;
        }
        print(e);
    }

    void leave_gate(tap_source& s) {
        if (!s.in_gate) return;
        s.in_gate = false;
        if (std::none_of(sources_.begin(), sources_.end(), [](auto& x) { return x->in_gate; }))
            open_gate();
    }

    // A source has ended for good; the run ends with the last one.
    void on_gone(tap_source& s, bool failed) {
        if (failed) exit_code_ = 1;
        leave_gate(s);
        if (std::all_of(sources_.begin(), sources_.end(),
                        [](auto& x) { return x->current() == tap_source::state::gone; }))
            finish(exit_code_);
    }

    void finish(int code) {
        if (stopping_) return;
        stopping_ = true;
        exit_code_ = std::max(exit_code_, code);  // an address that failed still fails the run
        signals_.cancel();
        gate_timer_.cancel();
        for (auto& s : sources_) s->stop();
        // The close handshakes get a moment; a proxy that does not answer is not waited for.
        stop_timer_.expires_after(std::chrono::seconds(2));
        stop_timer_.async_wait([this](beast::error_code) { ioc.stop(); });
        if (closing_ == 0) ioc.stop();
    }

    // Around a live stream's close handshake when the run ends.
    void closing_one() { ++closing_; }
    void closed_one() {
        if (--closing_ == 0) ioc.stop();
    }

    net::io_context ioc;
    const tap_args& args;
    const std::string token;
    palette colours;

private:
    struct held_event {
        std::int64_t ts;
        tap_source* source;
        std::string text;
        nlohmann::json ev;
    };

    void warn_unknown_types(tap_source& s, const std::vector<std::string>& known) {
        for (const auto& t : args.types) {
            if (std::find(known.begin(), known.end(), t) != known.end() ||
                !warned_.insert(t).second)
                continue;
            std::string list;
            for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
            const auto guess = nearest_name(t, known);
            say("--type " + t + ": the rules at " + s.address().label +
                " know no such message type, so it matches nothing" +
                (guess.empty() ? "" : "; did you mean " + guess + "?") +
                " (known: " + (list.empty() ? "none" : list) + ")");
        }
    }

    void open_gate() {
        if (gate_open_) return;
        gate_open_ = true;
        gate_timer_.cancel();
        std::stable_sort(held_history_.begin(), held_history_.end(),
                         [](const held_event& x, const held_event& y) { return x.ts < y.ts; });
        for (auto& e : held_history_) print(e);
        for (auto& line : held_ends_)
            if (!stopping_) emit(line);
        if (!stopping_) std::fprintf(stderr, "--- live ---\n");
        for (auto& e : held_live_) print(e);
        held_history_.clear();
        held_live_.clear();
        held_ends_.clear();
    }

    void print(const held_event& e) {
        if (stopping_) return;
        const bool frame = e.ev.contains("conn");
        if (frame) e.source->last_ts = std::max(e.source->last_ts, e.ts);
        const auto& label = e.source->address().label;
        if (args.json) {
            emit(with_source(e.text, label));
        } else if (frame) {
            emit(render(e.ev, colours, several_ ? label : std::string(), source_width_));
        } else if (e.ev.contains("dropped")) {
            emit(std::string(colours.yellow()) + "... " + (several_ ? label + ": " : "") +
                 std::to_string(e.ev.value("dropped", 0ull)) +
                 " frames dropped: this tap fell behind" + colours.reset());
        }
        if (frame && args.max_frames && ++frames_ >= args.max_frames) finish(0);
    }

    net::signal_set signals_;
    net::steady_timer gate_timer_;
    net::steady_timer stop_timer_;
    std::vector<std::unique_ptr<tap_source>> sources_;
    std::vector<held_event> held_history_, held_live_;
    std::vector<std::string> held_ends_;
    std::set<std::string> warned_;
    std::size_t source_width_{0};
    std::uint64_t frames_{0};
    unsigned closing_{0};
    int exit_code_{0};
    bool several_{false};
    bool gate_open_{true};
    bool stopping_{false};
};

tap_source::tap_source(tap_run& run, admin_source address)
    : run_(run), address_(std::move(address)), resolver_(run.ioc), retry_timer_(run.ioc) {}

void tap_source::connect() {
    state_ = state::connecting;
    ws_ = std::make_unique<websocket::stream<beast::tcp_stream>>(run_.ioc);
    res_ = {};
    buf_.clear();
    auto& tcp_layer = beast::get_lowest_layer(*ws_);
    tcp_layer.expires_after(std::chrono::seconds(10));
    resolver_.async_resolve(
        address_.host, address_.port, [this](beast::error_code ec, tcp::resolver::results_type r) {
            if (run_.stopping()) return;
            if (ec)
                return attempt_failed(
                    "cannot resolve the admin host \"" + address_.host + "\": " + ec.message(),
                    true);
            beast::get_lowest_layer(*ws_).async_connect(r, [this](beast::error_code ec,
                                                                  const tcp::endpoint&) {
                if (run_.stopping()) return;
                if (ec)
                    return attempt_failed("cannot reach the admin port at " + address_.where() +
                                              ": " + ec.message() +
                                              " (is wsproxy running, and is --admin right?)",
                                          true);
                beast::get_lowest_layer(*ws_).expires_never();
                // Pings at half the idle time find a proxy that vanished without a FIN (a node
                // gone, a port-forward cut), which would otherwise be waited for forever.
                websocket::stream_base::timeout t{};
                t.handshake_timeout = std::chrono::seconds(10);
                t.idle_timeout = std::chrono::seconds(30);
                t.keep_alive_pings = true;
                ws_->set_option(t);
                ws_->read_message_max(16u << 20);
                std::string auth = bearer(run_.token);
                ws_->set_option(
                    websocket::stream_base::decorator([auth](websocket::request_type& r) {
                        r.set(http::field::user_agent, "wsproxy-tap");
                        if (!auth.empty()) r.set(http::field::authorization, auth);
                    }));
                ws_->async_handshake(
                    res_, address_.where(), tap_target(run_.args), [this](beast::error_code ec) {
                        if (run_.stopping()) return;
                        const auto where = address_.where();
                        if (ec == websocket::error::upgrade_declined) {
                            if (res_.result() == http::status::unauthorized)
                                return attempt_failed(
                                    run_.token.empty()
                                        ? "the admin port at " + where +
                                              " needs a token: pass --token TOKEN or --token-file "
                                              "FILE"
                                        : "the admin port at " + where + " refused the token",
                                    false);
                            std::string body = res_.body();
                            while (!body.empty() && body.back() == '\n') body.pop_back();
                            return attempt_failed("the admin port at " + where + " answered HTTP " +
                                                      std::to_string(res_.result_int()) +
                                                      (body.empty() ? "" : ": " + body),
                                                  res_.result() != http::status::forbidden &&
                                                      res_.result() != http::status::bad_request);
                        }
                        if (ec)
                            return attempt_failed(
                                "the /tap handshake with " + where + " failed: " + ec.message(),
                                true);
                        state_ = state::live;
                        backoff_.reset();
                        if (lost_once_) say("reconnected to " + address_.label);
                        ever_live_ = true;
                        read_next();
                    });
            });
        });
}

void tap_source::read_next() {
    ws_->async_read(buf_, [this](beast::error_code ec, std::size_t) {
        if (run_.stopping()) return;
        if (ec == websocket::error::closed) {
            const auto& reason = ws_->reason();
            return lost(
                "the proxy closed the stream" +
                    (reason.code != websocket::close_code::none
                         ? ": " + std::to_string(reason.code) +
                               (reason.reason.empty()
                                    ? ""
                                    : " " + std::string(reason.reason.data(), reason.reason.size()))
                         : std::string()),
                true);
        }
        if (ec) return lost(ec.message(), false);
        std::string text = beast::buffers_to_string(buf_.data());
        buf_.consume(buf_.size());
        auto ev = nlohmann::json::parse(text, nullptr, false);
        if (!ev.is_object()) {
            if (run_.args.json) emit(text);  // not ours to judge; a script may want it
        } else if (ev.contains("tap")) {
            run_.on_hello(*this, text, ev);
        } else if (ev.contains("history_end")) {
            run_.on_history_end(*this, text);
        } else {
            run_.on_event(*this, text, ev);
        }
        if (!run_.stopping()) read_next();
    });
}

void tap_source::attempt_failed(const std::string& why, bool retryable) {
    if (!retryable || (!ever_live_ && !run_.args.wait)) return gone(why, true);
    run_.leave_gate(*this);
    const double d = backoff_.next_seconds();
    say(why + "; retrying in " + seconds_text(d));
    retry_in(d);
}

void tap_source::lost(const std::string& why, bool clean) {
    beast::error_code ignored;
    beast::get_lowest_layer(*ws_).socket().close(ignored);
    if (run_.args.no_reconnect)
        return gone(clean ? "the proxy at " + address_.label + " closed the stream (" + why + ")"
                          : "lost the admin connection to " + address_.label + ": " + why,
                    !clean);
    lost_once_ = true;
    refilling = run_.args.history > 0;
    printed_before_loss = last_ts;
    const double d = backoff_.next_seconds();
    say("connection to " + address_.label + " lost (" + why + "); reconnecting in " +
        seconds_text(d));
    retry_in(d);
}

void tap_source::retry_in(double seconds) {
    state_ = state::waiting;
    retry_timer_.expires_after(std::chrono::milliseconds(static_cast<int>(seconds * 1000)));
    retry_timer_.async_wait([this](beast::error_code ec) {
        if (!ec && !run_.stopping()) connect();
    });
}

void tap_source::gone(const std::string& why, bool failed) {
    state_ = state::gone;
    if (ws_) {
        beast::error_code ignored;
        beast::get_lowest_layer(*ws_).socket().close(ignored);
    }
    say(why);
    run_.on_gone(*this, failed);
}

void tap_source::stop() {
    retry_timer_.cancel();
    resolver_.cancel();
    if (state_ == state::live) {
        state_ = state::gone;
        run_.closing_one();
        ws_->async_close(websocket::close_code::normal,
                         [this](beast::error_code) { run_.closed_one(); });
        return;
    }
    state_ = state::gone;
    if (ws_) {
        beast::error_code ignored;
        beast::get_lowest_layer(*ws_).socket().close(ignored);
    }
}

}  // namespace

int run_tap(const tap_args& a) {
    std::vector<admin_source> addresses;
    std::string token;
    try {
        addresses = resolve_sources(a.target);
        token = load_token(a.target);
    } catch (const std::exception& e) {
        say(e.what());
        return 2;
    }
    tap_run run(a, std::move(addresses), std::move(token));
    return run.run();
}

}  // namespace wsproxy::cli
