// Rule 1: classify the frame and count it. Every frame passes here first.
//
//   frame kind            | actions                                  | rest of the chain
//   ----------------------+------------------------------------------+------------------
//   object, known type    | count frames{dir, type slot}             | runs
//   object, other/no type | count frames{dir, other}                 | runs
//   not_object            | count frames{dir, other}                 | skipped (forward)
//   invalid               | count frames{dir, invalid}               | skipped (forward)
//   binary                | count frames{dir, binary}                | skipped (forward)
//   too_deep              | count frames{dir, other}; uninspected{0} | skipped (forward)
//   too_large             | count frames{dir, other}; uninspected{1} | skipped (forward)
//
// Always: frames_in[dir] += 1, bytes_in[dir] += size, last_frame_at = now.
#include "rules/detail.hpp"

namespace wsproxy::rules::detail {

void rule_classify_count(frame_ctx& c) {
    const int dir = static_cast<int>(c.from);
    c.st.frames_in[dir] += 1;
    c.st.bytes_in[dir] += c.payload.size();
    c.st.last_frame_at = c.now;

    const int ntypes = static_cast<int>(c.cfg.message_types.size());
    int slot = ntypes;  // other
    switch (c.fi.kind) {
        case frame_kind::object: slot = c.fi.type_slot >= 0 ? c.fi.type_slot : ntypes; break;
        case frame_kind::invalid: slot = ntypes + 1; break;
        case frame_kind::binary: slot = ntypes + 2; break;
        default: break;
    }
    emit_count(c.out, stat::frames, frame_label(dir, slot, ntypes));

    if (c.fi.kind == frame_kind::too_deep) emit_count(c.out, stat::uninspected, 0);
    if (c.fi.kind == frame_kind::too_large) emit_count(c.out, stat::uninspected, 1);
    if (c.fi.kind != frame_kind::object) c.done = true;
}

}  // namespace wsproxy::rules::detail
