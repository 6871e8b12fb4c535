#pragma once
// permessage-deflate (RFC 7692): the negotiation on each leg and the zlib
// streams. A zlib stream is large (an inflate state ≈ 7 KB plus a 32 KB
// window, a deflate state ≈ 256 KB at the defaults), so each is created on
// first use and only on connections that negotiated the extension.
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace wsproxy::ws {

// What one connection agreed to. "server_*" parameters constrain what the server
// compresses, "client_*" what the client compresses.
struct deflate_params {
    bool server_no_context_takeover{false};
    bool client_no_context_takeover{false};
    int server_max_window_bits{15};
    int client_max_window_bits{15};
};

// Server side (the browser's leg): the first permessage-deflate offer in a
// Sec-WebSocket-Extensions value that we can honour, and the value to answer with.
// nullopt: nothing usable was offered, answer without the extension.
struct deflate_agreement {
    deflate_params params;
    std::string response;
};
std::optional<deflate_agreement> accept_deflate_offer(std::string_view offer);

// Client side (the backend's leg): the offer we send, and the server's answer checked
// against it. Returns false with `error` set when the answer is not one we can accept.
constexpr std::string_view deflate_offer = "permessage-deflate; client_max_window_bits";
bool parse_deflate_response(std::string_view value, deflate_params& out, std::string& error);

enum class inflate_status { ok, corrupt, too_big };

// Decompresses messages from one peer. The window is kept between messages (the peer
// may refer back to it); a peer that resets its own context per message is served too.
class inflater {
public:
    inflater(const deflate_params&, bool server_role);
    ~inflater();
    inflater(inflater&&) noexcept;
    // Appends the inflated message to `out`, stopping once it would exceed `limit` bytes.
    inflate_status inflate(std::string_view compressed, std::string& out, std::size_t limit);

private:
    struct zstream;
    std::unique_ptr<zstream> z_;
};

// Compresses messages to one peer with the window size and context rule it agreed to.
class deflater {
public:
    deflater(const deflate_params&, bool server_role);
    ~deflater();
    deflater(deflater&&) noexcept;
    // Replaces `out` with the compressed message (without the 00 00 ff ff tail).
    void deflate(std::string_view message, std::string& out);

private:
    struct zstream;
    std::unique_ptr<zstream> z_;
    int window_bits_;
    bool reset_each_message_;
};

}  // namespace wsproxy::ws
