#pragma once
// A logfmt reader for tests, written from the format's rules and not from proxy/base/log.cpp:
// key=value pairs separated by one space; a value is bare (no space, `"`, `=` or `\`) or
// double-quoted with \" \\ \n \r \t and \uXXXX escapes.
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace logfmt_test {

using pairs = std::vector<std::pair<std::string, std::string>>;

inline void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

// The pairs of one line, values decoded; nullopt when the line is not well-formed.
inline std::optional<pairs> parse(const std::string& line) {
    pairs out;
    std::size_t i = 0;
    while (i < line.size()) {
        std::size_t eq = line.find('=', i);
        if (eq == std::string::npos || eq == i) return std::nullopt;
        std::string key = line.substr(i, eq - i);
        if (key.find_first_of(" \"\\") != std::string::npos) return std::nullopt;
        i = eq + 1;
        std::string value;
        if (i < line.size() && line[i] == '"') {
            ++i;
            bool closed = false;
            while (i < line.size()) {
                char c = line[i++];
                if (c == '"') {
                    closed = true;
                    break;
                }
                if (c != '\\') {
                    value += c;
                    continue;
                }
                if (i >= line.size()) return std::nullopt;
                switch (line[i++]) {
                    case '"': value += '"'; break;
                    case '\\': value += '\\'; break;
                    case 'n': value += '\n'; break;
                    case 'r': value += '\r'; break;
                    case 't': value += '\t'; break;
                    case 'u': {
                        if (i + 4 > line.size()) return std::nullopt;
                        std::size_t used = 0;
                        unsigned cp = std::stoul(line.substr(i, 4), &used, 16);
                        if (used != 4) return std::nullopt;
                        i += 4;
                        append_utf8(value, cp);
                        break;
                    }
                    default: return std::nullopt;
                }
            }
            if (!closed) return std::nullopt;
            if (i < line.size() && line[i] != ' ') return std::nullopt;
        } else {
            std::size_t end = line.find(' ', i);
            if (end == std::string::npos) end = line.size();
            value = line.substr(i, end - i);
            if (value.empty() || value.find_first_of("\"=\\") != std::string::npos)
                return std::nullopt;
            i = end;
        }
        out.emplace_back(std::move(key), std::move(value));
        if (i < line.size()) ++i;  // the space
    }
    return out;
}

inline std::vector<std::string> keys(const pairs& p) {
    std::vector<std::string> k;
    for (const auto& [key, value] : p) k.push_back(key);
    return k;
}

inline std::string value(const pairs& p, const std::string& key) {
    for (const auto& [k, v] : p)
        if (k == key) return v;
    return "<missing>";
}

}  // namespace logfmt_test
