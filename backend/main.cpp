// chat-backend: the demo chat backend (protocol.md) as a process. Flags are
// documented in backend/README.md and in --help.

#include <signal.h>
#include <sys/resource.h>

#include <charconv>
#include <cstdio>
#include <map>
#include <string>

#include <CLI/CLI.hpp>

#include "chat_backend.hpp"

namespace {

void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

}  // namespace

int main(int argc, char** argv) {
  chat_backend::options opts;
  std::string listen = "127.0.0.1:8081";
  bool no_auto_register = false, no_deflate = false;
  std::string cid = "data", dialect = "standard", format = "text";
  const std::map<std::string, chat_backend::client_id_at> cid_names{
      {"data", chat_backend::client_id_at::data},
      {"top", chat_backend::client_id_at::top},
      {"both", chat_backend::client_id_at::both},
      {"none", chat_backend::client_id_at::none}};
  const std::map<std::string, chat_backend::dialect_kind> dialect_names{
      {"standard", chat_backend::dialect_kind::standard},
      {"rooms", chat_backend::dialect_kind::rooms}};
  const std::map<std::string, chat_backend::log_format> format_names{
      {"text", chat_backend::log_format::text}, {"json", chat_backend::log_format::json}};

  CLI::App app{"chat-backend: demo chat backend speaking the wsproxy chat protocol"};
  app.add_option("--listen", listen, "HOST:PORT to serve WebSocket and REST on (port 0: any)")
      ->capture_default_str();
  app.add_option("--threads", opts.threads, "I/O threads (one io_context each)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 256u));
  app.add_flag("--no-auto-register", no_auto_register,
               "Disable the fallback that registers a socket on send_message to an unjoined chat");
  app.add_option("--client-id-at", cid,
                 "Where connection_established carries client_id: data|top|both|none")
      ->capture_default_str()
      ->check(CLI::IsMember(cid_names));
  app.add_option("--chunks", opts.chunks, "response_chunk frames per answer")
      ->capture_default_str()
      ->check(CLI::Range(1u, 100000u));
  app.add_option("--chunk-delay-ms", opts.chunk_delay_ms, "Pause between two chunks (0: none)")
      ->capture_default_str()
      ->check(CLI::Range(0u, 600000u));
  app.add_option("--tenant", opts.tenant, "Tenant when a request names none")
      ->capture_default_str();
  app.add_flag("--no-permessage-deflate", no_deflate,
               "Refuse permessage-deflate (accepted when offered by default)");
  app.add_option("--dialect", dialect, "Wire vocabulary: standard|rooms")
      ->capture_default_str()
      ->check(CLI::IsMember(dialect_names));
  app.add_option("--max-message-bytes", opts.max_message_bytes,
                 "Largest WebSocket message (bigger: close 1009) and REST body (bigger: 413)")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 32));
  app.add_option("--max-queue-bytes", opts.max_queue_bytes,
                 "Per-connection send queue limit (over it: close 1008)")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 40));
  app.add_option("--history-limit", opts.history_limit, "Messages kept per chat (0: none)")
      ->capture_default_str();
  app.add_option("--refuse-join", opts.refuse_joins,
                 "Answer join_chat for this chat id with success:false \"chat not found\" "
                 "(repeatable; to try a backend that refuses joins)");
  std::vector<std::string> join_delays;
  app.add_option("--join-delay", join_delays,
                 "CHAT_ID=MS: answer (and perform) join_chat for this chat only after MS "
                 "milliseconds (repeatable; to try what waits on a join's answer)");
  app.add_option("--answer-delay-ms", opts.answer_delay_ms,
                 "Start each answer this many milliseconds after its user message (0: at once)")
      ->capture_default_str()
      ->check(CLI::Range(0u, 600000u));
  app.add_option("--drop-answers", opts.drop_answers,
                 "Answer no message of every N (the Nth, 2Nth, ... user message; 0: none)")
      ->capture_default_str()
      ->check(CLI::Range(0u, 1000000u));
  app.add_option("--error-answers", opts.error_answers,
                 "Answer every Nth user message with an error frame for its chat instead (0: none)")
      ->capture_default_str()
      ->check(CLI::Range(0u, 1000000u));
  app.add_option("--redis", opts.redis,
                 "redis://HOST:PORT[/DB] shared by several replicas: answers reach registered "
                 "sockets on any of them (pub/sub), and 'No clients registered' is logged only "
                 "when none has one");
  app.add_option("--replica-id", opts.replica_id,
                 "This replica's name in Redis (default: hostname-pid)");
  app.add_option("--log-format", format, "Log lines: text (the exact protocol lines) | json")
      ->capture_default_str()
      ->check(CLI::IsMember(format_names));

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "chat-backend: %s (see --help)\n", e.what());
    return 2;
  }
  if (!chat_backend::parse_listen(listen, opts.host, opts.port)) {
    std::fprintf(stderr, "chat-backend: --listen: expected HOST:PORT, got \"%s\"\n",
                 listen.c_str());
    return 2;
  }
  for (const auto& d : join_delays) {
    auto eq = d.find('=');
    int ms = -1;
    if (eq != std::string::npos && eq > 0) {
      // The whole rest must be the number: "12abc" is a typo, not 12.
      const char* first = d.data() + eq + 1;
      const char* last = d.data() + d.size();
      auto [end, ec] = std::from_chars(first, last, ms);
      if (ec != std::errc() || end != last || first == last) ms = -1;
    }
    if (ms < 0) {
      std::fprintf(stderr, "chat-backend: --join-delay: expected CHAT_ID=MS, got \"%s\"\n", d.c_str());
      return 2;
    }
    opts.join_delays.emplace_back(d.substr(0, eq), ms);
  }
  opts.cid = cid_names.at(cid);
  opts.dialect = dialect_names.at(dialect);
  opts.format = format_names.at(format);
  opts.auto_register = !no_auto_register;
  opts.permessage_deflate = !no_deflate;

  raise_fd_limit();
  // Server threads inherit this mask, so only sigwait below sees the signals.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  chat_backend::server srv(opts);
  std::error_code ec;
  bool started = false;
  try {
    started = srv.start(ec);
  } catch (const std::invalid_argument& e) {  // a bad --redis URL
    std::fprintf(stderr, "chat-backend: %s\n", e.what());
    return 2;
  }
  if (!started) {
    std::fprintf(stderr, "chat-backend: cannot listen on %s: %s\n", listen.c_str(),
                 ec.message().c_str());
    return 1;
  }
  int sig = 0;
  sigwait(&signals, &sig);
  srv.stop();
  return 0;
}
