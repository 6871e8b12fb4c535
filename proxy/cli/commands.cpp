#include "proxy/cli/commands.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace wsproxy::cli {

namespace {

void add_target(CLI::App& cmd, admin_targets& t) {
    cmd.add_option("--admin", t.admins,
                   "A proxy's admin address, [NAME=]HOST:PORT (default 127.0.0.1:9090); repeat it "
                   "for several replicas: their answers are merged with a source column (NAME, "
                   "else HOST:PORT)");
    cmd.add_option("--admin-url", t.admin_urls,
                   "The same as a URL, [NAME=]http://HOST:PORT; repeatable, mixes with --admin");
    cmd.add_option("--token", t.token,
                   "Admin token (when the proxies run with --admin-token), sent to every address");
    cmd.add_option("--token-file", t.token_file, "File holding the admin token");
}

std::string trim_right(std::string s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    return s;
}

}  // namespace

void add_commands(CLI::App& app, commands& c) {
    c.tap = app.add_subcommand(
        "tap", "Watch frames live from running proxies' admin ports (/tap): one line per frame. "
               "A stream that drops (a restart) is retried with backoff, 0.2 s doubling to 5 s; "
               "an address that cannot be reached at the start is an error");
    auto& ta = c.tap_opts;
    add_target(*c.tap, ta.target);
    c.tap->add_option("--chat", ta.chats, "Only frames of this chat_id (repeatable)");
    c.tap->add_option("--type", ta.types,
                      "Only frames of this message type (repeatable); a type the rules do not "
                      "know is warned about");
    c.tap->add_option("--client", ta.clients, "Only frames of this client_id (repeatable)");
    c.tap->add_option("--conn", ta.conns,
                      "Only frames of this connection id (repeatable); with --history, that "
                      "connection's own recent events");
    c.tap->add_option("--direction", ta.directions,
                      "Only client_to_server (c2s) or server_to_client (s2c) frames");
    c.tap->add_option("--history", ta.history,
                      "First print up to N recent events that match (from each address, merged "
                      "by time), then '--- live ---' on stderr, then live frames")
        ->capture_default_str();
    c.tap->add_flag("--json", ta.json,
                    "Print each event as one JSON line, with a \"source\" field (the address)");
    c.tap->add_option("--max-frames", ta.max_frames,
                      "Exit after this many frames (0: run until interrupted)")
        ->capture_default_str();
    c.tap->add_flag("--wait", ta.wait,
                    "Retry an address that cannot be reached at the start too (a proxy that is "
                    "still starting), instead of failing");
    c.tap->add_flag("--no-reconnect", ta.no_reconnect,
                    "Stop watching an address whose stream ends instead of reconnecting");

    c.connections = app.add_subcommand(
        "connections", "Show the live connections of running proxies (/connections) as a table");
    auto& co = c.connections_opts;
    add_target(*c.connections, co.target);
    c.connections->add_flag("--json", co.json,
                            "Print the JSON snapshot (merged, each row with a \"source\" field)");
    c.connections->add_flag("--closed", co.closed,
                            "Also list the recently closed connections with their close codes "
                            "and reason (the proxy keeps them for --closed-connections-seconds)");
    c.connections->add_flag("--watch", co.watch,
                            "Redraw every --interval seconds until interrupted (on a terminal "
                            "the screen is cleared; otherwise snapshots are separated by a blank "
                            "line)");
    c.connections->add_option("--interval", co.interval, "Seconds between --watch snapshots")
        ->capture_default_str()
        ->check(CLI::Range(0.1, 86400.0));
}

int run_chosen(const commands& c) {
    if (c.tap && c.tap->parsed()) return run_tap(c.tap_opts);
    if (c.connections && c.connections->parsed()) return run_connections(c.connections_opts);
    return -1;
}

admin_source parse_source(const std::string& text, const char* flag) {
    admin_source s;
    std::string rest = text;
    // NAME=ADDRESS: an address holds no '=', so the first one ends a name.
    if (auto eq = rest.find('='); eq != std::string::npos) {
        s.label = rest.substr(0, eq);
        rest = rest.substr(eq + 1);
        if (s.label.empty())
            throw std::runtime_error(std::string(flag) + ": empty name before '=' in \"" + text +
                                     "\"; write NAME=HOST:PORT or just HOST:PORT");
    }
    const std::string given = rest;
    if (rest.starts_with("https://"))
        throw std::runtime_error(std::string(flag) + ": \"" + text +
                                 "\": the admin port speaks plain HTTP; use http://HOST:PORT "
                                 "(through kubectl port-forward or an SSH tunnel when it is remote)");
    if (rest.starts_with("http://")) rest = rest.substr(7);
    if (!rest.empty() && rest.back() == '/') rest.pop_back();
    auto colon = rest.rfind(':');
    if (rest.find('/') != std::string::npos || rest.find('?') != std::string::npos ||
        colon == std::string::npos || colon + 1 == rest.size())
        throw std::runtime_error(std::string(flag) + ": expected HOST:PORT or http://HOST:PORT, "
                                 "got \"" + text + "\"");
    s.host = rest.substr(0, colon);
    if (s.host.size() >= 2 && s.host.front() == '[' && s.host.back() == ']')
        s.host = s.host.substr(1, s.host.size() - 2);
    if (s.host.empty()) s.host = "127.0.0.1";
    s.port = rest.substr(colon + 1);
    if (!std::all_of(s.port.begin(), s.port.end(), [](unsigned char c) { return std::isdigit(c); }))
        throw std::runtime_error(std::string(flag) + ": the port of \"" + text +
                                 "\" is not a number");
    if (s.label.empty()) s.label = given.starts_with("http://") ? s.where() : rest;
    return s;
}

std::vector<admin_source> resolve_sources(const admin_targets& t) {
    std::vector<admin_source> out;
    for (const auto& a : t.admins) out.push_back(parse_source(a, "--admin"));
    for (const auto& a : t.admin_urls) out.push_back(parse_source(a, "--admin-url"));
    if (out.empty()) out.push_back(parse_source("127.0.0.1:9090", "--admin"));
    for (std::size_t i = 0; i < out.size(); ++i)
        for (std::size_t j = 0; j < i; ++j)
            if (out[i].label == out[j].label)
                throw std::runtime_error("--admin: \"" + out[i].label +
                                         "\" is given twice; give each address once (or a "
                                         "distinct NAME= to each)");
    return out;
}

std::string load_token(const admin_targets& t) {
    if (t.token_file.empty()) return t.token;
    std::ifstream f(t.token_file);
    if (!f) throw std::runtime_error("--token-file: cannot read \"" + t.token_file + "\"");
    std::stringstream ss;
    ss << f.rdbuf();
    std::string token = trim_right(ss.str());
    if (token.empty()) throw std::runtime_error("--token-file: \"" + t.token_file + "\" is empty");
    return token;
}

std::string bearer(const std::string& token) { return token.empty() ? "" : "Bearer " + token; }

std::string url_encode(const std::string& s) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

std::string with_source(const std::string& json_object, const std::string& label) {
    auto open = json_object.find_first_not_of(" \t\r\n");
    if (open == std::string::npos || json_object[open] != '{') return json_object;
    auto next = json_object.find_first_not_of(" \t\r\n", open + 1);
    bool empty = next != std::string::npos && json_object[next] == '}';
    std::string out = "{\"source\":";
    out += nlohmann::json(label).dump();
    if (!empty) out += ',';
    out.append(json_object, open + 1, std::string::npos);
    return out;
}

double backoff::next_seconds() {
    const double ceiling = std::min(5.0, 0.2 * static_cast<double>(1u << std::min(step_, 5u)));
    ++step_;
    return std::uniform_real_distribution<double>(ceiling / 2, ceiling)(rng_);
}

}  // namespace wsproxy::cli
