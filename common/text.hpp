#pragma once
// Small text helpers for HTTP fields, query strings and configuration values: one home for
// each, so the proxy, the rules and the CLI agree on what "blank", "token" and "%XX" mean.
// ASCII only, no locale: header names and tokens are ASCII (RFC 9110 5.1, 5.6.2).
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace wsproxy::text {

// ASCII case-insensitive equality.
bool iequals(std::string_view a, std::string_view b);

// Without leading and trailing spaces and tabs (RFC 9110's OWS).
std::string_view trim(std::string_view s);

// The elements of a comma-separated list (RFC 9110 5.6.1), each trimmed; empty elements
// ("a, ,b", a trailing comma) are left out, as the RFC asks recipients to do.
std::vector<std::string_view> split_list(std::string_view list, char sep = ',');

// True when the comma-separated `list` holds `token` (case-insensitive): Connection: upgrade.
bool has_token(std::string_view list, std::string_view token);

// 0-15 for a hex digit, -1 otherwise.
int hex_value(char c);

// %XX decoded; '+' becomes a space when `plus_is_space` (query strings, forms). A '%' not
// followed by two hex digits is kept as it is, as browsers do.
std::string percent_decode(std::string_view s, bool plus_is_space);

// Seconds (a flag's or a rules file's double) as a steady-clock duration.
inline std::chrono::steady_clock::duration seconds(double s) {
    return std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(s));
}

}  // namespace wsproxy::text
