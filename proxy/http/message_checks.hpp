#pragma once
// What RFC 9110/9112 forbid in a message head and Beast's parser lets through, checked
// once the head is parsed and before anything goes upstream. Pure functions: no I/O, so
// the unit tests drive them with bytes and fields alone.
//
// Beast 1.81 already refuses bare CR, bare LF, NUL and whitespace before a colon, and
// conflicting Content-Length values. It accepts what the checks below refuse:
//
//   request head                                      | answer
//   --------------------------------------------------+------------------------------------
//   obs-fold (a field line starting with SP or HT)    | 400 (RFC 9112 5.2)
//   Transfer-Encoding in HTTP/1.0                     | 400 (RFC 9112 6.1)
//   Transfer-Encoding other than exactly "chunked"    | 501 (we decode no other coding; a
//     (gzip, "chunked, identity", "gzip, chunked")    |  final coding that is not chunked
//                                                     |  leaves the body unframed)
//   Transfer-Encoding and Content-Length together     | 400 (RFC 9112 6.1, smuggling)
//   (checked in this order, as nginx does)            |
//   Content-Length twice, or as a list ("5, 5")       | 400 (RFC 9110 8.6; as nginx)
//   no Host in HTTP/1.1, or more than one Host        | 400 (RFC 9112 3.2)
//   a Host that is not a valid authority              | 400
//   a target that is not origin-form, absolute-form   | 400 (CONNECT and authority-form:
//     (http/https) or "*" for OPTIONS                 |  405, we are no forward proxy)
//
//   upstream response head                            | answer to the client
//   --------------------------------------------------+------------------------------------
//   Transfer-Encoding and Content-Length together     | 502, upstream connection dropped
//   Transfer-Encoding other than exactly "chunked"    | 502, upstream connection dropped
//   Content-Length twice or as a list                 | 502, upstream connection dropped
//   101 to a request that was not an upgrade          | 502, upstream connection dropped
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/verb.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace wsproxy::http1 {

struct problem {
    unsigned status;      // 400, 405 or 501 for requests; 502 for responses
    std::string message;  // what was wrong, for the response body and the log
};

// True when `head_bytes` (any prefix of a message, start line included) holds an
// obs-fold before its empty line: a CRLF or LF followed by SP or HT.
bool has_obs_fold(std::string_view head_bytes);

// The checks of the request table above, for a head Beast parsed.
std::optional<problem> check_request(boost::beast::http::verb method, std::string_view target,
                                     unsigned version, const boost::beast::http::fields& fields);

// The checks of the response table above.
std::optional<problem> check_response(unsigned status, const boost::beast::http::fields& fields,
                                      bool request_was_upgrade);

// An absolute-form target ("http://host:port/path?q") split into the authority and the
// origin-form target ("/path?q", "/" when the path is empty). Nothing for other forms.
struct origin_form {
    std::string authority;
    std::string target;
};
std::optional<origin_form> split_absolute_form(std::string_view target);

// RFC 9110 9.2.2: a request that may be sent again without changing the outcome.
bool idempotent(boost::beast::http::verb method);

// The values of every `name` field, joined with ", " (RFC 9110 5.3: the same as one field).
std::string joined_values(const boost::beast::http::fields& fields, std::string_view name);

}  // namespace wsproxy::http1
