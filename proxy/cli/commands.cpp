#include "proxy/cli/commands.hpp"

#include <CLI/CLI.hpp>

namespace wsproxy::cli {

namespace {

void add_target(CLI::App& cmd, admin_targets& t) {
    cmd.add_option("--admin", t.admins,
                   "A proxy's admin address, [NAME=]HOST:PORT (default 127.0.0.1:9090); repeat it "
                   "for several replicas: their answers are merged with a source column (NAME, "
                   "else HOST:PORT)")
        // One address per flag: `connections --admin A 7` is connection 7 at A.
        ->allow_extra_args(false);
    cmd.add_option("--admin-url", t.admin_urls,
                   "The same as a URL, [NAME=]http://HOST:PORT; repeatable, mixes with --admin")
        ->allow_extra_args(false);
    cmd.add_option("--token", t.token,
                   "Admin token (when the proxies run with --admin-token), sent to every address");
    cmd.add_option("--token-file", t.token_file, "File holding the admin token");
}

}  // namespace

void add_commands(CLI::App& app, commands& c) {
    c.tap = app.add_subcommand(
        "tap",
        "Watch frames live from running proxies' admin ports (/tap): one line per frame. "
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
    c.tap
        ->add_option("--history", ta.history,
                     "First print up to N recent events that match (from each address, merged "
                     "by time), then '--- live ---' on stderr, then live frames")
        ->capture_default_str();
    c.tap->add_flag("--json", ta.json,
                    "Print each event as one JSON line, with a \"source\" field (the address)");
    c.tap
        ->add_option("--max-frames", ta.max_frames,
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
    c.connections
        ->add_option("id", co.id,
                     "A connection id: that connection (live or recently closed) and its "
                     "timeline, opened, its kept events and its close (times UTC)")
        ->expected(0, 1);
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

}  // namespace wsproxy::cli
