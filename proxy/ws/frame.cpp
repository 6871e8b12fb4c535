#include "proxy/ws/frame.hpp"

#include <algorithm>
#include <cstring>

namespace wsproxy::ws {

namespace {

bool is_control(unsigned op) { return op >= 8; }
bool known_opcode(unsigned op) { return op <= 2 || (op >= 8 && op <= 10); }

// The mask key as seen from byte `offset` of the payload on.
std::uint32_t key_from(std::uint32_t key, std::size_t offset) {
    unsigned char k[4], r[4];
    std::memcpy(k, &key, 4);
    for (std::size_t i = 0; i < 4; ++i) r[i] = k[(i + offset) & 3];
    std::memcpy(&key, r, 4);
    return key;
}

// Codes a peer may put in a close frame (RFC 6455 7.4.1, 7.4.2, and the registered 1012
// service restart and 1013 try again later, which Beast accepts and this proxy sends).
bool valid_close_code(std::uint16_t c) {
    if (c >= 3000 && c <= 4999) return true;
    return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1013);
}

}  // namespace

event reader::fail(std::uint16_t code, const char* why) {
    failed_ = true;
    event e;
    e.what = event::kind::error;
    e.code = code;
    e.error = why;
    return e;
}

event reader::next(char* data, std::size_t size, std::size_t& pos) {
    if (failed_) return {};
    // A large message once reassembled or inflated should not pin its buffer for the
    // connection's life.
    constexpr std::size_t keep = 64 * 1024;
    if (!in_message_ && fragments_.capacity() > keep) std::string().swap(fragments_);
    if (inflated_.capacity() > keep) std::string().swap(inflated_);
    for (;;) {
        auto* p = reinterpret_cast<unsigned char*>(data + pos);
        std::size_t avail = size - pos;
        if (avail < 2) return {};
        bool fin = p[0] & 0x80;
        bool rsv1 = p[0] & 0x40;
        unsigned op = p[0] & 0x0f;
        bool mask = p[1] & 0x80;
        std::uint64_t len = p[1] & 0x7f;
        std::size_t head = 2;
        if ((p[0] & 0x30) != 0) return fail(close_code::protocol_error, "reserved bits set");
        if (rsv1 && (!inflate_ || op == 0 || is_control(op)))
            return fail(close_code::protocol_error, "reserved bits set");
        if (!known_opcode(op)) return fail(close_code::protocol_error, "reserved opcode");
        if (mask != masked_)
            return fail(close_code::protocol_error,
                        masked_ ? "client frame not masked" : "server frame masked");
        if (is_control(op) && (!fin || len > 125))
            return fail(close_code::protocol_error, "control frame fragmented or over 125 bytes");
        if (len == 126) {
            if (avail < 4) return {};
            len = (std::uint64_t{p[2]} << 8) | p[3];
            head = 4;
            // RFC 6455 5.2: the length MUST use the fewest bytes (as Beast also enforces).
            if (len < 126) return fail(close_code::protocol_error, "frame length not minimal");
        } else if (len == 127) {
            if (avail < 10) return {};
            len = 0;
            for (int i = 2; i < 10; ++i) len = (len << 8) | p[i];
            head = 10;
            if (len >> 63) return fail(close_code::protocol_error, "frame length over 2^63");
            if (len <= 0xffff) return fail(close_code::protocol_error, "frame length not minimal");
        }
        if (!is_control(op)) {
            if (op == 0 && !in_message_)
                return fail(close_code::protocol_error, "continuation without a message");
            if (op != 0 && in_message_)
                return fail(close_code::protocol_error, "new message inside a fragmented one");
            std::uint64_t so_far = op == 0 ? fragments_.size() : 0;
            if (len > max_ || so_far + len > max_)
                return fail(close_code::too_big, "message over the size limit");
        }
        std::uint32_t key = 0;
        if (mask) {
            if (avail < head + 4) return {};
            std::memcpy(&key, p + head, 4);
            head += 4;
        }
        // Uncompressed text is checked piece by piece, whatever part of the frame is here.
        bool text_piece = !is_control(op) && (op == 0 ? message_text_ && !message_compressed_
                                                      : op == 1 && !rsv1);
        if (text_piece) {
            if (op != 0 && checked_ == 0) text_.reset();  // a new message starts here
            auto here = static_cast<std::size_t>(std::min<std::uint64_t>(avail - head, len));
            if (here > checked_) {
                char* from = data + pos + head + checked_;
                if (mask) apply_mask(from, here - checked_, key_from(key, checked_));
                bool ok = text_.feed(std::string_view(from, here - checked_));
                checked_ = here;
                if (!ok) return fail(close_code::bad_payload, "text message not UTF-8");
            }
        }
        if (avail - head < len) return {};
        char* payload = data + pos + head;
        auto n = static_cast<std::size_t>(len);
        if (mask && !text_piece) apply_mask(payload, n, key);
        checked_ = 0;
        pos += head + n;
        std::string_view body(payload, n);

        if (is_control(op)) {
            event e;
            if (op == 9) {
                e.what = event::kind::ping;
                e.payload = body;
                return e;
            }
            if (op == 10) {
                e.what = event::kind::pong;
                e.payload = body;
                return e;
            }
            // close
            if (body.size() == 1) return fail(close_code::protocol_error, "close payload of 1 byte");
            e.what = event::kind::close;
            e.code = close_code::no_status;
            if (body.size() >= 2) {
                auto hi = static_cast<unsigned char>(body[0]), lo = static_cast<unsigned char>(body[1]);
                e.code = static_cast<std::uint16_t>((hi << 8) | lo);
                if (!valid_close_code(e.code))
                    return fail(close_code::protocol_error, "invalid close code");
                e.payload = body.substr(2);
                if (!valid_utf8(e.payload))
                    return fail(close_code::bad_payload, "close reason not UTF-8");
            }
            failed_ = true;  // nothing may follow a close
            return e;
        }
        if (op != 0) {
            message_text_ = op == 1;
            message_compressed_ = rsv1;
            if (fin) return finish_message(body, message_text_, rsv1);
            in_message_ = true;
            fragments_.assign(body);
            continue;
        }
        fragments_.append(body);
        if (!fin) continue;
        in_message_ = false;
        event e = finish_message(fragments_, message_text_, message_compressed_);
        return e;
    }
}

event reader::finish_message(std::string_view payload, bool text, bool compressed) {
    if (compressed) {
        inflated_.clear();
        switch (inflate_->inflate(payload, inflated_, max_)) {
            case inflate_status::ok: break;
            case inflate_status::too_big:
                return fail(close_code::too_big, "message over the size limit");
            case inflate_status::corrupt:
                return fail(close_code::bad_payload, "compressed message is corrupt");
        }
        payload = inflated_;
    }
    // Uncompressed text was checked as it came; here only its end must not cut a character.
    if (text && !(compressed ? utf8::valid(payload) : text_.complete()))
        return fail(close_code::bad_payload, "text message not UTF-8");
    event e;
    e.what = event::kind::message;
    e.payload = payload;
    e.text = text;
    return e;
}

std::size_t write_header(unsigned char* out, opcode op, std::uint64_t size, bool compressed,
                         std::uint32_t mask_key) {
    out[0] = static_cast<unsigned char>(0x80 | (compressed ? 0x40 : 0) | static_cast<unsigned>(op));
    unsigned char m = mask_key ? 0x80 : 0;
    std::size_t n;
    if (size < 126) {
        out[1] = static_cast<unsigned char>(m | size);
        n = 2;
    } else if (size <= 0xffff) {
        out[1] = m | 126;
        out[2] = static_cast<unsigned char>(size >> 8);
        out[3] = static_cast<unsigned char>(size);
        n = 4;
    } else {
        out[1] = m | 127;
        for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<unsigned char>(size >> (56 - 8 * i));
        n = 10;
    }
    if (mask_key) {
        std::memcpy(out + n, &mask_key, 4);
        n += 4;
    }
    return n;
}

void apply_mask(char* data, std::size_t size, std::uint32_t key) {
    // The key in memory order, as it appears on the wire; eight bytes at a time.
    std::uint64_t wide = (std::uint64_t{key} << 32) | key;
    std::size_t i = 0;
    for (; i + 8 <= size; i += 8) {
        std::uint64_t v;
        std::memcpy(&v, data + i, 8);
        v ^= wide;
        std::memcpy(data + i, &v, 8);
    }
    unsigned char k[4];
    std::memcpy(k, &key, 4);
    for (; i < size; ++i) data[i] = static_cast<char>(data[i] ^ k[i & 3]);
}

std::string close_payload(std::uint16_t code, std::string_view reason) {
    if (reason.size() > 123) {
        // Do not cut a UTF-8 sequence in half: when the first byte left out continues a
        // sequence, leave out that sequence's earlier bytes too.
        std::size_t cut = 123;
        while (cut > 0 && (static_cast<unsigned char>(reason[cut]) & 0xc0) == 0x80) --cut;
        reason = reason.substr(0, cut);
    }
    std::string out;
    out.reserve(2 + reason.size());
    out.push_back(static_cast<char>(code >> 8));
    out.push_back(static_cast<char>(code & 0xff));
    out.append(reason);
    return out;
}

}  // namespace wsproxy::ws
