// wsproxy: a traffic-inspecting WebSocket proxy. See README.md.
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <algorithm>
#include <csignal>
#include <functional>
#include <cstdio>
#include <iostream>
#include <thread>
#include <utility>

#include "proxy/cli/commands.hpp"
#include "proxy/base/log.hpp"
#include "proxy/base/options.hpp"
#include "proxy/server.hpp"
#include "rules/config.hpp"

namespace {

struct raw_flags {
    std::string listen = "0.0.0.0:8080";
    std::string upstream;
    std::string admin = "127.0.0.1:9090";
    std::string log_format = "text";
    std::string log_level = "info";
    std::string mode;
    std::string admin_token_file;
    std::vector<std::string> tap_redact;
    std::string min_rate = "0";
    bool print_default_rules = false;
};

void add_proxy_flags(CLI::App& app, wsproxy::proxy_options& o, raw_flags& raw) {
    app.add_option("--listen", raw.listen, "Address for browsers, HOST:PORT")
        ->capture_default_str();
    app.add_option("--upstream", raw.upstream,
                   "The backend, ws://HOST:PORT or wss://HOST:PORT (required). Paths and "
                   "queries are passed through as the client sent them");
    app.add_option("--admin", raw.admin,
                   "Admin address for /healthz, /readyz, /metrics, /connections, the /tap stream "
                   "and the web viewer at /, HOST:PORT")
        ->capture_default_str();
    app.add_option("--admin-token", o.admin_token,
                   "Require \"Authorization: Bearer TOKEN\" (or ?token=TOKEN) on the admin port, "
                   "except /healthz and /readyz; prefer --admin-token-file, as flags show in ps");
    app.add_option("--admin-token-file", raw.admin_token_file,
                   "Read the admin token from this file (surrounding whitespace ignored)");
    app.add_option("--admin-allow-origin", o.admin_allow_origins,
                   "A browser Origin (scheme://host[:port]) besides the admin port's own that may "
                   "use the admin port (the viewer's /tap WebSocket), repeatable");
    app.add_option("--admin-allow-host", o.admin_allow_hosts,
                   "A host name the admin port answers to besides loopback names and IP "
                   "addresses (e.g. a Service name), repeatable; others get 421 (DNS rebinding)");
    app.add_option("--trusted-proxies", o.trusted_proxies,
                   "Peers (addresses or CIDRs, comma-separated or repeated) whose "
                   "X-Forwarded-Proto and X-Forwarded-Host are kept, e.g. a TLS-terminating "
                   "ingress; from anyone else they are replaced by what wsproxy saw");
    app.add_flag("--tap-payloads", o.tap_payloads,
                 "Include frame payloads in /tap events, with --tap-redact paths replaced by "
                 "\"[redacted]\" (default: metadata only)");
    app.add_option("--tap-redact", raw.tap_redact,
                   "JSON path (dotted) to redact in /tap payloads, repeatable; data.content is "
                   "always redacted");
    app.add_option("--tap-queue-limit", o.tap_queue_limit,
                   "Events queued per /tap subscriber; a slower one loses the oldest "
                   "(counted in wsproxy_tap_dropped_total)")
        ->capture_default_str();
    app.add_option("--tap-history", o.tap_history,
                   "Tap events kept for /tap?history=N and the viewer, redacted as the tap shows "
                   "them (0: off; wsproxy_tap_history_events)")
        ->capture_default_str();
    app.add_option("--tap-history-per-conn", o.tap_history_per_conn,
                   "Tap events kept per connection for its timeline (/connections/ID), until its "
                   "closed record ages out (0: off)")
        ->capture_default_str();
    app.add_option("--closed-connections-seconds", o.closed_connections_seconds,
                   "Seconds a closed connection stays listed in /connections, with its close codes")
        ->capture_default_str();
    app.add_option("--closed-connections-max", o.closed_connections_max,
                   "Closed connections listed at most; the oldest go first (0: none)")
        ->capture_default_str();
    app.add_option("--threads", o.threads, "Worker threads (0: one per CPU)")->capture_default_str();
    app.add_option("--tls-cert", o.tls_cert, "PEM certificate chain: serve wss:// and https:// to clients");
    app.add_option("--tls-key", o.tls_key, "PEM private key for --tls-cert");
    app.add_option("--upstream-ca", o.upstream_ca,
                   "PEM CA bundle to trust for a wss:// upstream (besides the system's)");
    app.add_option("--log-format", raw.log_format,
                   "Log lines as json (one object per line) or text (logfmt: key=value)")
        ->capture_default_str();
    app.add_option("--log-level", raw.log_level, "debug, info, warn or error")
        ->capture_default_str();
    app.add_option("--rules", o.rules_file,
                   "Rules file (YAML); see --print-default-rules. Re-read on SIGHUP and when the "
                   "file changes; a bad file is rejected and the rules in force stay");
    app.add_option("--mode", raw.mode,
                   "fix: inject join_chat where needed; observe: change nothing, only log and "
                   "count (overrides the rules file)");
    app.add_flag("--print-default-rules", raw.print_default_rules,
                 "Print the built-in rules as a commented YAML file and exit");
    app.add_option("--handshake-timeout", o.handshake_timeout,
                   "Seconds for a client's request, the upstream connect and each handshake")
        ->capture_default_str();
    app.add_option("--idle-timeout", o.idle_timeout,
                   "Seconds without traffic before a leg is closed (pings go out at half)")
        ->capture_default_str();
    app.add_flag("!--no-keepalive-pings", o.keepalive_pings,
                 "Do not ping idle legs; close them at --idle-timeout");
    app.add_option("--write-timeout", o.write_timeout,
                   "Seconds a write may wait while the peer takes none of it before the peer is closed as too slow")
        ->capture_default_str();
    app.add_option("--min-rate", raw.min_rate,
                   "BYTES/SECONDS: a peer with data waiting for it that takes fewer than BYTES "
                   "in SECONDS is closed as too slow (e.g. 4096/30; 0: off)")
        ->capture_default_str();
    app.add_option("--drain-timeout", o.drain_timeout,
                   "Seconds between SIGTERM and closing the remaining sessions with 1001")
        ->capture_default_str();
    app.add_option("--max-message-bytes", o.max_message_bytes,
                   "Largest WebSocket message relayed; a bigger one closes its sender with 1009")
        ->capture_default_str();
    app.add_option("--max-header-bytes", o.max_header_bytes,
                   "Largest HTTP request head; bigger gets 431")
        ->capture_default_str();
    app.add_option("--max-body-bytes", o.max_body_bytes,
                   "Largest HTTP body relayed; a bigger request gets 413, a bigger response 502")
        ->capture_default_str();
    app.add_option("--max-connections", o.max_connections,
                   "Concurrent client connections, HTTP and WebSocket alike; past it a new connection "
                   "gets 503 and is closed (0: half the descriptor limit less 32)")
        ->capture_default_str();
    app.add_flag("--permessage-deflate", o.permessage_deflate,
                 "Negotiate permessage-deflate on each leg (a connection that carries messages "
                 "costs about 17 KB more with small ones, up to 350 KB with large ones, and 1.8x "
                 "the CPU per message)");
    app.add_option("--shared-state", o.cluster.url,
                   "Redis for state shared by replicas, redis://HOST:PORT[/DB] or "
                   "rediss://HOST:PORT[/DB] (TLS): REST joins and rejoins across pods; without "
                   "it each replica knows only its own sockets");
    app.add_option("--shared-state-password-file", o.cluster.password_file,
                   "Read the Redis password (AUTH) from this file");
    app.add_option("--shared-state-prefix", o.cluster.prefix,
                   "Put before every Redis key and channel name")
        ->capture_default_str();
    app.add_option("--shared-state-ttl", o.cluster.socket_ttl,
                   "Seconds a pod's sessions stay listed in Redis without a heartbeat (sent "
                   "every third of it)")
        ->capture_default_str();
    app.add_option("--shared-state-timeout", o.cluster.timeout,
                   "Seconds for a Redis connect or answer; past it Redis counts as down and "
                   "wsproxy runs local-only until it reconnects")
        ->capture_default_str();
    app.add_option("--pod-id", o.cluster.pod_id,
                   "This replica's name in the shared state (default: hostname-pid; the chart "
                   "passes the pod name)");
}

// Every flag of `app` and of the subcommands given, as typed: --upstream, -h.
std::vector<std::string> flag_names(const CLI::App& app) {
    std::vector<std::string> names;
    const auto add = [&](const CLI::App& a) {
        for (const CLI::Option* o : a.get_options()) {
            for (const auto& l : o->get_lnames()) names.push_back("--" + l);
            for (const auto& s : o->get_snames()) names.push_back("-" + s);
        }
    };
    add(app);
    for (const CLI::App* sub : app.get_subcommands()) add(*sub);
    return names;
}

// A command line CLI11 refused: one line, "wsproxy: " first, with the flag that was
// probably meant, and exit code 2 (CLI11's own codes, 104 to 109, mean nothing to a
// script). --help and --version print as usual and exit 0.
int usage_error(CLI::App& app, const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
    std::string message = e.what();
    if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr) {
        const auto extras = app.remaining(true);
        // The first unknown flag, else the first stray word (a mistyped subcommand?).
        auto it = std::find_if(extras.begin(), extras.end(),
                               [](const std::string& w) { return w.size() > 1 && w[0] == '-'; });
        const bool is_flag = it != extras.end();
        if (!is_flag) it = extras.begin();
        if (it != extras.end()) {
            std::vector<std::string> known;
            if (is_flag) {
                known = flag_names(app);
            } else {
                const std::function<bool(const CLI::App*)> all = [](const CLI::App*) {
                    return true;
                };
                for (const CLI::App* sub : std::as_const(app).get_subcommands(all))
                    known.push_back(sub->get_name());
            }
            const auto guess = wsproxy::nearest_name(*it, known);
            message = is_flag ? "unknown flag " + it->substr(0, it->find('='))
                              : "unexpected argument \"" + *it + "\"";
            if (!guess.empty()) message += " (did you mean " + guess + "?)";
        }
    }
    std::replace_if(message.begin(), message.end(), [](char c) { return c == '\n' || c == '\r'; },
                    ' ');
    std::fprintf(stderr, "wsproxy: %s; see wsproxy --help\n", message.c_str());
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    // A peer (or a pipe like `wsproxy --print-default-rules | head`) that goes away is
    // an error to handle where it happens, never a signal that kills the process.
    std::signal(SIGPIPE, SIG_IGN);
    CLI::App app{"wsproxy: a WebSocket proxy that inspects every frame, injects join_chat for "
                 "clients that never send it, and exports what it sees as metrics"};
    app.set_version_flag("--version", "wsproxy " WSPROXY_VERSION);
    wsproxy::proxy_options opts;
    raw_flags raw;
    add_proxy_flags(app, opts, raw);
    wsproxy::cli::commands commands;
    wsproxy::cli::add_commands(app, commands);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return usage_error(app, e);
    }

    if (int code = wsproxy::cli::run_chosen(commands); code >= 0) return code;

    if (raw.print_default_rules) {
        std::cout << wsproxy::rules::default_rules_yaml();
        return 0;
    }

    try {
        if (!wsproxy::log::parse_format(raw.log_format, opts.log_format))
            throw wsproxy::startup_error("--log-format: expected json or text, got \"" +
                                         raw.log_format + "\"");
        if (!wsproxy::log::parse_level(raw.log_level, opts.log_level))
            throw wsproxy::startup_error(
                "--log-level: expected debug, info, warn or error, got \"" + raw.log_level + "\"");
        wsproxy::log::configure(opts.log_format, opts.log_level);
        opts.listen = wsproxy::parse_host_port(raw.listen, "--listen");
        opts.admin = wsproxy::parse_host_port(raw.admin, "--admin");
        if (raw.upstream.empty())
            throw wsproxy::startup_error(
                "--upstream is required, e.g. --upstream ws://127.0.0.1:8081");
        opts.upstream = wsproxy::parse_upstream(raw.upstream);
        if (!raw.admin_token_file.empty()) {
            if (!opts.admin_token.empty())
                throw wsproxy::startup_error(
                    "--admin-token and --admin-token-file: give one or the other");
            opts.admin_token = wsproxy::read_token_file(raw.admin_token_file, "--admin-token-file");
        }
        for (const auto& p : raw.tap_redact) {
            if (p.empty()) throw wsproxy::startup_error("--tap-redact: the path is empty");
            if (std::find(opts.tap_redact_paths.begin(), opts.tap_redact_paths.end(), p) ==
                opts.tap_redact_paths.end())
                opts.tap_redact_paths.push_back(p);
        }
        if (!raw.mode.empty()) opts.mode = raw.mode;
        wsproxy::parse_min_rate(raw.min_rate, opts);

        // Signals are taken before the threads start, so every thread inherits the mask.
        boost::asio::io_context signals_ioc{1};
        boost::asio::signal_set signals(signals_ioc, SIGINT, SIGTERM);
        boost::asio::signal_set hangup(signals_ioc, SIGHUP);

        wsproxy::server server(std::move(opts));
        server.start();
        signals.async_wait([&](const boost::system::error_code& ec, int sig) {
            if (ec) return;
            wsproxy::log::write(wsproxy::log::level::info, "signal",
                                {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
            server.begin_drain();
        });
        std::function<void()> wait_hangup = [&] {
            hangup.async_wait([&](const boost::system::error_code& ec, int) {
                if (ec) return;
                wsproxy::log::write(wsproxy::log::level::info, "signal", {{"signal", "SIGHUP"}});
                server.reload_rules();
                wait_hangup();
            });
        };
        wait_hangup();
        std::thread signal_thread([&] { signals_ioc.run(); });
        server.wait();
        signals_ioc.stop();
        signal_thread.join();
        return 0;
    } catch (const wsproxy::startup_error& e) {
        std::fprintf(stderr, "wsproxy: %s\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "wsproxy: cannot start: %s\n", e.what());
        return 1;
    }
}
