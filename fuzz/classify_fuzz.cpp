// Classification never crashes, never reads out of bounds, and agrees with nlohmann's
// validator on what is JSON (within the depth bound). Found fields are views into the
// payload or into scratch_, and the classified type is in message_types when it has a slot.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>

#include "rules/classify.hpp"

using namespace wsproxy::rules;

namespace {

bool inside(std::string_view v, std::string_view payload, const std::string& scratch) {
    if (v.empty()) return true;
    const auto in = [&](const char* b, std::size_t n) {
        return v.data() >= b && v.data() + v.size() <= b + n;
    };
    return in(payload.data(), payload.size()) || in(scratch.data(), scratch.size());
}

void check(bool ok) {
    if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const config cfg;
    const std::string_view payload(reinterpret_cast<const char*>(data), size);
    frame_info fi;
    classify(cfg, payload, true, fi);

    check(inside(fi.type, payload, fi.scratch_));
    check(inside(fi.chat_id, payload, fi.scratch_));
    check(inside(fi.client_id, payload, fi.scratch_));
    check(inside(fi.error, payload, fi.scratch_));
    if (fi.type_slot >= 0) check(cfg.message_types[fi.type_slot] == fi.type);
    if (fi.kind != frame_kind::object) check(fi.type.empty() && fi.chat_id.empty() && fi.success == -1);

    // nlohmann's lexer takes a NUL byte as the end of input; JSON does not.
    if (fi.kind != frame_kind::too_deep && payload.find('\0') == std::string_view::npos) {
        const bool ours = fi.kind == frame_kind::object || fi.kind == frame_kind::not_object;
        const bool theirs = nlohmann::json::accept(payload);
        if (ours && !theirs) {
            // The one allowed difference: nlohmann rejects numbers beyond a double's range,
            // which JSON's grammar accepts (and which the proxy relays as they are).
            try {
                (void)nlohmann::json::parse(payload);
                check(false);
            } catch (const nlohmann::json::out_of_range&) {
            } catch (const nlohmann::json::parse_error& e) {
                check(std::string_view(e.what()).find("number overflow") != std::string_view::npos);
            }
        } else {
            check(ours == theirs);
        }
    }
    if (fi.kind == frame_kind::object && fi.chat_id.size() > 0) {
        // A decoded chat id is valid UTF-8: it round-trips through a JSON string.
        const auto j = nlohmann::json::parse("[" + nlohmann::json(std::string(fi.chat_id)).dump() + "]");
        check(j[0].get<std::string>() == fi.chat_id);
    }
    return 0;
}
