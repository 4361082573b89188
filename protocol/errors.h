// How each SqsError code appears on the wire in each protocol.
#pragma once

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

}  // namespace wharf::protocol
