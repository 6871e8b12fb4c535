// `wsproxy tap`: a live view of /tap in the terminal.
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string>

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

std::string render(const nlohmann::json& ev, const palette& p) {
    std::string line;
    line += p.dim() + local_clock(ev.value("ts", std::int64_t{0})) + p.reset() + "  ";
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
        std::string text = ev["payload"].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
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
    return "/tap" + q;
}

}  // namespace

int run_tap(const tap_args& a) {
    resolved_target t;
    try {
        t = resolve(a.target);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "wsproxy tap: %s\n", e.what());
        return 2;
    }
    const std::string where = t.host + ":" + t.port;
    palette p;
    p.on = !a.json && ::isatty(STDOUT_FILENO) && !std::getenv("NO_COLOR");

    net::io_context ioc;
    tcp::resolver resolver(ioc);
    websocket::stream<beast::tcp_stream> ws(ioc);
    websocket::response_type res;
    beast::flat_buffer buf;
    int exit_code = 0;
    std::uint64_t frames = 0;

    auto fail = [&](const std::string& message) {
        std::fprintf(stderr, "wsproxy tap: %s\n", message.c_str());
        exit_code = 1;
        // Beast may still have a handshake or idle timer armed: nothing more is wanted.
        ioc.stop();
    };

    std::function<void()> read_next = [&] {
        ws.async_read(buf, [&](beast::error_code ec, std::size_t) {
            if (ec == websocket::error::closed) {
                std::fprintf(stderr, "wsproxy tap: the proxy closed the stream\n");
                ioc.stop();
                return;
            }
            if (ec) return fail("lost the admin connection to " + where + ": " + ec.message());
            std::string text = beast::buffers_to_string(buf.data());
            buf.consume(buf.size());
            auto ev = nlohmann::json::parse(text, nullptr, false);
            bool is_frame = ev.is_object() && ev.contains("conn");
            if (a.json) {
                emit(text);
            } else if (is_frame) {
                emit(render(ev, p));
            } else if (ev.is_object() && ev.contains("dropped")) {
                emit(std::string(p.yellow()) + "... " + std::to_string(ev.value("dropped", 0ull)) +
                     " frames dropped: this tap fell behind" + p.reset());
            } else if (ev.is_object() && ev.contains("tap")) {
                auto& info = ev["tap"];
                std::fprintf(stderr, "wsproxy tap: watching %s (payloads %s)\n", where.c_str(),
                             info.value("payloads", false) ? "shown, redacted" : "not shown");
            }
            if (is_frame && a.max_frames && ++frames >= a.max_frames) {
                ws.async_close(websocket::close_code::normal,
                               [&](beast::error_code) { ioc.stop(); });
                return;
            }
            read_next();
        });
    };

    auto& tcp_layer = beast::get_lowest_layer(ws);
    tcp_layer.expires_after(std::chrono::seconds(10));
    resolver.async_resolve(t.host, t.port, [&](beast::error_code ec, tcp::resolver::results_type r) {
        if (ec) return fail("cannot resolve the admin host \"" + t.host + "\": " + ec.message());
        tcp_layer.async_connect(r, [&](beast::error_code ec, const tcp::endpoint&) {
            if (ec)
                return fail("cannot reach the admin port at " + where + ": " + ec.message() +
                            " (is wsproxy running, and is --admin right?)");
            tcp_layer.expires_never();
            ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
            ws.read_message_max(16u << 20);
            std::string auth = bearer(t);
            ws.set_option(websocket::stream_base::decorator([auth](websocket::request_type& r) {
                r.set(http::field::user_agent, "wsproxy-tap");
                if (!auth.empty()) r.set(http::field::authorization, auth);
            }));
            ws.async_handshake(res, where, tap_target(a), [&](beast::error_code ec) {
                if (ec == websocket::error::upgrade_declined) {
                    if (res.result() == http::status::unauthorized)
                        return fail(t.token.empty()
                                        ? "the admin port at " + where +
                                              " needs a token: pass --token TOKEN or --token-file FILE"
                                        : "the admin port at " + where + " refused the token");
                    std::string body = res.body();
                    while (!body.empty() && body.back() == '\n') body.pop_back();
                    return fail("the admin port at " + where + " answered HTTP " +
                                std::to_string(res.result_int()) +
                                (body.empty() ? "" : ": " + body));
                }
                if (ec) return fail("the /tap handshake with " + where + " failed: " + ec.message());
                read_next();
            });
        });
    });
    ioc.run();
    return exit_code;
}

}  // namespace wsproxy::cli
