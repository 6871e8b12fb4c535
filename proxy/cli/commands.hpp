#pragma once
// The client verbs of the wsproxy binary, which talk to running proxies' admin ports:
//   wsproxy tap          live frames from /tap, one line each (or JSON lines)
//   wsproxy connections  the /connections snapshot as a table (or JSON)
// Both take several admin addresses (one per replica) and merge what they answer, with the
// address as a `source` column. They run on the caller's thread, with their own io_context,
// and share nothing with the proxy but the admin protocol.
#include <cstdint>
#include <string>
#include <vector>

#include "proxy/cli/sources.hpp"

namespace CLI {
class App;
}

namespace wsproxy::cli {

struct tap_args {
    admin_targets target;
    std::vector<std::string> chats, types, clients, directions;
    std::vector<std::uint64_t> conns;
    bool json{false};
    std::uint64_t max_frames{0};  // 0: until interrupted
    std::uint64_t history{0};     // events from before the tap started, per source
    bool wait{false};             // retry the first connect too, instead of failing
    bool no_reconnect{false};     // a source whose stream ends stays gone
};

struct connections_args {
    admin_targets target;
    std::vector<std::uint64_t> id;  // one id: that connection and its timeline (/connections/ID)
    bool json{false};
    bool closed{false};
    bool watch{false};
    double interval{2.0};
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

}  // namespace wsproxy::cli
