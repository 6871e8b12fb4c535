#pragma once
// Structured logging: one line per event, JSON (`--log-format json`) or logfmt text.
// Logging is for rare events (connections, injections, errors), never per frame,
// so a mutex around the write is fine. Any thread may log.
//
// Values often come from clients (a chat id, a close reason, a user agent), so neither
// format lets a value break out of its line or its field: no raw CR, LF or other control
// character ever reaches the output, and invalid UTF-8 is replaced by U+FFFD. JSON lines
// are printable ASCII: strings escape everything else as \uXXXX.
#include <nlohmann/json.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace wsproxy::log {

enum class level { debug, info, warn, error };
enum class format { text, json };

void configure(format f, level min_level);
bool enabled(level l);
// Writes one line: ts, level and event first, then `fields` (an object, or null), to
// stderr or to the sink set below.
//   json: {"ts":"...","level":"info","event":"...","conn":3,...}
//   text: ts=... level=info event=... conn=3 ... (logfmt: see format_value)
void write(level l, std::string_view event, const nlohmann::json& fields = {});

// The whole line (without its newline) as write() would print it, with `ts` given.
std::string format_line(format f, std::string_view ts, level l, std::string_view event,
                        const nlohmann::json& fields);
// One logfmt value: as is when it is non-empty valid UTF-8 made only of printable
// characters other than space, `"`, `=` and `\`; otherwise double-quoted, with `\"`,
// `\\`, `\n`, `\r`, `\t` and `\u00XX` (other control characters, DEL, C1 controls,
// U+2028/U+2029 as `\u2028`) escapes, and U+FFFD for each invalid UTF-8 byte.
std::string format_value(std::string_view value);

// Every line goes to `sink` instead of stderr while one is set (an empty function
// restores stderr). For tests that read what the proxy logs. Called under the write
// mutex, so lines never interleave; the sink must not log.
void set_sink(std::function<void(std::string_view line)> sink);

// UTC time as 2026-01-02T03:04:05.678Z, from milliseconds since the epoch.
std::string iso_time(std::int64_t ms_since_epoch);

bool parse_level(std::string_view text, level& out);
bool parse_format(std::string_view text, format& out);

}  // namespace wsproxy::log
