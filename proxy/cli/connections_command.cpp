// `wsproxy connections`: the /connections snapshot as a table.
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "proxy/cli/commands.hpp"

namespace wsproxy::cli {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

std::string str(const nlohmann::json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return "-";
    return it->is_string() ? it->get<std::string>() : it->dump();
}

std::string chats(const nlohmann::json& list) {
    std::string out;
    if (!list.is_array()) return out;
    for (const auto& c : list) {
        if (!out.empty()) out += ",";
        out += str(c, "chat_id");
        std::string state = str(c, "state");
        if (state != "acknowledged") out += "(" + state + ")";
    }
    return out;
}

// Time of day from an ISO time, "2025-01-31T12:34:56.789Z" -> "12:34:56".
std::string clock_part(const std::string& iso) {
    auto t = iso.find('T');
    return t == std::string::npos ? iso : iso.substr(t + 1, 8);
}

void print_table(const nlohmann::json& doc, bool colour) {
    const auto& list = doc.contains("connections") ? doc["connections"] : nlohmann::json::array();
    std::vector<std::vector<std::string>> rows;
    rows.push_back({"ID", "REMOTE", "STARTED", "PHASE", "CLIENT_ID", "JOINED_BY_CLIENT",
                    "JOINED_BY_US", "FRAMES \u2192/\u2190", "BYTES \u2192/\u2190", "LAST",
                    "A B C D E"});
    for (const auto& c : list) {
        const auto& f = c.value("frames", nlohmann::json::object());
        const auto& b = c.value("bytes", nlohmann::json::object());
        const auto& s = c.value("signals", nlohmann::json::object());
        std::string signals;
        for (const char* k : {"A", "B", "C", "D", "E"}) {
            bool on = s.value(k, false);
            if (!signals.empty()) signals += ' ';
            signals += colour ? (on ? "\x1b[32m\u2714\x1b[0m" : "\x1b[31m\u2718\x1b[0m")
                              : (on ? "\u2714" : "\u2718");
        }
        const auto& joined = c.value("chats", nlohmann::json::object());
        std::string last = str(c, "last_frame");
        rows.push_back({str(c, "id"), str(c, "remote"), clock_part(str(c, "started")),
                        str(c, "phase"), str(c, "client_id"),
                        chats(joined.value("by_client", nlohmann::json::array())),
                        chats(joined.value("by_us", nlohmann::json::array())),
                        str(f, "client_to_server") + "/" + str(f, "server_to_client"),
                        str(b, "client_to_server") + "/" + str(b, "server_to_client"),
                        last == "-" ? last : clock_part(last), signals});
    }
    // Width in characters: the arrows and ticks are one column each but several bytes.
    auto width = [](const std::string& s) {
        std::size_t w = 0;
        bool esc = false;
        for (unsigned char ch : s) {
            if (ch == 0x1b) esc = true;
            if (esc) {
                if (ch == 'm') esc = false;
                continue;
            }
            if ((ch & 0xC0) != 0x80) ++w;
        }
        return w;
    };
    std::vector<std::size_t> widths(rows[0].size(), 0);
    for (auto& r : rows)
        for (std::size_t i = 0; i < r.size(); ++i) widths[i] = std::max(widths[i], width(r[i]));
    for (std::size_t n = 0; n < rows.size(); ++n) {
        std::string line;
        for (std::size_t i = 0; i < rows[n].size(); ++i) {
            std::string cell = rows[n][i].empty() ? "-" : rows[n][i];
            if (n == 0 && colour) line += "\x1b[1m";
            line += cell;
            if (n == 0 && colour) line += "\x1b[0m";
            if (i + 1 < rows[n].size()) line.append(widths[i] + 2 - width(cell), ' ');
        }
        std::printf("%s\n", line.c_str());
    }
    if (list.empty()) std::printf("(no live connections)\n");
    std::printf("signals: A client_id captured, B chat joined, C registered, D answers delivered, "
                "E isolation kept\n");
}

}  // namespace

int run_connections(const connections_args& a) {
    resolved_target t;
    try {
        t = resolve(a.target);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "wsproxy connections: %s\n", e.what());
        return 2;
    }
    const std::string where = t.host + ":" + t.port;
    net::io_context ioc;
    tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    http::request<http::empty_body> req{http::verb::get, "/connections", 11};
    req.set(http::field::host, where);
    req.set(http::field::user_agent, "wsproxy-connections");
    if (!t.token.empty()) req.set(http::field::authorization, bearer(t));
    http::response<http::string_body> res;
    beast::flat_buffer buf;
    std::string error;

    stream.expires_after(std::chrono::seconds(10));
    resolver.async_resolve(t.host, t.port, [&](beast::error_code ec, tcp::resolver::results_type r) {
        if (ec) {
            error = "cannot resolve the admin host \"" + t.host + "\": " + ec.message();
            return;
        }
        stream.async_connect(r, [&](beast::error_code ec, const tcp::endpoint&) {
            if (ec) {
                error = "cannot reach the admin port at " + where + ": " + ec.message() +
                        " (is wsproxy running, and is --admin right?)";
                return;
            }
            http::async_write(stream, req, [&](beast::error_code ec, std::size_t) {
                if (ec) {
                    error = "cannot send to " + where + ": " + ec.message();
                    return;
                }
                http::async_read(stream, buf, res, [&](beast::error_code ec, std::size_t) {
                    if (ec) error = "no answer from " + where + ": " + ec.message();
                });
            });
        });
    });
    ioc.run();
    if (error.empty() && res.result() == http::status::unauthorized)
        error = t.token.empty() ? "the admin port at " + where +
                                      " needs a token: pass --token TOKEN or --token-file FILE"
                                : "the admin port at " + where + " refused the token";
    if (error.empty() && res.result() != http::status::ok)
        error = "the admin port at " + where + " answered HTTP " + std::to_string(res.result_int());
    nlohmann::json doc;
    if (error.empty()) {
        doc = nlohmann::json::parse(res.body(), nullptr, false);
        if (doc.is_discarded()) error = "the admin port at " + where + " sent something that is not JSON";
    }
    if (!error.empty()) {
        std::fprintf(stderr, "wsproxy connections: %s\n", error.c_str());
        return 1;
    }
    if (a.json)
        std::printf("%s\n", doc.dump(2).c_str());
    else
        print_table(doc, ::isatty(STDOUT_FILENO) && !std::getenv("NO_COLOR"));
    return 0;
}

}  // namespace wsproxy::cli
