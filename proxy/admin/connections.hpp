#pragma once
// The /connections view of one connection, built on the connection's own worker
// thread from the engine's state (plain data) and posted to the admin thread.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "rules/state.hpp"

namespace wsproxy {

// `opened_ms` is on the steady clock (now_ms()); times are shown as ISO wall-clock times.
// Never includes headers or cookies: only what the engine learned from frames.
nlohmann::json connection_snapshot(std::uint64_t id, const std::string& remote,
                                   std::int64_t opened_ms, bool established,
                                   const rules::connection_state& st);

}  // namespace wsproxy
