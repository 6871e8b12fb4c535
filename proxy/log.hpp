#pragma once
// Structured logging: one line per event, JSON (`--log-format json`) or text.
// Logging is for rare events (connections, injections, errors), never per frame,
// so a mutex around the write is fine. Any thread may log.
#include <nlohmann/json.hpp>
#include <cstdint>
#include <string>
#include <string_view>

namespace wsproxy::log {

enum class level { debug, info, warn, error };
enum class format { text, json };

void configure(format f, level min_level);
bool enabled(level l);
// Writes {"ts","level","event", ...fields} to stderr. `fields` must be an object or null.
void write(level l, std::string_view event, const nlohmann::json& fields = {});

// UTC time as 2026-01-02T03:04:05.678Z, from milliseconds since the epoch.
std::string iso_time(std::int64_t ms_since_epoch);

bool parse_level(std::string_view text, level& out);
bool parse_format(std::string_view text, format& out);

}  // namespace wsproxy::log
