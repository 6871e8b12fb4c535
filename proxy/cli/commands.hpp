#pragma once
// The client verbs of the wsproxy binary, which talk to running proxies' admin ports:
//   wsproxy tap          live frames from /tap, one line each (or JSON lines)
//   wsproxy connections  the /connections snapshot as a table (or JSON)
// Both take several admin addresses (one per replica) and merge what they answer, with the
// address as a `source` column. They run on the caller's thread, with their own io_context,
// and share nothing with the proxy but the admin protocol.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace wsproxy::cli {

struct admin_targets {
    std::vector<std::string> admins;      // --admin [NAME=]HOST:PORT, repeatable
    std::vector<std::string> admin_urls;  // --admin-url [NAME=][http://]HOST:PORT, repeatable
    std::string token;
    std::string token_file;
};

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

// Shared by both verbs (commands.cpp).

// One admin port to query. `label` names it in the source column: the NAME of NAME=ADDRESS,
// else HOST:PORT as given.
struct admin_source {
    std::string label;
    std::string host;
    std::string port;
    std::string where() const { return host + ":" + port; }
};
// Every --admin and --admin-url (127.0.0.1:9090 when none). Throws std::runtime_error with a
// message for the user.
std::vector<admin_source> resolve_sources(const admin_targets& t);
// One address, "[NAME=][http://]HOST:PORT[/]"; `flag` names it in errors.
admin_source parse_source(const std::string& text, const char* flag);
// The token from --token or --token-file, empty when none. Throws std::runtime_error.
std::string load_token(const admin_targets& t);
// "Authorization: Bearer" value, or empty.
std::string bearer(const std::string& token);
std::string url_encode(const std::string& s);
// `{"source":"LABEL",` spliced in front of a JSON object's first member, keeping the rest
// byte for byte (the proxy's field order); anything else is returned as it came.
std::string with_source(const std::string& json_object, const std::string& label);

// Reconnect delays: 0.2 s doubling to 5 s, each drawn from [d/2, d] so that several taps
// cut off by one restart do not knock on the new process in step.
class backoff {
public:
    double next_seconds();
    void reset() { step_ = 0; }

private:
    unsigned step_{0};
    std::mt19937 rng_{std::random_device{}()};
};

}  // namespace wsproxy::cli
