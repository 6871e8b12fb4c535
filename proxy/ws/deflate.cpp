#include "proxy/ws/deflate.hpp"

#include "common/text.hpp"

#include <zlib.h>

#include <cstring>
#include <utility>
#include <vector>

namespace wsproxy::ws {

namespace {

using text::iequals;
using text::trim;

// Splits at `sep`, outside double quotes.
std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    bool quoted = false;
    std::size_t start = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '"') quoted = !quoted;
        if (s[i] == sep && !quoted) {
            out.push_back(trim(s.substr(start, i - start)));
            start = i + 1;
        }
    }
    out.push_back(trim(s.substr(start)));
    return out;
}

struct param {
    std::string_view name;
    std::string_view value;  // without quotes; empty when the parameter has none
    bool has_value{false};
};

param parse_param(std::string_view p) {
    param out;
    auto eq = p.find('=');
    out.name = trim(p.substr(0, eq));
    if (eq != std::string_view::npos) {
        out.has_value = true;
        out.value = trim(p.substr(eq + 1));
        if (out.value.size() >= 2 && out.value.front() == '"' && out.value.back() == '"')
            out.value = out.value.substr(1, out.value.size() - 2);
    }
    return out;
}

// A window size parameter: 9..15. (8 is legal in RFC 7692, but zlib's raw deflate
// silently uses 9 for it, which would break a peer that holds only 256 bytes.)
bool window_bits(std::string_view v, int& out) {
    if (v.size() == 1 && v[0] == '9') {
        out = 9;
        return true;
    }
    if (v.size() == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5') {
        out = 10 + (v[1] - '0');
        return true;
    }
    return false;
}

}  // namespace

std::optional<deflate_agreement> accept_deflate_offer(std::string_view offer) {
    for (auto ext : split(offer, ',')) {
        auto parts = split(ext, ';');
        if (!iequals(parts[0], "permessage-deflate")) continue;
        deflate_agreement a;
        a.response = "permessage-deflate";
        bool ok = true, seen_snct = false, seen_cnct = false, seen_smwb = false, seen_cmwb = false;
        for (std::size_t i = 1; i < parts.size() && ok; ++i) {
            auto p = parse_param(parts[i]);
            if (iequals(p.name, "server_no_context_takeover") && !p.has_value && !seen_snct) {
                seen_snct = true;
                a.params.server_no_context_takeover = true;
                a.response += "; server_no_context_takeover";
            } else if (iequals(p.name, "client_no_context_takeover") && !p.has_value && !seen_cnct) {
                seen_cnct = true;
                a.params.client_no_context_takeover = true;
                a.response += "; client_no_context_takeover";
            } else if (iequals(p.name, "server_max_window_bits") && p.has_value && !seen_smwb) {
                seen_smwb = true;
                ok = window_bits(p.value, a.params.server_max_window_bits);
                if (ok) a.response += "; server_max_window_bits=" + std::string(p.value);
            } else if (iequals(p.name, "client_max_window_bits") && !seen_cmwb) {
                // The client says it can limit its window; ours reads any size, so the
                // answer leaves it at the client's choice.
                seen_cmwb = true;
                int ignored;
                ok = !p.has_value || window_bits(p.value, ignored);
            } else {
                ok = false;
            }
        }
        if (ok) return a;
    }
    return std::nullopt;
}

bool parse_deflate_response(std::string_view value, deflate_params& out, std::string& error) {
    auto exts = split(value, ',');
    if (exts.size() != 1) {
        error = "the upstream accepted more than one extension: " + std::string(value);
        return false;
    }
    auto parts = split(exts[0], ';');
    if (!iequals(parts[0], "permessage-deflate")) {
        error = "the upstream accepted an extension that was not offered: " + std::string(parts[0]);
        return false;
    }
    deflate_params p;
    bool seen[4] = {false, false, false, false};  // RFC 7692 7.1: each parameter at most once
    for (std::size_t i = 1; i < parts.size(); ++i) {
        auto prm = parse_param(parts[i]);
        bool ok;
        int which = -1;
        if (iequals(prm.name, "server_no_context_takeover"))
            which = 0, ok = !prm.has_value, p.server_no_context_takeover = true;
        else if (iequals(prm.name, "client_no_context_takeover"))
            which = 1, ok = !prm.has_value, p.client_no_context_takeover = true;
        else if (iequals(prm.name, "server_max_window_bits"))
            which = 2, ok = prm.has_value && window_bits(prm.value, p.server_max_window_bits);
        else if (iequals(prm.name, "client_max_window_bits"))
            which = 3, ok = prm.has_value && window_bits(prm.value, p.client_max_window_bits);
        else
            ok = false;
        if (which >= 0 && std::exchange(seen[which], true)) ok = false;
        if (!ok) {
            error = "the upstream's permessage-deflate parameter is not acceptable: " +
                    std::string(parts[i]);
            return false;
        }
    }
    out = p;
    return true;
}

struct inflater::zstream {
    z_stream z{};
    bool ready{false};
    ~zstream() {
        if (ready) inflateEnd(&z);
    }
};

inflater::inflater(const deflate_params&, bool) : z_(std::make_unique<zstream>()) {}
inflater::~inflater() = default;
inflater::inflater(inflater&&) noexcept = default;

inflate_status inflater::inflate(std::string_view compressed, std::string& out, std::size_t limit) {
    // The window is created on the first compressed message, not at the handshake.
    if (!z_->ready) {
        if (inflateInit2(&z_->z, -15) != Z_OK) return inflate_status::corrupt;
        z_->ready = true;
    }
    static const unsigned char tail[4] = {0x00, 0x00, 0xff, 0xff};
    auto& z = z_->z;
    std::size_t start = out.size();
    for (int part = 0; part < 2; ++part) {
        z.next_in = part == 0 ? reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()))
                              : const_cast<Bytef*>(tail);
        z.avail_in = static_cast<uInt>(part == 0 ? compressed.size() : sizeof tail);
        while (z.avail_in > 0) {
            std::size_t have = out.size();
            std::size_t room = std::max<std::size_t>(4096, (have - start) / 2);
            if (have - start + room > limit + 1) room = limit + 1 - (have - start);
            if (room == 0) return inflate_status::too_big;
            out.resize(have + room);
            z.next_out = reinterpret_cast<Bytef*>(out.data() + have);
            z.avail_out = static_cast<uInt>(room);
            int rc = ::inflate(&z, Z_SYNC_FLUSH);
            out.resize(have + room - z.avail_out);
            if (out.size() - start > limit) return inflate_status::too_big;
            if (rc == Z_STREAM_END) {
                // A final block: the peer ended its stream and what follows starts a new
                // one. RFC 7692 7.2.3.4 puts a 0x00 after it, which the tail completes to
                // an empty stored block; with nothing after it, the tail is not fed.
                inflateReset(&z);
                if (part == 0 && z.avail_in == 0) return inflate_status::ok;
                continue;
            }
            if (rc != Z_OK && rc != Z_BUF_ERROR) return inflate_status::corrupt;
            if (rc == Z_BUF_ERROR && z.avail_out != 0) break;  // needs input it will not get
        }
    }
    return inflate_status::ok;
}

struct deflater::zstream {
    z_stream z{};
    bool ready{false};
    ~zstream() {
        if (ready) deflateEnd(&z);
    }
};

deflater::deflater(const deflate_params& p, bool server_role)
    : z_(std::make_unique<zstream>()),
      window_bits_(server_role ? p.server_max_window_bits : p.client_max_window_bits),
      reset_each_message_(server_role ? p.server_no_context_takeover
                                      : p.client_no_context_takeover) {}
deflater::~deflater() = default;
deflater::deflater(deflater&&) noexcept = default;

void deflater::deflate(std::string_view message, std::string& out) {
    auto& z = z_->z;
    if (!z_->ready) {
        // memLevel 4: 8 KB of hash tables instead of 128 KB, for a little less compression.
        if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -window_bits_, 4,
                         Z_DEFAULT_STRATEGY) != Z_OK)
            throw std::bad_alloc();
        z_->ready = true;
    }
    out.resize(deflateBound(&z, static_cast<uLong>(message.size())) + 16);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(message.data()));
    z.avail_in = static_cast<uInt>(message.size());
    std::size_t used = 0;
    for (;;) {
        z.next_out = reinterpret_cast<Bytef*>(out.data() + used);
        z.avail_out = static_cast<uInt>(out.size() - used);
        ::deflate(&z, Z_SYNC_FLUSH);
        used = out.size() - z.avail_out;
        if (z.avail_out != 0) break;
        out.resize(out.size() * 2);
    }
    if (used == 0)
        // zlib writes no second flush marker when nothing came in since the last one (an
        // empty message after an empty one); an empty payload would leave the receiver's
        // 00 00 ff ff misaligned. 0x00 is an empty message (RFC 7692 7.2.3.6).
        out.assign(1, '\0');
    else
        out.resize(used >= 4 ? used - 4 : used);  // the 00 00 ff ff the receiver adds back
    if (reset_each_message_) deflateReset(&z);
}

}  // namespace wsproxy::ws
