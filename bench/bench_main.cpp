// wsproxy-bench: a WebSocket load generator for wsproxy and the relays it is compared with.
//
//   echo  N connections, K messages in flight each, against any echo endpoint. Closed loop by
//         default; --rate R is open loop: messages are due on a fixed schedule and latency is
//         measured from the time a message was due, not from when it could be sent, so a stall
//         is charged to every message it delayed (no coordinated omission).
//   chat  The chat protocol against chat-backend, directly or through wsproxy: wait for
//         connection_ready, send send_message without joining, time the first response_chunk
//         and response_complete, count answered and unanswered connections.
//   idle  Open N connections, hold them S seconds (with --proxy-pid: the proxy's RSS delta).
//
// One io_context per thread, connections spread round-robin; a connection lives on one
// thread and needs no lock. Per-thread histograms and counters are merged after the threads
// are joined. With --proxy-pid the proxy's CPU time (/proc/<pid>/stat) is read at the exact
// edges of the measurement window; the generator's own CPU time (getrusage) is reported too,
// so a run can show that the generator was not the bottleneck.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cctype>
#include <cinttypes>
#include <functional>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "histogram.hpp"

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using wsbench::histogram;

namespace {

using clock_type = std::chrono::steady_clock;

std::uint64_t now_ns() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now().time_since_epoch())
            .count());
}

struct options {
    std::string mode{"echo"};
    std::string url{"ws://127.0.0.1:9000/"};
    unsigned connections{1};
    unsigned inflight{1};
    std::size_t size{256};
    double duration{10};
    double warmup{1};
    double rate{0};  // total messages per second, open loop; 0: closed loop
    unsigned threads{1};
    bool json{false};
    double hold{10};
    unsigned connect_concurrency{256};
    double connect_timeout{60};
    double answer_timeout{30};
    unsigned messages{1};  // chat: messages per connection, one after the other
    std::string proxy_pids;  // comma-separated
    std::string label;
    std::string tenant{"miptech-company"};
    double settle{1};  // idle: seconds between the last handshake and the RSS sample
    bool deflate{false};       // offer permessage-deflate
    bool idle_message{false};  // idle: each connection sends one message after its handshake
};

// Set by the main thread, read by the workers with relaxed loads.
struct shared_state {
    std::atomic<bool> recording{false};
    std::atomic<bool> stopping{false};
    std::atomic<unsigned> connected{0};
    std::atomic<unsigned> failed{0};
    std::atomic<unsigned> ready{0};     // chat: connection_ready seen
    std::atomic<unsigned> finished{0};  // chat: all answers in, or failed after sending
};

struct endpoint_info {
    std::string host;
    unsigned short port{0};
    std::string target{"/"};
};

endpoint_info parse_url(const std::string& url) {
    const std::string prefix = "ws://";
    if (url.rfind(prefix, 0) != 0) throw std::invalid_argument("--url must start with ws://");
    std::string rest = url.substr(prefix.size());
    endpoint_info e;
    const auto slash = rest.find('/');
    if (slash != std::string::npos) {
        e.target = rest.substr(slash);
        rest = rest.substr(0, slash);
    }
    const auto colon = rest.rfind(':');
    if (colon == std::string::npos) throw std::invalid_argument("--url needs a port");
    e.host = rest.substr(0, colon);
    if (e.host == "localhost") e.host = "127.0.0.1";
    e.port = static_cast<unsigned short>(std::stoi(rest.substr(colon + 1)));
    return e;
}

std::string make_uuid(std::mt19937_64& rng) {
    static const char* hex = "0123456789abcdef";
    std::string s(36, '-');
    for (int i = 0; i < 36; ++i) {
        if (i == 8 || i == 13 || i == 18 || i == 23) continue;
        s[i] = hex[rng() & 15];
    }
    s[14] = '4';
    return s;
}

// A send_message frame of exactly `size` bytes (at least the envelope), content padded.
std::string make_echo_payload(const std::string& chat_id, std::size_t size) {
    const std::string head = R"({"type":"send_message","data":{"chat_id":")" + chat_id +
                             R"(","content":")";
    const std::string tail = "\"}}";
    std::string content;
    if (size > head.size() + tail.size()) content.assign(size - head.size() - tail.size(), 'x');
    // A recognisable start so that echoed frames are told from anything else the path sends.
    const std::string tag = "bench ";
    for (std::size_t i = 0; i < tag.size() && i < content.size(); ++i) content[i] = tag[i];
    return head + content + tail;
}

struct worker;

// One WebSocket connection of the generator. Owned by its worker; handlers capture `this`,
// which outlives them (connections are destroyed only after the io_context stopped).
struct conn {
    conn(worker& w, unsigned index);

    void start_connect();
    void on_connect(beast::error_code ec);
    void on_handshake(beast::error_code ec);
    void do_read();
    void on_read(beast::error_code ec, std::size_t n);
    void begin_load();  // echo: start the closed or open loop; chat: send the first message
    void queue_message(std::uint64_t due_ns);
    void do_write();
    void on_write(beast::error_code ec);
    void schedule_next();
    void on_echo_frame(std::string_view frame);
    void on_chat_frame(std::string_view frame);
    void send_chat_message();
    void fail(beast::error_code ec, const char* what);

    worker& w_;
    const unsigned index_;
    websocket::stream<tcp::socket> ws_;
    beast::flat_buffer in_;
    net::steady_timer timer_;  // open loop schedule
    std::string payload_;
    std::string chat_id_;
    std::vector<std::uint64_t> due_;  // ring of due times of messages in flight (FIFO)
    std::size_t due_head_{0};
    std::size_t due_count_{0};
    unsigned to_send_{0};
    bool writing_{false};
    bool open_{false};
    bool dead_{false};
    // chat
    bool ready_{false};
    bool got_chunk_{false};
    bool counted_finished_{false};
    unsigned answers_{0};
    std::uint64_t sent_at_{0};
    // open loop
    std::uint64_t next_due_{0};
    std::uint64_t interval_ns_{0};
};

struct worker {
    worker(const options& o, const endpoint_info& e, shared_state& s, unsigned id)
        : opt(o), ep(e), shared(s), id(id), ioc(1), rng(0x5eed + id) {}

    const options& opt;
    const endpoint_info& ep;
    shared_state& shared;
    const unsigned id;
    net::io_context ioc;
    std::mt19937_64 rng;
    std::vector<std::unique_ptr<conn>> conns;
    std::size_t next_connect{0};
    unsigned connecting{0};
    unsigned connect_limit{1};

    // Results (read by main after join).
    histogram latency;
    histogram ttfc;  // chat: send -> first response_chunk
    histogram ttc;   // chat: send -> response_complete
    std::uint64_t messages{0};     // echo: answers received inside the window
    std::uint64_t sent{0};         // messages written (whole run)
    std::uint64_t errors{0};
    std::uint64_t connect_errors{0};
    std::uint64_t foreign{0};      // frames that are not our echo (e.g. an echoed join_chat)
    std::uint64_t answered{0};     // chat: answers complete
    std::uint64_t wrong_chat{0};   // chat: a frame for a chat this connection never named
    std::uint64_t bad_answers{0};  // chat: response_complete without content
    std::uint64_t chat_frames{0};
    std::uint64_t error_frames{0};  // chat: {"type":"error"} from the backend
    std::string first_error;

    void connect_more() {
        while (connecting < connect_limit && next_connect < conns.size() &&
               !shared.stopping.load(std::memory_order_relaxed)) {
            ++connecting;
            conns[next_connect++]->start_connect();
        }
    }
    void connect_finished() {
        --connecting;
        connect_more();
    }
};

conn::conn(worker& w, unsigned index)
    : w_(w), index_(index), ws_(w.ioc), timer_(w.ioc) {
    chat_id_ = make_uuid(w.rng);
    if (w.opt.mode == "echo") {
        payload_ = make_echo_payload(chat_id_, w.opt.size);
        // Closed loop: at most K due. Open loop: the ring grows when the path falls behind.
        due_.resize(std::max<std::size_t>(w.opt.inflight, 16));
    }
}

void conn::fail(beast::error_code ec, const char* what) {
    if (dead_) return;
    dead_ = true;
    if (w_.shared.stopping.load(std::memory_order_relaxed)) return;
    ++w_.errors;
    if (w_.first_error.empty()) w_.first_error = std::string(what) + ": " + ec.message();
    if (w_.opt.mode == "chat" && !counted_finished_) {
        counted_finished_ = true;
        w_.shared.finished.fetch_add(1, std::memory_order_relaxed);
    }
}

void conn::start_connect() {
    beast::error_code ec;
    const tcp::endpoint ep(net::ip::make_address(w_.ep.host, ec), w_.ep.port);
    if (ec) {
        on_connect(ec);
        return;
    }
    ws_.next_layer().async_connect(ep, [this](beast::error_code e) { on_connect(e); });
}

void conn::on_connect(beast::error_code ec) {
    if (ec) {
        ++w_.connect_errors;
        if (w_.first_error.empty()) w_.first_error = "connect: " + ec.message();
        dead_ = true;
        w_.shared.failed.fetch_add(1, std::memory_order_relaxed);
        w_.connect_finished();
        return;
    }
    ws_.next_layer().set_option(tcp::no_delay(true), ec);
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
    ws_.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
        req.set(beast::http::field::user_agent, "wsproxy-bench");
    }));
    ws_.read_message_max(64 << 20);
    if (w_.opt.deflate) {
        websocket::permessage_deflate pmd;
        pmd.client_enable = true;
        ws_.set_option(pmd);
    }
    ws_.async_handshake(w_.ep.host + ":" + std::to_string(w_.ep.port), w_.ep.target,
                        [this](beast::error_code e) { on_handshake(e); });
}

void conn::on_handshake(beast::error_code ec) {
    if (ec) {
        ++w_.connect_errors;
        if (w_.first_error.empty()) w_.first_error = "handshake: " + ec.message();
        dead_ = true;
        w_.shared.failed.fetch_add(1, std::memory_order_relaxed);
        w_.connect_finished();
        return;
    }
    open_ = true;
    w_.shared.connected.fetch_add(1, std::memory_order_relaxed);
    w_.connect_finished();
    do_read();
    // An idle chat connection has been used before it idles: one message each way puts
    // the buffers (and with --deflate the compression state) that use allocates in place.
    if (w_.opt.mode == "idle" && w_.opt.idle_message) {
        ++to_send_;
        do_write();
    }
}

void conn::do_read() {
    ws_.async_read(in_, [this](beast::error_code ec, std::size_t n) { on_read(ec, n); });
}

void conn::on_read(beast::error_code ec, std::size_t) {
    if (ec) return fail(ec, "read");
    const auto data = in_.cdata();
    const std::string_view frame(static_cast<const char*>(data.data()), data.size());
    if (w_.opt.mode == "echo")
        on_echo_frame(frame);
    else if (w_.opt.mode == "chat")
        on_chat_frame(frame);
    in_.consume(in_.size());
    do_read();
}

void conn::begin_load() {
    if (dead_ || !open_) return;
    if (w_.opt.mode == "echo") {
        if (w_.opt.rate > 0) {
            interval_ns_ = static_cast<std::uint64_t>(1e9 * w_.opt.connections / w_.opt.rate);
            // Spread the connections' schedules over one interval.
            next_due_ = now_ns() + (interval_ns_ ? w_.rng() % interval_ns_ : 0);
            schedule_next();
        } else {
            const std::uint64_t t = now_ns();
            for (unsigned i = 0; i < w_.opt.inflight; ++i) queue_message(t);
        }
    } else if (w_.opt.mode == "chat") {
        send_chat_message();
    }
}

void conn::queue_message(std::uint64_t due_ns) {
    if (due_count_ == due_.size()) {  // open loop falling behind: grow the ring, keep order
        std::vector<std::uint64_t> bigger(due_.size() * 2);
        for (std::size_t i = 0; i < due_count_; ++i)
            bigger[i] = due_[(due_head_ + i) % due_.size()];
        due_.swap(bigger);
        due_head_ = 0;
    }
    due_[(due_head_ + due_count_) % due_.size()] = due_ns;
    ++due_count_;
    ++to_send_;
    if (!writing_) do_write();
}

void conn::schedule_next() {
    timer_.expires_at(clock_type::time_point(std::chrono::nanoseconds(next_due_)));
    timer_.async_wait([this](beast::error_code ec) {
        if (ec || dead_ || w_.shared.stopping.load(std::memory_order_relaxed)) return;
        // Every message that fell due while we were away is queued with its own due time.
        const std::uint64_t t = now_ns();
        while (next_due_ <= t) {
            queue_message(next_due_);
            next_due_ += interval_ns_;
        }
        schedule_next();
    });
}

void conn::do_write() {
    if (dead_ || to_send_ == 0) return;
    --to_send_;
    writing_ = true;
    ws_.text(true);
    ws_.async_write(net::buffer(payload_), [this](beast::error_code ec, std::size_t) {
        on_write(ec);
    });
}

void conn::on_write(beast::error_code ec) {
    writing_ = false;
    if (ec) return fail(ec, "write");
    ++w_.sent;
    if (to_send_ > 0) do_write();
}

void conn::on_echo_frame(std::string_view frame) {
    if (frame.size() != payload_.size() || frame.compare(0, 40, std::string_view(payload_).substr(0, 40)) != 0) {
        ++w_.foreign;
        return;
    }
    if (due_count_ == 0) {
        ++w_.foreign;
        return;
    }
    const std::uint64_t due = due_[due_head_];
    due_head_ = (due_head_ + 1) % due_.size();
    --due_count_;
    const std::uint64_t t = now_ns();
    if (w_.shared.recording.load(std::memory_order_relaxed)) {
        w_.latency.record(t > due ? t - due : 0);
        ++w_.messages;
    }
    if (w_.opt.rate <= 0 && !w_.shared.stopping.load(std::memory_order_relaxed))
        queue_message(t);
}

// Only the fields the flow needs; the generator is not the thing being measured, but it must
// not be slow either, so no DOM: a find of the type and chat_id strings.
std::string_view json_string_field(std::string_view frame, std::string_view key) {
    std::string pattern;
    pattern.reserve(key.size() + 3);
    pattern += '"';
    pattern += key;
    pattern += "\":";
    auto p = frame.find(pattern);
    while (p != std::string_view::npos) {
        std::size_t i = p + pattern.size();
        while (i < frame.size() && frame[i] == ' ') ++i;
        if (i < frame.size() && frame[i] == '"') {
            const auto end = frame.find('"', i + 1);
            if (end == std::string_view::npos) return {};
            return frame.substr(i + 1, end - i - 1);
        }
        p = frame.find(pattern, p + 1);
    }
    return {};
}

void conn::on_chat_frame(std::string_view frame) {
    ++w_.chat_frames;
    const std::string_view type = json_string_field(frame, "type");
    if (type == "connection_ready") {
        if (!ready_) {
            ready_ = true;
            w_.shared.ready.fetch_add(1, std::memory_order_relaxed);
        }
        return;
    }
    if (type == "error") {
        ++w_.error_frames;
        return;
    }
    if (type.rfind("response_", 0) != 0 && type.rfind("typing_", 0) != 0) return;
    const std::string_view chat = json_string_field(frame, "chat_id");
    if (chat != chat_id_) {
        ++w_.wrong_chat;
        return;
    }
    const std::uint64_t t = now_ns();
    if (type == "response_chunk" && !got_chunk_ && sent_at_) {
        got_chunk_ = true;
        w_.ttfc.record(t - sent_at_);
    } else if (type == "response_complete" && sent_at_) {
        // The whole answer must be there: data.content non-empty.
        const auto data = frame.find("\"data\"");
        const std::string_view content =
            data == std::string_view::npos ? std::string_view{}
                                           : json_string_field(frame.substr(data), "content");
        if (content.empty()) ++w_.bad_answers;
        w_.ttc.record(t - sent_at_);
        ++w_.answered;
        ++answers_;
        sent_at_ = 0;
        if (answers_ < w_.opt.messages) {
            send_chat_message();
        } else if (!counted_finished_) {
            counted_finished_ = true;
            w_.shared.finished.fetch_add(1, std::memory_order_relaxed);
        }
    }
}

void conn::send_chat_message() {
    if (dead_) return;
    nlohmann::json j = {{"type", "send_message"},
                        {"data",
                         {{"chat_id", chat_id_},
                          {"content", "bench question " + std::to_string(answers_ + 1) +
                                          " from connection " + std::to_string(index_)}}}};
    payload_ = j.dump();
    got_chunk_ = false;
    sent_at_ = now_ns();
    to_send_ = 1;
    if (!writing_) do_write();
}

// ---- process-level measurements ------------------------------------------------------

std::vector<int> parse_pids(const std::string& s) {
    std::vector<int> pids;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ','))
        if (!item.empty()) pids.push_back(std::stoi(item));
    return pids;
}

// utime + stime of every pid, in seconds; -1 when a pid cannot be read.
double proc_cpu_seconds(const std::vector<int>& pids) {
    static const long ticks = sysconf(_SC_CLK_TCK);
    double total = 0;
    for (int pid : pids) {
        std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
        std::string line;
        if (!std::getline(f, line)) return -1;
        const auto rp = line.rfind(')');
        if (rp == std::string::npos) return -1;
        std::istringstream rest(line.substr(rp + 2));
        std::string field;
        unsigned long long utime = 0, stime = 0;
        // Fields after the comm: state(3) ... utime(14) stime(15).
        for (int i = 3; i <= 15 && rest >> field; ++i) {
            if (i == 14) utime = std::stoull(field);
            if (i == 15) stime = std::stoull(field);
        }
        total += double(utime + stime) / double(ticks);
    }
    return total;
}

// VmRSS of every pid, summed, in bytes; -1 when a pid cannot be read.
long long proc_rss_bytes(const std::vector<int>& pids) {
    long long total = 0;
    for (int pid : pids) {
        std::ifstream f("/proc/" + std::to_string(pid) + "/status");
        std::string line;
        bool found = false;
        while (std::getline(f, line)) {
            if (line.rfind("VmRSS:", 0) == 0) {
                total += std::stoll(line.substr(6)) * 1024;
                found = true;
                break;
            }
        }
        if (!found) return -1;
    }
    return total;
}

// Per-CPU jiffies from /proc/stat: {busy, total} for cpu0, cpu1, ... Busy excludes idle and
// iowait. Used to show how busy each CPU was during the window, including by processes
// that are not part of the run (a shared machine is a noisy machine).
std::vector<std::pair<unsigned long long, unsigned long long>> cpu_jiffies() {
    std::vector<std::pair<unsigned long long, unsigned long long>> out;
    std::ifstream f("/proc/stat");
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind("cpu", 0) != 0 || line.size() < 4 || !std::isdigit(static_cast<unsigned char>(line[3])))
            continue;
        std::istringstream in(line.substr(line.find(' ')));
        unsigned long long v[10] = {};
        for (auto& x : v) in >> x;
        unsigned long long total = 0;
        for (int i = 0; i < 8; ++i) total += v[i];  // guest time is already in user
        out.emplace_back(total - v[3] - v[4], total);
    }
    return out;
}

nlohmann::json cpu_busy_percent(
    const std::vector<std::pair<unsigned long long, unsigned long long>>& a,
    const std::vector<std::pair<unsigned long long, unsigned long long>>& b) {
    nlohmann::json out = nlohmann::json::array();
    for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
        const auto total = b[i].second - a[i].second;
        out.push_back(total ? 100.0 * double(b[i].first - a[i].first) / double(total) : 0.0);
    }
    return out;
}

double self_cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

std::string raise_fd_limit() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return "getrlimit failed";
    const auto before = rl.rlim_cur;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) return "setrlimit failed";
    }
    return std::to_string(before) + " -> " + std::to_string(rl.rlim_cur);
}

nlohmann::json latency_json(const histogram& h) {
    const auto us = [](std::uint64_t ns) { return double(ns) / 1000.0; };
    return {{"count", h.count()},
            {"p50", us(h.percentile(0.50))},
            {"p90", us(h.percentile(0.90))},
            {"p99", us(h.percentile(0.99))},
            {"p999", us(h.percentile(0.999))},
            {"max", us(h.max())},
            {"mean", h.mean() / 1000.0}};
}

void sleep_until_or(double seconds, const std::function<bool()>& done) {
    const auto end = clock_type::now() + std::chrono::duration<double>(seconds);
    while (clock_type::now() < end && !done())
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    CLI::App app{"wsproxy-bench: WebSocket load generator (echo, chat and idle modes)"};
    app.add_option("mode", o.mode, "echo | chat | idle")
        ->required()
        ->check(CLI::IsMember({"echo", "chat", "idle"}));
    app.add_option("--url", o.url, "ws://HOST:PORT/PATH of the endpoint (chat: default path "
                                   "/ws/chat?tenant_id=<tenant>)")
        ->capture_default_str();
    app.add_option("-c,--connections", o.connections, "Concurrent connections")
        ->capture_default_str()
        ->check(CLI::Range(1u, 100000u));
    app.add_option("-k,--inflight", o.inflight, "echo: messages in flight per connection")
        ->capture_default_str()
        ->check(CLI::Range(1u, 100000u));
    app.add_option("--size", o.size, "echo: message size in bytes (a send_message JSON frame)")
        ->capture_default_str();
    app.add_option("-d,--duration", o.duration, "echo: seconds measured")->capture_default_str();
    app.add_option("--warmup", o.warmup, "echo: seconds of load before measuring")
        ->capture_default_str();
    app.add_option("--rate", o.rate,
                   "echo: open loop at this many messages per second in total (0: closed loop)")
        ->capture_default_str();
    app.add_option("-t,--threads", o.threads, "Threads, one io_context each")
        ->capture_default_str()
        ->check(CLI::Range(1u, 256u));
    app.add_flag("--json", o.json, "Also print one JSON line with every figure");
    app.add_option("--hold", o.hold, "idle: seconds to hold the connections")
        ->capture_default_str();
    app.add_option("--connect-concurrency", o.connect_concurrency,
                   "Connections being opened at once")
        ->capture_default_str()
        ->check(CLI::Range(1u, 100000u));
    app.add_option("--connect-timeout", o.connect_timeout,
                   "Seconds to open every connection (then go on with those open)")
        ->capture_default_str();
    app.add_option("--answer-timeout", o.answer_timeout,
                   "chat: seconds after sending to wait for every answer")
        ->capture_default_str();
    app.add_option("--messages", o.messages, "chat: messages per connection, one after another")
        ->capture_default_str()
        ->check(CLI::Range(1u, 1000000u));
    app.add_option("--proxy-pid", o.proxy_pids,
                   "PID(s), comma-separated, whose CPU time and RSS are measured over the window")
        ->capture_default_str();
    app.add_option("--label", o.label, "Free text copied into the JSON line");
    app.add_option("--tenant", o.tenant, "chat: tenant_id in the default URL path")
        ->capture_default_str();
    app.add_option("--settle", o.settle, "idle: seconds to wait before sampling RSS")
        ->capture_default_str();
    app.add_flag("--deflate", o.deflate, "Offer permessage-deflate on every connection");
    app.add_flag("--idle-message", o.idle_message,
                 "idle: each connection sends one message (echoed back) before it idles");
    bool url_given = false;
    try {
        app.parse(argc, argv);
        url_given = app.count("--url") > 0;
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }

    endpoint_info ep;
    try {
        ep = parse_url(o.url);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "wsproxy-bench: %s\n", e.what());
        return 2;
    }
    if (o.mode == "chat" && (!url_given || ep.target == "/"))
        ep.target = "/ws/chat?tenant_id=" + o.tenant;
    const std::string fd_note = raise_fd_limit();
    std::fprintf(stderr, "wsproxy-bench: descriptor limit %s\n", fd_note.c_str());
    const std::vector<int> pids = parse_pids(o.proxy_pids);

    shared_state shared;
    o.threads = std::min(o.threads, o.connections);
    std::vector<std::unique_ptr<worker>> workers;
    for (unsigned t = 0; t < o.threads; ++t)
        workers.push_back(std::make_unique<worker>(o, ep, shared, t));
    for (unsigned i = 0; i < o.connections; ++i) {
        worker& w = *workers[i % o.threads];
        w.conns.push_back(std::make_unique<conn>(w, i));
    }
    for (auto& w : workers) w->connect_limit = std::max(1u, o.connect_concurrency / o.threads);

    const long long rss_before = pids.empty() ? -1 : proc_rss_bytes(pids);
    const auto t_start = clock_type::now();
    std::vector<std::thread> threads;
    // A guard per io_context so that run() does not return while the main thread waits.
    std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
    for (auto& w : workers) {
        guards.push_back(net::make_work_guard(w->ioc));
        net::post(w->ioc, [wp = w.get()] { wp->connect_more(); });
        threads.emplace_back([wp = w.get()] { wp->ioc.run(); });
    }

    const auto all_open = [&] {
        return shared.connected.load() + shared.failed.load() >= o.connections &&
               (o.mode != "chat" || shared.ready.load() + shared.failed.load() >= o.connections);
    };
    sleep_until_or(o.connect_timeout, all_open);
    const double connect_seconds =
        std::chrono::duration<double>(clock_type::now() - t_start).count();
    const unsigned connected = shared.connected.load();

    nlohmann::json result = {{"mode", o.mode},
                             {"label", o.label},
                             {"url", o.url},
                             {"connections", o.connections},
                             {"connected", connected},
                             {"connect_failed", shared.failed.load()},
                             {"connect_seconds", connect_seconds},
                             {"threads", o.threads}};

    double window = 0, self_cpu = 0, proxy_cpu = -1;
    long long rss_after = -1;
    if (o.mode == "idle") {
        std::this_thread::sleep_for(std::chrono::duration<double>(o.settle));
        rss_after = pids.empty() ? -1 : proc_rss_bytes(pids);
        const double c0 = self_cpu_seconds();
        std::this_thread::sleep_for(std::chrono::duration<double>(std::max(0.0, o.hold - o.settle)));
        self_cpu = self_cpu_seconds() - c0;
        window = o.hold;
    } else if (o.mode == "echo") {
        for (auto& w : workers)
            net::post(w->ioc, [wp = w.get()] {
                for (auto& c : wp->conns) c->begin_load();
            });
        std::this_thread::sleep_for(std::chrono::duration<double>(o.warmup));
        const double p0 = pids.empty() ? -1 : proc_cpu_seconds(pids);
        const double c0 = self_cpu_seconds();
        const auto j0 = cpu_jiffies();
        const auto w0 = clock_type::now();
        shared.recording.store(true);
        std::this_thread::sleep_for(std::chrono::duration<double>(o.duration));
        shared.recording.store(false);
        result["cpu_busy_percent"] = cpu_busy_percent(j0, cpu_jiffies());
        window = std::chrono::duration<double>(clock_type::now() - w0).count();
        self_cpu = self_cpu_seconds() - c0;
        const double p1 = pids.empty() ? -1 : proc_cpu_seconds(pids);
        if (p0 >= 0 && p1 >= 0) proxy_cpu = p1 - p0;
        rss_after = pids.empty() ? -1 : proc_rss_bytes(pids);
    } else {  // chat
        const unsigned ready = shared.ready.load();
        for (auto& w : workers)
            net::post(w->ioc, [wp = w.get()] {
                for (auto& c : wp->conns) c->begin_load();
            });
        const double p0 = pids.empty() ? -1 : proc_cpu_seconds(pids);
        const double c0 = self_cpu_seconds();
        const auto j0 = cpu_jiffies();
        const auto w0 = clock_type::now();
        sleep_until_or(o.answer_timeout, [&] {
            return shared.finished.load() + (o.connections - ready) >= o.connections;
        });
        result["cpu_busy_percent"] = cpu_busy_percent(j0, cpu_jiffies());
        window = std::chrono::duration<double>(clock_type::now() - w0).count();
        self_cpu = self_cpu_seconds() - c0;
        const double p1 = pids.empty() ? -1 : proc_cpu_seconds(pids);
        if (p0 >= 0 && p1 >= 0) proxy_cpu = p1 - p0;
        rss_after = pids.empty() ? -1 : proc_rss_bytes(pids);
        result["ready"] = ready;
    }

    shared.stopping.store(true);
    for (auto& g : guards) g.reset();
    for (auto& w : workers) w->ioc.stop();
    for (auto& t : threads) t.join();

    histogram lat, ttfc, ttc;
    std::uint64_t messages = 0, sent = 0, errors = 0, connect_errors = 0, foreign = 0,
                  answered = 0, wrong_chat = 0, bad_answers = 0, error_frames = 0;
    std::string first_error;
    unsigned conns_answered = 0, still_open = 0;
    for (auto& w : workers) {
        lat.merge(w->latency);
        ttfc.merge(w->ttfc);
        ttc.merge(w->ttc);
        messages += w->messages;
        sent += w->sent;
        errors += w->errors;
        connect_errors += w->connect_errors;
        foreign += w->foreign;
        answered += w->answered;
        wrong_chat += w->wrong_chat;
        bad_answers += w->bad_answers;
        error_frames += w->error_frames;
        if (first_error.empty()) first_error = w->first_error;
        for (auto& c : w->conns) {
            if (c->answers_ >= o.messages) ++conns_answered;
            if (c->open_ && !c->dead_) ++still_open;
        }
    }
    // Connections closed while the io_contexts are stopped: no handler runs any more.
    for (auto& w : workers) w->conns.clear();

    result["window_seconds"] = window;
    result["errors"] = errors;
    result["connect_errors"] = connect_errors;
    result["still_open"] = still_open;
    if (!first_error.empty()) result["first_error"] = first_error;
    result["bench_cpu_seconds"] = self_cpu;
    result["bench_cpu_percent"] = window > 0 ? 100.0 * self_cpu / window : 0.0;
    if (proxy_cpu >= 0) result["proxy_cpu_seconds"] = proxy_cpu;
    if (rss_before >= 0) result["proxy_rss_before_bytes"] = rss_before;
    if (rss_after >= 0) result["proxy_rss_after_bytes"] = rss_after;
    if (o.mode == "echo") {
        result["inflight"] = o.inflight;
        result["size"] = o.size;
        result["rate"] = o.rate;
        result["messages"] = messages;
        result["msgs_per_s"] = window > 0 ? double(messages) / window : 0.0;
        result["latency_us"] = latency_json(lat);
        result["foreign_frames"] = foreign;
        if (proxy_cpu >= 0 && messages > 0)
            result["proxy_cpu_us_per_msg"] = proxy_cpu * 1e6 / double(messages);
    }
    if (o.mode == "idle" && rss_before >= 0 && rss_after >= 0 && connected > 0)
        result["rss_per_conn_bytes"] = double(rss_after - rss_before) / double(connected);
    if (o.mode == "chat") {
        result["messages_per_conn"] = o.messages;
        result["answers"] = answered;
        result["conns_answered"] = conns_answered;
        result["conns_not_answered"] = o.connections - conns_answered;
        result["bad_answers"] = bad_answers;
        result["wrong_chat_frames"] = wrong_chat;
        result["error_frames"] = error_frames;
        result["ttfc_us"] = latency_json(ttfc);
        result["ttc_us"] = latency_json(ttc);
        result["answers_per_s"] = window > 0 ? double(answered) / window : 0.0;
        if (proxy_cpu >= 0 && answered > 0)
            result["proxy_cpu_us_per_answer"] = proxy_cpu * 1e6 / double(answered);
    }

    // Human summary.
    std::printf("wsproxy-bench %s %s%s%s\n", o.mode.c_str(), o.url.c_str(),
                o.label.empty() ? "" : "  label=", o.label.c_str());
    std::printf("  connections  %u opened of %u in %.2f s (%" PRIu64 " failed)%s%s\n", connected,
                o.connections, connect_seconds, connect_errors,
                first_error.empty() ? "" : ", first error: ", first_error.c_str());
    const auto print_lat = [](const char* name, const histogram& h) {
        std::printf("  %-12s p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  (us, n=%" PRIu64
                    ")\n",
                    name, h.percentile(0.5) / 1e3, h.percentile(0.9) / 1e3,
                    h.percentile(0.99) / 1e3, h.percentile(0.999) / 1e3, h.max() / 1e3,
                    h.count());
    };
    if (o.mode == "echo") {
        std::printf("  throughput   %.0f msgs/s over %.2f s (%s, %u in flight, %zu B)\n",
                    window > 0 ? messages / window : 0.0, window,
                    o.rate > 0 ? "open loop" : "closed loop", o.inflight, o.size);
        print_lat("latency", lat);
        std::printf("  errors       %" PRIu64 "  foreign frames %" PRIu64 "\n", errors, foreign);
        if (proxy_cpu >= 0 && messages > 0)
            std::printf("  proxy cpu    %.2f s = %.2f us per message\n", proxy_cpu,
                        proxy_cpu * 1e6 / double(messages));
    } else if (o.mode == "chat") {
        std::printf("  ready        %u, answered %u of %u connections (%" PRIu64
                    " answers, %" PRIu64 " bad, %" PRIu64 " wrong-chat frames, %" PRIu64
                    " error frames)\n",
                    result["ready"].get<unsigned>(), conns_answered, o.connections, answered,
                    bad_answers, wrong_chat, error_frames);
        print_lat("first chunk", ttfc);
        print_lat("complete", ttc);
        if (proxy_cpu >= 0 && answered > 0)
            std::printf("  proxy cpu    %.2f s = %.1f us per answer\n", proxy_cpu,
                        proxy_cpu * 1e6 / double(answered));
    } else {
        std::printf("  held         %u connections for %.1f s\n", connected, o.hold);
        if (result.contains("rss_per_conn_bytes"))
            std::printf("  proxy rss    %lld -> %lld bytes = %.0f bytes per connection\n",
                        rss_before, rss_after, result["rss_per_conn_bytes"].get<double>());
    }
    std::printf("  generator    %.2f s CPU = %.0f %% of one core\n", self_cpu,
                window > 0 ? 100.0 * self_cpu / window : 0.0);
    if (o.json) std::printf("%s\n", result.dump().c_str());
    std::fflush(stdout);
    const bool ok = connected == o.connections && errors == 0 &&
                    (o.mode != "chat" || conns_answered == o.connections);
    return ok ? 0 : 1;
}
