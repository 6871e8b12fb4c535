#include "proxy/ws/handshake.hpp"

#include "common/text.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <boost/beast/core/string.hpp>
#include <stdexcept>

namespace wsproxy::ws {
namespace http = boost::beast::http;

namespace {

std::string base64(const unsigned char* data, std::size_t size) {
    std::string out(4 * ((size + 2) / 3), '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data,
                            static_cast<int>(size));
    out.resize(static_cast<std::size_t>(n));
    return out;
}


}  // namespace

std::string make_key() {
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof raw) != 1)
        throw std::runtime_error("OpenSSL could not produce random bytes for Sec-WebSocket-Key");
    return base64(raw, sizeof raw);
}

std::string accept_for(std::string_view key) {
    static constexpr std::string_view guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    std::string in;
    in.reserve(key.size() + guid.size());
    in.append(key).append(guid);
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(in.data()), in.size(), digest);
    return base64(digest, sizeof digest);
}

std::optional<request_problem> check_upgrade_request(const http::request<http::string_body>& req) {
    if (req.method() != http::verb::get)
        return request_problem{http::status::bad_request, "a WebSocket upgrade must be a GET"};
    if (req.version() < 11)
        return request_problem{http::status::bad_request, "a WebSocket upgrade needs HTTP/1.1"};
    if (req[http::field::sec_websocket_version] != "13")
        return request_problem{http::status::upgrade_required,
                               "unsupported Sec-WebSocket-Version (this proxy speaks 13)"};
    auto key = req[http::field::sec_websocket_key];
    // 16 bytes in base64 are 24 characters ending in "==".
    if (key.size() != 24 || key.substr(22) != "==")
        return request_problem{http::status::bad_request,
                               "missing or malformed Sec-WebSocket-Key"};
    return std::nullopt;
}

upstream_verdict check_upgrade_response(const http::response<http::string_body>& res,
                                        std::string_view key, bool offered_deflate) {
    upstream_verdict v;
    if (res.result() != http::status::switching_protocols) {
        v.declined = true;
        return v;
    }
    if (!boost::beast::iequals(res[http::field::upgrade], "websocket"))
        v.error = "the upstream's 101 has no Upgrade: websocket";
    else if (!text::has_token(res[http::field::connection], "upgrade"))
        v.error = "the upstream's 101 has no Connection: upgrade";
    else if (res[http::field::sec_websocket_accept] != accept_for(key))
        v.error = "the upstream's Sec-WebSocket-Accept does not match our key";
    if (!v.error.empty()) return v;
    auto ext = res[http::field::sec_websocket_extensions];
    if (!ext.empty()) {
        if (!offered_deflate) {
            v.error = "the upstream accepted an extension that was not offered: " + std::string(ext);
            return v;
        }
        deflate_params p;
        if (!parse_deflate_response(ext, p, v.error)) return v;
        v.deflate = p;
    }
    return v;
}

}  // namespace wsproxy::ws
