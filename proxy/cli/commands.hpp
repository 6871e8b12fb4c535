#pragma once
// The client verbs of the wsproxy binary, which talk to a running proxy's admin port:
//   wsproxy tap          live frames from /tap, one line each (or JSON lines)
//   wsproxy connections  the /connections snapshot as a table (or JSON)
// They run on the caller's thread, with their own io_context, and share nothing with the
// proxy but the admin protocol.
#include <cstdint>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace wsproxy::cli {

struct admin_target {
    std::string admin{"127.0.0.1:9090"};
    std::string token;
    std::string token_file;
};

struct tap_args {
    admin_target target;
    std::vector<std::string> chats, types, clients, directions;
    std::vector<std::uint64_t> conns;
    bool json{false};
    std::uint64_t max_frames{0};  // 0: until interrupted or the proxy goes away
};

struct connections_args {
    admin_target target;
    bool json{false};
};

struct commands {
    CLI::App* tap{nullptr};
    CLI::App* connections{nullptr};
    tap_args tap_opts;
    connections_args connections_opts;
};

// Registers the subcommands on `app`.
void add_commands(CLI::App& app, commands& c);
// After parsing: the exit code of the chosen subcommand, or -1 when none was chosen.
int run_chosen(const commands& c);

int run_tap(const tap_args& a);
int run_connections(const connections_args& a);

// Shared by both verbs (commands.cpp).
struct resolved_target {
    std::string host;
    std::string port;
    std::string token;  // empty: none
};
// Throws std::runtime_error with a message for the user.
resolved_target resolve(const admin_target& t);
// "Authorization: Bearer" value, or empty.
std::string bearer(const resolved_target& t);
std::string url_encode(const std::string& s);

}  // namespace wsproxy::cli
