// `wsproxy connections`: the /connections snapshot as a table, from one proxy or several
// merged (rows sorted by when they opened, with a SOURCE column), once or every --interval
// seconds with --watch.
//
// Exit codes: 0 when every address answered; 1 when one did not (the others are still
// printed, as kubectl does for a partly failed get); 2 for a bad flag. --watch runs until
// SIGINT/SIGTERM and exits 0: an address that fails is reported in that snapshot only.
#include <unistd.h>

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <ctime>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "proxy/cli/commands.hpp"

namespace wsproxy::cli {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

using json = nlohmann::json;

struct answer {
    std::string error;  // empty: `doc` holds the proxy's answer
    json doc;
    bool not_found{false};  // /connections/ID: this proxy does not know the id
};

// One GET /connections; owns itself until `done` has been called.
class fetch : public std::enable_shared_from_this<fetch> {
public:
    fetch(net::io_context& ioc, const admin_source& src, const std::string& token,
          const std::string& target, std::function<void(answer)> done)
        : resolver_(ioc), stream_(ioc), src_(src), token_(token), done_(std::move(done)) {
        req_ = {http::verb::get, target, 11};
        req_.set(http::field::host, src_.where());
        req_.set(http::field::user_agent, "wsproxy-connections");
        if (!token_.empty()) req_.set(http::field::authorization, bearer(token_));
    }

    void start() {
        stream_.expires_after(std::chrono::seconds(10));
        resolver_.async_resolve(
            src_.host, src_.port,
            [self = shared_from_this()](beast::error_code ec, tcp::resolver::results_type r) {
                if (ec)
                    return self->fail("cannot resolve the admin host \"" + self->src_.host +
                                      "\": " + ec.message());
                self->on_resolve(r);
            });
    }

private:
    void on_resolve(const tcp::resolver::results_type& r) {
        stream_.async_connect(r, [self = shared_from_this()](beast::error_code ec,
                                                             const tcp::endpoint&) {
            if (ec)
                return self->fail("cannot reach the admin port at " + self->src_.where() + ": " +
                                  ec.message() + " (is wsproxy running, and is --admin right?)");
            http::async_write(self->stream_, self->req_, [self](beast::error_code ec, std::size_t) {
                if (ec)
                    return self->fail("cannot send to " + self->src_.where() + ": " + ec.message());
                self->on_write();
            });
        });
    }

    void on_write() {
        http::async_read(
            stream_, buf_, res_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
                if (ec)
                    return self->fail("no answer from " + self->src_.where() + ": " + ec.message());
                self->on_read();
            });
    }

    void on_read() {
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        const auto where = src_.where();
        if (res_.result() == http::status::unauthorized)
            return fail(token_.empty()
                            ? "the admin port at " + where +
                                  " needs a token: pass --token TOKEN or --token-file FILE"
                            : "the admin port at " + where + " refused the token");
        if (res_.result() == http::status::not_found && req_.target() != "/connections" &&
            req_.target().starts_with("/connections/")) {
            answer a;
            a.not_found = true;
            return done_(std::move(a));
        }
        if (res_.result() != http::status::ok)
            return fail("the admin port at " + where + " answered HTTP " +
                        std::to_string(res_.result_int()));
        answer a;
        a.doc = json::parse(res_.body(), nullptr, false);
        if (a.doc.is_discarded() || !a.doc.is_object())
            return fail("the admin port at " + where + " sent something that is not JSON");
        done_(std::move(a));
    }

    void fail(std::string why) { done_(answer{std::move(why), {}}); }

    tcp::resolver resolver_;
    beast::tcp_stream stream_;
    admin_source src_;
    std::string token_;
    std::function<void(answer)> done_;
    http::request<http::empty_body> req_;
    http::response<http::string_body> res_;
    beast::flat_buffer buf_;
};

// Every address's answer in one document: {"connections":[...], "closed":[...] with
// --closed, "sources":[{"source", "error"?}]}, each row with its "source".
json merge(const std::vector<admin_source>& sources, const std::vector<answer>& answers,
           bool with_closed) {
    json out = {{"connections", json::array()}, {"sources", json::array()}};
    if (with_closed) out["closed"] = json::array();
    for (std::size_t i = 0; i < sources.size(); ++i) {
        const auto& label = sources[i].label;
        json status = {{"source", label}};
        const auto& a = answers[i];
        if (!a.error.empty()) {
            status["error"] = a.error;
            out["sources"].push_back(status);
            continue;
        }
        auto take = [&](const char* key) {
            auto it = a.doc.find(key);
            if (it == a.doc.end() || !it->is_array()) return false;
            for (auto row : *it) {
                if (!row.is_object()) continue;
                row["source"] = label;
                out[key].push_back(std::move(row));
            }
            return true;
        };
        take("connections");
        if (with_closed && !take("closed"))
            status["closed"] = "not reported: a wsproxy older than this CLI";
        out["sources"].push_back(status);
    }
    auto text = [](const json& row, const char* key) {
        auto it = row.find(key);
        return it != row.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    auto id = [](const json& row) { return row.value("id", std::uint64_t{0}); };
    // ISO times in one format order as strings; the source and id break ties.
    std::stable_sort(out["connections"].begin(), out["connections"].end(),
                     [&](const json& x, const json& y) {
                         return std::tuple(text(x, "started"), text(x, "source"), id(x)) <
                                std::tuple(text(y, "started"), text(y, "source"), id(y));
                     });
    if (with_closed)
        std::stable_sort(
            out["closed"].begin(), out["closed"].end(),
            [&](const json& x, const json& y) { return text(x, "closed") > text(y, "closed"); });
    return out;
}

std::string str(const json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return "-";
    return it->is_string() ? it->get<std::string>() : it->dump();
}

std::string chats(const json& list) {
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

std::string duration_text(const json& row) {
    auto it = row.find("duration_ms");
    if (it == row.end() || !it->is_number()) return "-";
    const double ms = it->get<double>();
    char buf[32];
    if (ms < 60'000)
        std::snprintf(buf, sizeof buf, "%.1f s", ms / 1000);
    else
        std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(ms / 60'000),
                      static_cast<long long>(ms / 1000) % 60);
    return buf;
}

// Width in characters: the arrows and ticks are one column each but several bytes.
std::size_t width(const std::string& s) {
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
}

void print_rows(const std::vector<std::vector<std::string>>& rows, bool colour, std::string& out) {
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
        out += line;
        out += '\n';
    }
}

std::string render_tables(const json& doc, bool several, bool colour) {
    std::string out;
    auto with_source = [several](std::vector<std::string> row, std::string source) {
        if (several) row.insert(row.begin(), std::move(source));
        return row;
    };
    const auto& live = doc["connections"];
    std::vector<std::vector<std::string>> rows;
    rows.push_back(with_source(
        {"ID", "REMOTE", "STARTED", "PHASE", "CLIENT_ID", "JOINED_BY_CLIENT", "JOINED_BY_US",
         "FRAMES \u2192/\u2190", "BYTES \u2192/\u2190", "LAST", "A B C D E"},
        "SOURCE"));
    for (const auto& c : live) {
        const auto& f = c.value("frames", json::object());
        const auto& b = c.value("bytes", json::object());
        const auto& s = c.value("signals", json::object());
        std::string signals;
        for (const char* k : {"A", "B", "C", "D", "E"}) {
            bool on = s.value(k, false);
            if (!signals.empty()) signals += ' ';
            signals += colour ? (on ? "\x1b[32m\u2714\x1b[0m" : "\x1b[31m\u2718\x1b[0m")
                              : (on ? "\u2714" : "\u2718");
        }
        const auto& joined = c.value("chats", json::object());
        std::string last = str(c, "last_frame");
        rows.push_back(with_source(
            {str(c, "id"), str(c, "remote"), clock_part(str(c, "started")), str(c, "phase"),
             str(c, "client_id"), chats(joined.value("by_client", json::array())),
             chats(joined.value("by_us", json::array())),
             str(f, "client_to_server") + "/" + str(f, "server_to_client"),
             str(b, "client_to_server") + "/" + str(b, "server_to_client"),
             last == "-" ? last : clock_part(last), signals},
            str(c, "source")));
    }
    print_rows(rows, colour, out);
    if (live.empty()) out += "(no live connections)\n";
    out +=
        "signals: A client_id captured, B chat joined, C registered, D answers delivered, "
        "E isolation kept\n";

    if (!doc.contains("closed")) return out;
    const auto& closed = doc["closed"];
    out += "\nrecently closed, newest first (times UTC):\n";
    rows.clear();
    rows.push_back(with_source({"ID", "REMOTE", "STARTED", "CLOSED", "LASTED", "CLIENT_ID", "CHATS",
                                "FRAMES \u2192/\u2190", "CLOSE CODE C/S", "REASON"},
                               "SOURCE"));
    for (const auto& c : closed) {
        const auto& f = c.value("frames", json::object());
        const auto& joined = c.value("chats", json::object());
        std::string all = chats(joined.value("by_client", json::array()));
        std::string ours = chats(joined.value("by_us", json::array()));
        if (!ours.empty()) all += (all.empty() ? "" : ",") + ours;
        rows.push_back(
            with_source({str(c, "id"), str(c, "remote"), clock_part(str(c, "started")),
                         clock_part(str(c, "closed")), duration_text(c), str(c, "client_id"), all,
                         str(f, "client_to_server") + "/" + str(f, "server_to_client"),
                         str(c, "close_code_client") + "/" + str(c, "close_code_server"),
                         str(c, "close_reason")},
                        str(c, "source")));
    }
    print_rows(rows, colour, out);
    if (closed.empty()) out += "(none closed recently)\n";
    return out;
}

bool has(const json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && !it->is_null();
}

// "HH:MM:SS.mmm" (UTC) of a tap event's ts, or of an ISO time.
std::string utc_clock(const json& ev) {
    if (auto it = ev.find("ts"); it != ev.end() && it->is_number_integer()) {
        const auto ms = it->get<std::int64_t>();
        std::time_t secs = static_cast<std::time_t>(ms / 1000);
        std::tm tm{};
        gmtime_r(&secs, &tm);
        char buf[32];
        std::snprintf(buf, sizeof buf, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
                      static_cast<int>(ms % 1000));
        return buf;
    }
    const std::string iso = str(ev, "time");
    auto t = iso.find('T');
    return t == std::string::npos ? iso : iso.substr(t + 1, 12);
}

// One connection's record and timeline, as /connections/ID sends them.
std::string render_timeline(const std::string& source, const json& doc) {
    const auto& c = doc.value("connection", json::object());
    std::string out =
        "connection " + str(c, "id") + (source.empty() ? "" : " at " + source) + ": " +
        str(c, "remote") + ", client_id " + str(c, "client_id") + ", " +
        (c.contains("closed") ? "closed after " + duration_text(c) : "live, " + str(c, "phase")) +
        " (times UTC)\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& ev : doc.value("timeline", json::array())) {
        const std::string event = str(ev, "event");
        if (event == "frame") {
            bool up = str(ev, "direction") == "client_to_server";
            std::string flags;
            const json flag_set = ev.value("flags", json::object());
            for (const auto& [name, on] : flag_set.items())
                if (on.is_boolean() && on.get<bool>()) flags += (flags.empty() ? "" : " ") + name;
            if (ev.contains("reason"))
                flags += (flags.empty() ? "" : " ") + ("why: " + str(ev, "reason")) +
                         (ev.contains("cause") ? " (" + str(ev, "cause") + ")" : "");
            if (const auto& ans = ev.value("answer", json::object()); !ans.empty()) {
                std::string a = "answer";
                if (has(ans, "result")) a += " " + str(ans, "result");
                if (has(ans, "first_frame_ms"))
                    a += ", first frame " + str(ans, "first_frame_ms") + " ms";
                if (has(ans, "complete_ms")) a += ", complete " + str(ans, "complete_ms") + " ms";
                flags += (flags.empty() ? "" : " ") + a;
            }
            rows.push_back({utc_clock(ev), up ? "\u2192" : "\u2190", str(ev, "type"),
                            "chat=" + str(ev, "chat_id"), str(ev, "size") + " B", flags});
        } else if (event == "closed") {
            rows.push_back({utc_clock(ev), "x", "closed",
                            "codes " + str(ev, "close_code_client") + "/" +
                                str(ev, "close_code_server") + " (client/server)",
                            str(ev, "close_reason"), ""});
        } else {
            rows.push_back({utc_clock(ev), "+", event, "remote=" + str(ev, "remote"), "", ""});
        }
    }
    if (rows.empty()) return out + "(no events kept)\n";
    std::vector<std::size_t> widths(rows[0].size(), 0);
    for (auto& r : rows)
        for (std::size_t i = 0; i < r.size(); ++i) widths[i] = std::max(widths[i], width(r[i]));
    for (auto& r : rows) {
        std::string line = "  ";
        for (std::size_t i = 0; i < r.size(); ++i) {
            line += r[i];
            if (i + 1 < r.size()) line.append(widths[i] + 2 - width(r[i]), ' ');
        }
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out += line + "\n";
    }
    return out;
}

std::string utc_now() {
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// Fetches every address at once, prints the merged snapshot, and with --watch does it again
// every --interval seconds.
class connections_run {
public:
    connections_run(const connections_args& a, std::vector<admin_source> sources, std::string token)
        : args_(a),
          sources_(std::move(sources)),
          token_(std::move(token)),
          signals_(ioc_),
          timer_(ioc_),
          tty_(::isatty(STDOUT_FILENO)) {}

    int run() {
        // Only --watch takes the signals: a one-shot run is ended by them as any process is.
        if (args_.watch) {
            signals_.add(SIGINT);
            signals_.add(SIGTERM);
            signals_.async_wait([this](beast::error_code ec, int) {
                if (!ec) ioc_.stop();
            });
        }
        round();
        ioc_.run();
        return exit_code_;
    }

private:
    void round() {
        auto answers = std::make_shared<std::vector<answer>>(sources_.size());
        auto pending = std::make_shared<std::size_t>(sources_.size());
        const std::string target = !args_.id.empty() ? "/connections/" + std::to_string(args_.id[0])
                                   : args_.closed    ? "/connections"
                                                     : "/connections?closed=0";
        for (std::size_t i = 0; i < sources_.size(); ++i) {
            std::make_shared<fetch>(ioc_, sources_[i], token_, target,
                                    [this, i, answers, pending](answer a) {
                                        (*answers)[i] = std::move(a);
                                        if (--*pending == 0) show(*answers);
                                    })
                ->start();
        }
    }

    // The connection asked for, from every address that knows it (ids are per proxy, so
    // several replicas may each have one).
    std::pair<json, std::string> drill_down(const std::vector<answer>& answers) {
        json doc = {{"id", args_.id[0]}, {"found", json::array()}, {"sources", json::array()}};
        std::string text;
        for (std::size_t i = 0; i < sources_.size(); ++i) {
            json status = {{"source", sources_[i].label}};
            if (!answers[i].error.empty()) {
                status["error"] = answers[i].error;
            } else if (answers[i].not_found) {
                status["found"] = false;
            } else {
                json one = answers[i].doc;
                one["source"] = sources_[i].label;
                text += (text.empty() ? "" : "\n") +
                        render_timeline(sources_.size() > 1 ? sources_[i].label : "", one);
                doc["found"].push_back(std::move(one));
            }
            doc["sources"].push_back(std::move(status));
        }
        if (doc["found"].empty()) {
            std::string where;
            for (const auto& s : sources_) where += (where.empty() ? "" : ", ") + s.label;
            text =
                "no connection " + std::to_string(args_.id[0]) + " at " + where +
                ": it is unknown, or it closed longer ago than the proxy keeps closed ones "
                "(--closed-connections-seconds); list them with `wsproxy connections --closed`\n";
        }
        return {doc, text};
    }

    void show(const std::vector<answer>& answers) {
        json doc;
        std::string drilled;
        if (!args_.id.empty())
            std::tie(doc, drilled) = drill_down(answers);
        else
            doc = merge(sources_, answers, args_.closed);
        const bool colour = tty_ && !args_.json && !std::getenv("NO_COLOR");
        std::string out;
        if (args_.watch) {
            if (tty_)
                out += "\x1b[H\x1b[2J";
            else if (rounds_ > 0)
                out += '\n';
            if (!args_.json) {
                char every[32];
                std::snprintf(every, sizeof every, "%.1f", args_.interval);
                out += "wsproxy connections at " + utc_now() + ", every " + every +
                       " s (Ctrl-C to stop)\n";
            }
        }
        if (args_.json)
            out += doc.dump(2) + "\n";
        else if (!args_.id.empty() && (args_.watch || !doc["found"].empty()))
            out += drilled;
        else if (!args_.id.empty())
            std::fprintf(stderr, "wsproxy connections: %s", drilled.c_str());
        else
            out += render_tables(doc, sources_.size() > 1, colour);
        std::fwrite(out.data(), 1, out.size(), stdout);
        std::fflush(stdout);
        bool failed = false;
        for (std::size_t i = 0; i < answers.size(); ++i) {
            if (!answers[i].error.empty()) {
                failed = true;
                std::fprintf(stderr, "wsproxy connections: %s\n", answers[i].error.c_str());
            } else if (args_.closed && !answers[i].doc.contains("closed") && !warned_old_) {
                warned_old_ = true;
                std::fprintf(stderr,
                             "wsproxy connections: %s does not report closed connections (a "
                             "wsproxy older than this CLI); --closed lists none from it\n",
                             sources_[i].label.c_str());
            }
        }
        ++rounds_;
        if (!args_.watch) {
            exit_code_ = failed || (!args_.id.empty() && doc["found"].empty()) ? 1 : 0;
            return;
        }
        timer_.expires_after(std::chrono::milliseconds(static_cast<long>(args_.interval * 1000)));
        timer_.async_wait([this](beast::error_code ec) {
            if (!ec) round();
        });
    }

    net::io_context ioc_;
    const connections_args& args_;
    std::vector<admin_source> sources_;
    std::string token_;
    net::signal_set signals_;
    net::steady_timer timer_;
    bool tty_;
    bool warned_old_{false};
    std::uint64_t rounds_{0};
    int exit_code_{0};
};

}  // namespace

int run_connections(const connections_args& a) {
    std::vector<admin_source> sources;
    std::string token;
    try {
        sources = resolve_sources(a.target);
        token = load_token(a.target);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "wsproxy connections: %s\n", e.what());
        return 2;
    }
    connections_run run(a, std::move(sources), std::move(token));
    return run.run();
}

}  // namespace wsproxy::cli
