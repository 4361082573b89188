// How each SqsError code appears on the wire in each protocol.
#pragma once

#include <string>
#include <string_view>

#include "common/sqs_error.h"

namespace wharf::protocol {

struct ErrorWireInfo {
  std::string_view json_type;   // __type, after the "com.amazonaws.sqs#" style prefix
  std::string_view query_code;  // query protocol <Code> and x-amzn-query-error
  int http_status;
  bool sender_fault;  // Sender or Receiver
};

const ErrorWireInfo& wire_info(ErrorCode code);

// The message the query protocol shows for `error`. The error is made once,
// in the JSON protocol's words; AWS's query endpoint words a missing queue
// its own way ("... does not exist for this wsdl version."), keeping what
// Wharf adds after AWS's words.
std::string query_error_message(const SqsError& error);

}  // namespace wharf::protocol
