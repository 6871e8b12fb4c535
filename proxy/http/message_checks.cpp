#include "proxy/http/message_checks.hpp"

#include "common/text.hpp"

#include <algorithm>
#include <boost/beast/core/string.hpp>

namespace wsproxy::http1 {
namespace http = boost::beast::http;

namespace {

std::size_t count(const http::fields& f, http::field name) {
    auto range = f.equal_range(name);
    return static_cast<std::size_t>(std::distance(range.first, range.second));
}

using text::trim;

// reg-name, IPv4 or IP-literal, with an optional port (RFC 3986 3.2.2): the characters
// that may stand in a Host. A space, '/', '@', '?' or '#' cannot.
bool valid_host(std::string_view h) {
    if (h.empty()) return false;
    return std::all_of(h.begin(), h.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return std::isalnum(u) || std::string_view("-._~!$&'()*+,;=:[]%").find(c) !=
                                      std::string_view::npos;
    });
}

// Framing fields shared by requests and responses. `where` names the sender for messages.
std::optional<std::string> framing_problem(const http::fields& f, bool& te_unsupported) {
    te_unsupported = false;
    auto te_fields = count(f, http::field::transfer_encoding);
    auto cl_fields = count(f, http::field::content_length);
    if (cl_fields > 1) return "Content-Length is given more than once";
    if (cl_fields == 1) {
        auto v = trim(f[http::field::content_length]);
        if (v.empty() || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return "Content-Length is not one decimal number";
    }
    if (te_fields == 0) return std::nullopt;
    // The coding first, as nginx: an unknown one is 501 whatever else is wrong.
    auto te = joined_values(f, "Transfer-Encoding");
    if (!boost::beast::iequals(trim(te), "chunked")) {
        te_unsupported = true;
        return "Transfer-Encoding \"" + te + "\" is not supported (only \"chunked\")";
    }
    if (cl_fields > 0) return "Transfer-Encoding and Content-Length are both given";
    return std::nullopt;
}

}  // namespace

bool has_obs_fold(std::string_view b) {
    for (std::size_t i = b.find('\n'); i != std::string_view::npos; i = b.find('\n', i + 1)) {
        if (i + 1 >= b.size()) return false;
        char next = b[i + 1];
        if (next == ' ' || next == '\t') return true;
        // The empty line ends the head: what follows is body.
        if (next == '\n' || (next == '\r' && i + 2 < b.size() && b[i + 2] == '\n')) return false;
    }
    return false;
}

std::optional<problem> check_request(http::verb method, std::string_view target, unsigned version,
                                     const http::fields& f) {
    if (method == http::verb::connect || (!target.empty() && target[0] != '/' && target != "*" &&
                                          target.find("://") == std::string_view::npos))
        return problem{405, "CONNECT and authority-form targets are for forward proxies"};
    if (target == "*" && method != http::verb::options)
        return problem{400, "the target \"*\" is only for OPTIONS"};
    if (!target.empty() && target[0] != '/' && target != "*" && !split_absolute_form(target))
        return problem{400, "an absolute-form target must be an http or https URI"};

    auto hosts = count(f, http::field::host);
    if (hosts > 1) return problem{400, "more than one Host header"};
    if (hosts == 0 && version >= 11) return problem{400, "an HTTP/1.1 request needs a Host header"};
    if (hosts == 1 && !valid_host(trim(f[http::field::host])))
        return problem{400, "the Host header is not a valid host[:port]"};

    if (version < 11 && count(f, http::field::transfer_encoding) > 0)
        return problem{400, "Transfer-Encoding in an HTTP/1.0 request"};
    bool unsupported = false;
    if (auto why = framing_problem(f, unsupported)) return problem{unsupported ? 501u : 400u, *why};
    return std::nullopt;
}

std::optional<problem> check_response(unsigned status, const http::fields& f,
                                      bool request_was_upgrade) {
    if (status == 101 && !request_was_upgrade)
        return problem{502, "the upstream switched protocols on a request that asked for none"};
    bool unsupported = false;
    if (auto why = framing_problem(f, unsupported))
        return problem{502, "the upstream response is malformed: " + *why};
    return std::nullopt;
}

std::optional<origin_form> split_absolute_form(std::string_view target) {
    auto sep = target.find("://");
    if (sep == std::string_view::npos) return std::nullopt;
    auto scheme = target.substr(0, sep);
    if (!boost::beast::iequals(scheme, "http") && !boost::beast::iequals(scheme, "https"))
        return std::nullopt;
    auto rest = target.substr(sep + 3);
    auto end = rest.find_first_of("/?#");
    auto authority = rest.substr(0, end);
    if (authority.empty() || authority.find('@') != std::string_view::npos ||
        !valid_host(authority))
        return std::nullopt;
    auto path = end == std::string_view::npos ? std::string_view() : rest.substr(end);
    path = path.substr(0, path.find('#'));
    // Appended, not insert(0, "/") or "/" + path: GCC 12 warns falsely (-Wrestrict) on those.
    std::string origin;
    if (path.empty() || path[0] != '/') origin.push_back('/');
    origin.append(path);
    return origin_form{std::string(authority), std::move(origin)};
}

bool idempotent(http::verb m) {
    switch (m) {
        case http::verb::get:
        case http::verb::head:
        case http::verb::options:
        case http::verb::trace:
        case http::verb::put:
        case http::verb::delete_:
            return true;
        default:
            return false;
    }
}

std::string joined_values(const http::fields& f, std::string_view name) {
    std::string out;
    auto range = f.equal_range(name);
    for (auto it = range.first; it != range.second; ++it) {
        if (!out.empty()) out += ", ";
        out += it->value();
    }
    return out;
}

}  // namespace wsproxy::http1
