#pragma once
// The /connections view of one connection, built on the connection's own worker
// thread from the engine's state (plain data) and posted to the admin thread.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "metrics/catalog.hpp"
#include "proxy/admin/tap.hpp"
#include "rules/state.hpp"

namespace wsproxy {

// `opened_ms` is on the steady clock (now_ms()); times are shown as ISO wall-clock times.
// Never includes headers or cookies: only what the engine learned from frames.
nlohmann::json connection_snapshot(std::uint64_t id, const std::string& remote,
                                   std::int64_t opened_ms, bool established,
                                   const rules::connection_state& st);

// The /connections "closed" entry of a connection that ended: its last snapshot plus when it
// closed, how long it lived, the close code each peer sent (0: none, shown as null) and why
// it ended (close_reason_name).
tap::closed_connection closed_record(std::uint64_t id, nlohmann::json snapshot,
                                     std::int64_t duration_ms, int client_code, int server_code,
                                     metrics::close_reason why);

// "client_close", "backend_close", "client_gone", "backend_gone", "idle_timeout", "limit" (a
// message over --max-message-bytes), "slow_consumer", "drain" or "error".
const char* close_reason_name(metrics::close_reason why);

}  // namespace wsproxy
