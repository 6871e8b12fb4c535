#pragma once
// The states of one leg of a ws_pair (one WebSocket peer: the browser or the backend), as
// two small machines: its read side (what comes in from the peer) and its write side (what
// may still go out to it, and the close frame). The closing handshake is their pair:
// ours is done when the write side reached close_sent, the peer's when the read side is
// done after its close frame. `writing` (an output operation in flight), `read_waiting`
// (a readability wait pending), `unread` (the last read filled the buffer, or an edge came
// while nothing read), `slow`, `ping_sent` and `pong_due` stay flags of the leg: they mark
// pending I/O and timers, not steps of the handshake. "Other" is the pair's other leg.
//
// Read side (leg_read):
//
//   state     | event                                       | action                           | next
//   ----------+---------------------------------------------+----------------------------------+---------
//   idle      | do_read (after the handshake, a read, a     | unread: read at once (posted);   | reading
//             | resume)                                     | else wait for readable; TLS read |
//   reading   | bytes read, frames processed                | relay them                       | idle, then
//             |                                             |                                  | reading or
//             |                                             |                                  | paused
//   paused    | other drained what this leg relayed         | resume: do_read                  | reading
//   idle,     | the peer's close frame, its protocol error, | leg_ended: answer_close or       | done
//   reading,  | an I/O error, idle or close timeout, slow   | send_close to other              |
//   paused    |                                             |                                  |
//   done      | output drained, write side close_sent or    | server after a clean close:      | draining
//             | done (maybe_close_socket)                   | wait for its FIN (fin_wait_ms);  |
//             |                                             | ended by its own error: shutdown |
//             |                                             | send, linger (linger_ms)         |
//             |                                             | else close the socket            | closed
//   draining  | FIN, bytes past the budget, an error, or    | close the socket                 | closed
//             | close_deadline (tick)                       |                                  |
//   any       | close_socket (I/O error, slow cut, handler  | close the stream; answer other   | closed
//             | threw)                                      |                                  |
//
// A read still pending when the side leaves `reading` finds it so and does nothing.
// `closed` is the last state of the whole leg: its socket is closed, nothing more in or out.
//
// Write side (leg_write):
//
//   state      | event                                      | action                            | next
//   -----------+--------------------------------------------+-----------------------------------+-----------
//   open       | the peer's close or error, other not ended | keep the close code (answer_close)| answer_due
//              | (relay first, then close: RFC 6455 7.1.6)  |                                   |
//   open,      | other ended, drain, slow, the answer due   | queue the close frame; deadline   | close_sent
//   answer_due | now (send_answer), a failed handshake      | now + handshake timeout           |
//   open       | the leg's own connection failed (I/O error,| -                                 | done
//              | timeout) before any close                  |                                   |
//   open,      | close_socket                               | drop queued output                | done
//   answer_due |                                            |                                   |
//   close_sent | the peer's close, or close_deadline (tick: | read side ends                    | close_sent
//              | timeout)                                   |                                   |
//
// Only open and answer_due accept frames (may_write). tick() reads both sides: a closed
// leg is skipped; a slow one is cut at cut_at; a draining one ends at close_deadline; one
// whose input is done waits; close_sent ends at close_deadline; paused or writing is not
// idle; otherwise it idles out or is pinged.
#include <cstdint>

namespace wsproxy {

enum class leg_read : std::uint8_t { idle, reading, paused, done, draining, closed };
enum class leg_write : std::uint8_t { open, answer_due, close_sent, done };

// The peer may still deliver frames.
constexpr bool input_open(leg_read r) {
    return r == leg_read::idle || r == leg_read::reading || r == leg_read::paused;
}
// Frames (data, pings, the close) may still be written to the peer.
constexpr bool may_write(leg_write w) { return w == leg_write::open || w == leg_write::answer_due; }

}  // namespace wsproxy
