#include "proxy/cli/commands.hpp"

#include <CLI/CLI.hpp>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace wsproxy::cli {

namespace {

void add_target(CLI::App& cmd, admin_target& t) {
    cmd.add_option("--admin", t.admin, "The proxy's admin address, HOST:PORT")
        ->capture_default_str();
    cmd.add_option("--token", t.token, "Admin token (when the proxy runs with --admin-token)");
    cmd.add_option("--token-file", t.token_file, "File holding the admin token");
}

}  // namespace

void add_commands(CLI::App& app, commands& c) {
    c.tap = app.add_subcommand("tap", "Watch frames live from a running proxy's admin port "
                                      "(/tap): one line per frame");
    auto& ta = c.tap_opts;
    add_target(*c.tap, ta.target);
    c.tap->add_option("--chat", ta.chats, "Only frames of this chat_id (repeatable)");
    c.tap->add_option("--type", ta.types, "Only frames of this message type (repeatable)");
    c.tap->add_option("--client", ta.clients, "Only frames of this client_id (repeatable)");
    c.tap->add_option("--conn", ta.conns, "Only frames of this connection id (repeatable)");
    c.tap->add_option("--direction", ta.directions,
                      "Only client_to_server (c2s) or server_to_client (s2c) frames");
    c.tap->add_flag("--json", ta.json, "Print each event as one JSON line");
    c.tap->add_option("--max-frames", ta.max_frames,
                      "Exit after this many frames (0: run until interrupted)")
        ->capture_default_str();

    c.connections = app.add_subcommand(
        "connections", "Show the live connections of a running proxy (/connections) as a table");
    add_target(*c.connections, c.connections_opts.target);
    c.connections->add_flag("--json", c.connections_opts.json, "Print the JSON snapshot");
}

int run_chosen(const commands& c) {
    if (c.tap && c.tap->parsed()) return run_tap(c.tap_opts);
    if (c.connections && c.connections->parsed()) return run_connections(c.connections_opts);
    return -1;
}

resolved_target resolve(const admin_target& t) {
    resolved_target r;
    auto colon = t.admin.rfind(':');
    if (colon == std::string::npos || colon + 1 == t.admin.size())
        throw std::runtime_error("--admin: expected HOST:PORT, got \"" + t.admin + "\"");
    r.host = t.admin.substr(0, colon);
    if (r.host.size() >= 2 && r.host.front() == '[' && r.host.back() == ']')
        r.host = r.host.substr(1, r.host.size() - 2);
    if (r.host.empty()) r.host = "127.0.0.1";
    r.port = t.admin.substr(colon + 1);
    r.token = t.token;
    if (!t.token_file.empty()) {
        std::ifstream f(t.token_file);
        if (!f) throw std::runtime_error("--token-file: cannot read \"" + t.token_file + "\"");
        std::stringstream ss;
        ss << f.rdbuf();
        r.token = ss.str();
        while (!r.token.empty() && std::isspace(static_cast<unsigned char>(r.token.back())))
            r.token.pop_back();
        if (r.token.empty())
            throw std::runtime_error("--token-file: \"" + t.token_file + "\" is empty");
    }
    return r;
}

std::string bearer(const resolved_target& t) { return t.token.empty() ? "" : "Bearer " + t.token; }

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

}  // namespace wsproxy::cli
