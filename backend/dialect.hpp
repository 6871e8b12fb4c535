#pragma once
// The wire vocabulary, without I/O: parses client frames into requests and
// builds server frames. `standard` follows protocol.md; `rooms` is the same
// behaviour under other names (backend/README.md). Immutable after
// construction, so one instance is shared by every thread.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chat_backend.hpp"

namespace chat_backend {

enum class request_kind { join, leave, send, typing_start, typing_stop, ping, bad };

struct request {
  request_kind kind = request_kind::bad;
  std::string chat_id;  // join/leave may carry an empty one (answered with an error)
  std::string content;  // send
  std::string error;    // bad: why, for the error frame
};

class dialect {
 public:
  virtual ~dialect() = default;

  virtual request parse(std::string_view text) const = 0;

  // The frames sent right after the upgrade, in order.
  virtual std::vector<std::string> greeting(std::string_view client_id,
                                            std::string_view tenant) const = 0;
  virtual std::string joined(std::string_view tenant, std::string_view chat_id, bool ok,
                             std::string_view error) const = 0;
  virtual std::string left(std::string_view tenant, std::string_view chat_id, bool ok,
                           std::string_view error) const = 0;
  // Empty string: this dialect has no such frame.
  virtual std::string typing(std::string_view tenant, std::string_view chat_id,
                             bool start) const = 0;
  virtual std::string answer_start(std::string_view tenant, std::string_view chat_id,
                                   std::string_view response_id,
                                   std::string_view in_reply_to) const = 0;
  virtual std::string answer_chunk(std::string_view tenant, std::string_view chat_id,
                                   std::string_view response_id, std::size_t index,
                                   std::string_view content) const = 0;
  virtual std::string answer_end(std::string_view tenant, std::string_view chat_id,
                                 std::string_view response_id,
                                 std::string_view content) const = 0;
  virtual std::string pong(std::string_view tenant) const = 0;
  virtual std::string error(std::string_view tenant, std::string_view code,
                            std::string_view message) const = 0;
  // An error frame for one chat's user message (--error-answers): the error frame with the
  // chat's id in its data and in the envelope.
  virtual std::string answer_error(std::string_view tenant, std::string_view chat_id,
                                   std::string_view code, std::string_view message) const = 0;
};

std::unique_ptr<const dialect> make_dialect(dialect_kind kind, client_id_at cid);

// The deterministic answer to a user message: "Echo: <content>".
std::string answer_text(std::string_view content);
// Splits text into max(n,1) consecutive pieces of near-equal byte length,
// never inside a UTF-8 sequence; the pieces concatenate to text (some may be
// empty when text is short).
std::vector<std::string> split_answer(std::string_view text, unsigned n);
// Deepest nesting of arrays/objects in a JSON text (strings skipped), so
// hostile input is refused before the parser sees it.
std::size_t json_depth(std::string_view text);

}  // namespace chat_backend
