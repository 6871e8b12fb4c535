#pragma once
// The demo chat backend as a library: the `chat-backend` binary is a thin CLI
// around chat_backend::server, and integration tests run the same server
// in-process on 127.0.0.1:0. The wire contract is /work/shared/protocol.md;
// backend/README.md documents the additions (dialects, flags, log lines).
//
// This header is deliberately free of Asio and Beast (pimpl): tests and tools
// that include it compile fast.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace chat_backend {

// Where connection_established (standard) or hello (rooms) carries the client
// id: in `data`/`payload`, at top level, in both, or nowhere.
enum class client_id_at { data, top, both, none };

// standard: protocol.md. rooms: the same behaviour under other names, to
// prove that the proxy's rules are data (see backend/README.md).
enum class dialect_kind { standard, rooms };

enum class log_format { text, json };

struct options {
  std::string host = "127.0.0.1";
  unsigned short port = 0;  // 0: pick a free port, read it back with server::port()
  unsigned threads = 1;     // io_context threads; each connection lives on one of them
  bool auto_register = true;
  client_id_at cid = client_id_at::data;
  unsigned chunks = 3;          // response_chunk frames per answer (0 is treated as 1)
  unsigned chunk_delay_ms = 10; // pause between two chunks; 0 sends the answer at once
  std::string tenant = "miptech-company";  // when the request names none
  dialect_kind dialect = dialect_kind::standard;
  bool permessage_deflate = true;  // negotiated only when the client offers it
  std::size_t max_message_bytes = 16u << 20;  // bigger WS message: close 1009; bigger REST body: 413
  std::size_t max_queue_bytes = 64u << 20;    // per-connection send queue; over it: close 1008
  std::size_t history_limit = 1000;           // stored messages per chat (oldest dropped)
  // join_chat for one of these chats is answered success:false, "chat not found": a
  // backend that refuses a join, for trying what the proxy does then.
  std::vector<std::string> refuse_joins;
  // join_chat for a chat named here is answered after this many milliseconds: a backend
  // slow to register, for trying what waits on its answer (CHAT_ID -> ms).
  std::vector<std::pair<std::string, int>> join_delays;
  // Answers that go wrong on purpose, to try the proxy's answer SLIs. The answer starts
  // answer_delay_ms after the user message (registration is checked then). Of the user
  // messages in arrival order, every drop_answers-th gets no answer at all and every
  // error_answers-th (of the others) an error frame for its chat instead; 0: never.
  unsigned answer_delay_ms = 0;
  unsigned drop_answers = 0;
  unsigned error_answers = 0;
  log_format format = log_format::text;
  // Several replicas (redis://HOST:PORT[/DB]): answers reach registered sockets on any of
  // them, and "No clients registered" means none has one. Empty: this replica alone.
  std::string redis;
  std::string replica_id;  // its name in Redis; empty: hostname-pid
  // Receives each log line without its newline, from any server thread (calls
  // are serialised). Empty: write the line to stdout and flush.
  std::function<void(std::string_view)> log;
};

// Monotonic counters, read with relaxed loads (a snapshot, not a transaction).
struct stats {
  std::uint64_t connections_accepted = 0;  // WebSocket upgrades completed
  std::uint64_t connections_open = 0;
  std::uint64_t http_requests = 0;          // REST requests served (not upgrades)
  std::uint64_t user_messages = 0;          // REST posts + send_message/post frames
  std::uint64_t answers_delivered = 0;      // answers that had at least one recipient
  std::uint64_t unregistered_broadcasts = 0;  // answers discarded: "No clients registered"
  std::uint64_t frames_sent = 0;            // text frames written to sockets
  std::uint64_t bad_requests = 0;           // error frames with code bad_request
  std::uint64_t joins = 0;
  std::uint64_t leaves = 0;
  std::uint64_t auto_registrations = 0;
  std::uint64_t answers_dropped = 0;        // withheld by --drop-answers
  std::uint64_t answers_failed = 0;         // an error frame instead, by --error-answers
};

// Owns its io_context threads, the listening socket, every connection and
// the chat registry. Construct, start(), stop() (or destroy) from one owning
// thread; the const accessors may be called from any thread. Not restartable.
class server {
 public:
  explicit server(options opts);
  ~server();  // stop()s
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Binds, listens, logs "Listening on HOST:PORT" and starts the threads.
  // Throws std::system_error (bind/listen/resolve failure).
  void start();
  // Same, reporting the failure through ec; returns !ec.
  bool start(std::error_code& ec);
  // Stops accepting, drops every connection, joins the threads. Idempotent.
  void stop();

  unsigned short port() const;  // the bound port (after start)
  const options& config() const;

  stats snapshot() const;
  std::uint64_t unregistered_broadcasts() const;
  // Connections currently registered for a chat (tenant empty: options.tenant).
  std::size_t members(std::string_view chat_id, std::string_view tenant = {}) const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// "HOST:PORT", "[v6]:PORT" or ":PORT" (host 127.0.0.1). False on bad input.
bool parse_listen(std::string_view text, std::string& host, unsigned short& port);

}  // namespace chat_backend
