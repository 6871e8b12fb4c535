#include "proxy/base/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <string>

namespace wsproxy::log {
namespace {

std::atomic<int> min_level_{static_cast<int>(level::info)};
std::atomic<format> format_{format::text};
std::mutex write_mutex_;
std::function<void(std::string_view)> sink_;  // guarded by write_mutex_

const char* level_name(level l) {
    switch (l) {
        case level::debug: return "debug";
        case level::info: return "info";
        case level::warn: return "warn";
        case level::error: return "error";
    }
    return "info";
}

std::string timestamp() {
    using namespace std::chrono;
    return iso_time(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

// The length of the valid UTF-8 sequence at s[i] and its code point, or 0 when the
// bytes there are not one (overlong forms, surrogates and values past U+10FFFF included).
std::size_t utf8_sequence(std::string_view s, std::size_t i, char32_t& cp) {
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
    const unsigned char c = b(0);
    std::size_t n = 0;
    if (c < 0x80) {
        cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k) {
        if ((b(k) & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (b(k) & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

// Characters that a terminal or a log viewer may take as a line break or a control:
// C0, DEL, C1, and the Unicode line and paragraph separators.
bool must_escape(char32_t cp) {
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029;
}

bool needs_quotes(std::string_view v) {
    if (v.empty()) return true;
    for (std::size_t i = 0; i < v.size();) {
        char32_t cp = 0;
        std::size_t n = utf8_sequence(v, i, cp);
        if (n == 0 || must_escape(cp) || cp == ' ' || cp == '"' || cp == '=' || cp == '\\')
            return true;
        i += n;
    }
    return false;
}

// A logfmt key: letters, digits, `_`, `.` and `-`; anything else becomes `_`. Keys come
// from our code, but nothing from outside may ever reach the output unescaped.
std::string format_key(std::string_view key) {
    std::string out(key);
    for (auto& c : out) {
        const auto u = static_cast<unsigned char>(c);
        const bool ok = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') ||
                        (u >= '0' && u <= '9') || u == '_' || u == '.' || u == '-';
        if (!ok) c = '_';
    }
    if (out.empty()) out = "_";
    return out;
}

// JSON with every character outside printable ASCII escaped (DEL, C1 controls and
// U+2028 included), and U+FFFD for invalid UTF-8.
std::string dump(const nlohmann::json& v, bool ascii = true) {
    return v.dump(-1, ' ', ascii, nlohmann::json::error_handler_t::replace);
}

// ts, level and event come first and only once: a field of that name is renamed.
std::string field_key(const std::string& key) {
    return key == "ts" || key == "level" || key == "event" ? "field_" + key : key;
}

}  // namespace

std::string format_value(std::string_view v) {
    if (!needs_quotes(v)) return std::string(v);
    std::string out;
    out.reserve(v.size() + 2);
    out += '"';
    for (std::size_t i = 0; i < v.size();) {
        char32_t cp = 0;
        std::size_t n = utf8_sequence(v, i, cp);
        if (n == 0) {
            out += "\xEF\xBF\xBD";  // U+FFFD for the one byte that does not fit
            ++i;
            continue;
        }
        switch (cp) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (must_escape(cp)) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
                    out += buf;
                } else {
                    out.append(v.substr(i, n));
                }
        }
        i += n;
    }
    out += '"';
    return out;
}

std::string format_line(format f, std::string_view ts, level l, std::string_view event,
                        const nlohmann::json& fields) {
    std::string line;
    if (f == format::json) {
        // By hand, not through nlohmann::json (whose objects sort their keys): ts, level
        // and event lead every line, as log shippers and people expect.
        line = "{\"ts\":" + dump(std::string(ts)) + ",\"level\":\"" + level_name(l) +
               "\",\"event\":" + dump(std::string(event));
        if (fields.is_object()) {
            for (const auto& [key, value] : fields.items()) {
                line += ',';
                line += dump(field_key(key));
                line += ':';
                line += dump(value);
            }
        }
        line += '}';
        return line;
    }
    line = "ts=" + format_value(ts) + " level=" + level_name(l) + " event=" + format_value(event);
    if (fields.is_object()) {
        for (const auto& [key, value] : fields.items()) {
            line += ' ';
            line += format_key(field_key(key));
            line += '=';
            if (value.is_string())
                line += format_value(value.get_ref<const std::string&>());
            else
                line += format_value(dump(value, false));  // numbers and booleans stay bare
        }
    }
    return line;
}

void configure(format f, level min_level) {
    format_ = f;
    min_level_ = static_cast<int>(min_level);
}

bool enabled(level l) { return static_cast<int>(l) >= min_level_.load(std::memory_order_relaxed); }

void write(level l, std::string_view event, const nlohmann::json& fields) {
    if (!enabled(l)) return;
    std::string line = format_line(format_.load(), timestamp(), l, event, fields);
    std::lock_guard lock(write_mutex_);
    if (sink_) return sink_(line);
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
}

void set_sink(std::function<void(std::string_view line)> sink) {
    std::lock_guard lock(write_mutex_);
    sink_ = std::move(sink);
}

std::string iso_time(std::int64_t ms) {
    std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms % 1000));
    return buf;
}

bool parse_level(std::string_view text, level& out) {
    if (text == "debug") out = level::debug;
    else if (text == "info") out = level::info;
    else if (text == "warn") out = level::warn;
    else if (text == "error") out = level::error;
    else return false;
    return true;
}

bool parse_format(std::string_view text, format& out) {
    if (text == "text") out = format::text;
    else if (text == "json") out = format::json;
    else return false;
    return true;
}

}  // namespace wsproxy::log
