#include "proxy/log.hpp"

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

}  // namespace

void configure(format f, level min_level) {
    format_ = f;
    min_level_ = static_cast<int>(min_level);
}

bool enabled(level l) { return static_cast<int>(l) >= min_level_.load(std::memory_order_relaxed); }

void write(level l, std::string_view event, const nlohmann::json& fields) {
    if (!enabled(l)) return;
    std::string line;
    if (format_ == format::json) {
        nlohmann::json j = {{"ts", timestamp()}, {"level", level_name(l)}, {"event", event}};
        if (fields.is_object()) j.update(fields);
        line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    } else {
        line = timestamp() + " " + level_name(l) + " " + std::string(event);
        if (fields.is_object()) {
            for (const auto& [key, value] : fields.items()) {
                line += ' ';
                line += key;
                line += '=';
                line += value.is_string() ? value.get<std::string>()
                                          : value.dump(-1, ' ', false,
                                                       nlohmann::json::error_handler_t::replace);
            }
        }
    }
    line += '\n';
    std::lock_guard lock(write_mutex_);
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
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
