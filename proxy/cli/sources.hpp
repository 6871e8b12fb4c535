#pragma once
// The admin addresses both CLI verbs query, and what they share about them: parsing
// --admin / --admin-url, the token, the source field of merged JSON, the reconnect delays.
// No sockets here (unit-tested in tests/unit/cli_sources_test.cpp).
#include <algorithm>
#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace wsproxy::cli {

struct admin_targets {
    std::vector<std::string> admins;      // --admin [NAME=]HOST:PORT, repeatable
    std::vector<std::string> admin_urls;  // --admin-url [NAME=][http://]HOST:PORT, repeatable
    std::string token;
    std::string token_file;
};

// One admin port to query. `label` names it in the source column: the NAME of NAME=ADDRESS,
// else HOST:PORT as given.
struct admin_source {
    std::string label;
    std::string host;
    std::string port;
    // For a Host header and for messages: an IPv6 address in brackets.
    std::string where() const {
        return host.find(':') == std::string::npos ? host + ":" + port : "[" + host + "]:" + port;
    }
};
// Every --admin and --admin-url (127.0.0.1:9090 when none). Throws std::runtime_error with a
// message for the user.
inline std::vector<admin_source> resolve_sources(const admin_targets& t);
// One address, "[NAME=][http://]HOST:PORT[/]"; `flag` names it in errors.
inline admin_source parse_source(const std::string& text, const char* flag);
// The token from --token or --token-file, empty when none. Throws std::runtime_error.
inline std::string load_token(const admin_targets& t);
// "Authorization: Bearer" value, or empty.
inline std::string bearer(const std::string& token);
inline std::string url_encode(const std::string& s);
// `{"source":"LABEL",` spliced in front of a JSON object's first member, keeping the rest
// byte for byte (the proxy's field order); anything else is returned as it came.
inline std::string with_source(const std::string& json_object, const std::string& label);

// Reconnect delays: 0.2 s doubling to 5 s, each drawn from [d/2, d] so that several taps
// cut off by one restart do not knock on the new process in step.
class backoff {
public:
    double next_seconds();
    void reset() { step_ = 0; }

private:
    unsigned step_{0};
    std::mt19937 rng_{std::random_device{}()};
};

inline admin_source parse_source(const std::string& text, const char* flag) {
    admin_source s;
    std::string rest = text;
    // NAME=ADDRESS: an address holds no '=', so the first one ends a name.
    if (auto eq = rest.find('='); eq != std::string::npos) {
        s.label = rest.substr(0, eq);
        rest = rest.substr(eq + 1);
        if (s.label.empty())
            throw std::runtime_error(std::string(flag) + ": empty name before '=' in \"" + text +
                                     "\"; write NAME=HOST:PORT or just HOST:PORT");
    }
    const std::string given = rest;
    if (rest.starts_with("https://"))
        throw std::runtime_error(
            std::string(flag) + ": \"" + text +
            "\": the admin port speaks plain HTTP; use http://HOST:PORT "
            "(through kubectl port-forward or an SSH tunnel when it is remote)");
    if (rest.starts_with("http://")) rest = rest.substr(7);
    if (!rest.empty() && rest.back() == '/') rest.pop_back();
    auto colon = rest.rfind(':');
    if (rest.find('/') != std::string::npos || rest.find('?') != std::string::npos ||
        colon == std::string::npos || colon + 1 == rest.size())
        throw std::runtime_error(std::string(flag) +
                                 ": expected HOST:PORT or http://HOST:PORT, "
                                 "got \"" +
                                 text + "\"");
    s.host = rest.substr(0, colon);
    if (s.host.size() >= 2 && s.host.front() == '[' && s.host.back() == ']')
        s.host = s.host.substr(1, s.host.size() - 2);
    if (s.host.empty()) s.host = "127.0.0.1";
    s.port = rest.substr(colon + 1);
    if (!std::all_of(s.port.begin(), s.port.end(), [](unsigned char c) { return std::isdigit(c); }))
        throw std::runtime_error(std::string(flag) + ": the port of \"" + text +
                                 "\" is not a number");
    if (s.label.empty()) s.label = given.starts_with("http://") ? s.where() : rest;
    return s;
}

inline std::vector<admin_source> resolve_sources(const admin_targets& t) {
    std::vector<admin_source> out;
    for (const auto& a : t.admins) out.push_back(parse_source(a, "--admin"));
    for (const auto& a : t.admin_urls) out.push_back(parse_source(a, "--admin-url"));
    if (out.empty()) out.push_back(parse_source("127.0.0.1:9090", "--admin"));
    for (std::size_t i = 0; i < out.size(); ++i)
        for (std::size_t j = 0; j < i; ++j)
            if (out[i].label == out[j].label)
                throw std::runtime_error("--admin: \"" + out[i].label +
                                         "\" is given twice; give each address once (or a "
                                         "distinct NAME= to each)");
    return out;
}

inline std::string load_token(const admin_targets& t) {
    if (t.token_file.empty()) return t.token;
    std::ifstream f(t.token_file);
    if (!f) throw std::runtime_error("--token-file: cannot read \"" + t.token_file + "\"");
    std::stringstream ss;
    ss << f.rdbuf();
    std::string token = ss.str();
    while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back())))
        token.pop_back();
    if (token.empty()) throw std::runtime_error("--token-file: \"" + t.token_file + "\" is empty");
    return token;
}

inline std::string bearer(const std::string& token) {
    return token.empty() ? "" : "Bearer " + token;
}

inline std::string url_encode(const std::string& s) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

inline std::string with_source(const std::string& json_object, const std::string& label) {
    auto open = json_object.find_first_not_of(" \t\r\n");
    if (open == std::string::npos || json_object[open] != '{') return json_object;
    auto next = json_object.find_first_not_of(" \t\r\n", open + 1);
    bool empty = next != std::string::npos && json_object[next] == '}';
    std::string out = "{\"source\":";
    out += nlohmann::json(label).dump();
    if (!empty) out += ',';
    out.append(json_object, open + 1, std::string::npos);
    return out;
}

inline double backoff::next_seconds() {
    const double ceiling = std::min(5.0, 0.2 * static_cast<double>(1u << std::min(step_, 5u)));
    ++step_;
    return std::uniform_real_distribution<double>(ceiling / 2, ceiling)(rng_);
}

}  // namespace wsproxy::cli
