#pragma once
// The answer to one user message (REST post or send_message/post frame):
// stored, then broadcast to the chat as typing_start, response_start,
// N x response_chunk, response_complete, typing_stop (standard names).
//
// Registration is checked once, when the answer starts (--answer-delay-ms after the
// message; --drop-answers and --error-answers spoil some answers on purpose): with nobody
// registered the backend logs "No clients registered for specific chat <id>"
// exactly once and discards the whole answer. Otherwise each frame goes to
// the members registered at the moment it is sent (a member that leaves
// mid-answer stops receiving; one that joins mid-answer gets the rest).
// Each frame's JSON is built once and shared by all recipients.

#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "state.hpp"

namespace chat_backend {

// Runs on ex (the calling connection's thread); the chunk delays are timers on ex.
void start_answer(const std::shared_ptr<shared_state>& st, const boost::asio::any_io_executor& ex,
                  std::string tenant, std::string chat_id, std::string in_reply_to,
                  std::string content);

}  // namespace chat_backend
