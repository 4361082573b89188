#include "protocol/errors.h"

#include <array>
#include <cstddef>

namespace wharf::protocol {
namespace {

struct ErrorRow {
  ErrorCode code;
  ErrorWireInfo wire;
};

constexpr size_t kErrorCodeCount = static_cast<size_t>(ErrorCode::ServiceUnavailable) + 1;

// One row per ErrorCode, in the enum's order (checked below), so that a code
// finds its row by index. JSON names and query codes as botocore's SQS models
// (JSON-era and query-era) declare them; codes AWS does not model use its
// service names.
constexpr std::array<ErrorRow, kErrorCodeCount> kErrorRows = {{
    // Request shape
    {ErrorCode::InvalidAction, {"com.amazon.coral.service#UnknownOperationException", "InvalidAction", 400, true}},
    {ErrorCode::MissingAction, {"com.amazonaws.sqs#MissingAction", "MissingAction", 400, true}},
    {ErrorCode::MissingParameter,
     {"com.amazonaws.sqs#MissingRequiredParameterException", "MissingParameter", 400, true}},
    {ErrorCode::InvalidParameterValue,
     {"com.amazonaws.sqs#InvalidParameterValueException", "InvalidParameterValue", 400, true}},
    {ErrorCode::MalformedInput, {"com.amazon.coral.service#SerializationException", "MalformedInput", 400, true}},
    {ErrorCode::UnsupportedMediaType,
     {"com.amazon.coral.service#UnsupportedMediaTypeException", "InvalidParameterValue", 415, true}},
    {ErrorCode::RequestTooLarge, {"com.amazonaws.sqs#RequestEntityTooLarge", "RequestEntityTooLarge", 413, true}},
    // Queues
    {ErrorCode::QueueDoesNotExist,
     {"com.amazonaws.sqs#QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", 400, true}},
    {ErrorCode::QueueNameExists, {"com.amazonaws.sqs#QueueNameExists", "QueueAlreadyExists", 400, true}},
    {ErrorCode::QueueDeletedRecently,
     {"com.amazonaws.sqs#QueueDeletedRecently", "AWS.SimpleQueueService.QueueDeletedRecently", 400, true}},
    {ErrorCode::InvalidAttributeName, {"com.amazonaws.sqs#InvalidAttributeName", "InvalidAttributeName", 400, true}},
    {ErrorCode::InvalidAttributeValue, {"com.amazonaws.sqs#InvalidAttributeValue", "InvalidAttributeValue", 400, true}},
    {ErrorCode::PurgeQueueInProgress,
     {"com.amazonaws.sqs#PurgeQueueInProgress", "AWS.SimpleQueueService.PurgeQueueInProgress", 403, true}},
    // Messages. ReceiptHandleIsInvalid (and ResourceNotFoundException below)
    // are 404 in AWS's own model (the JavaScript SDK v3 carries it;
    // botocore's copy omits it).
    {ErrorCode::InvalidMessageContents,
     {"com.amazonaws.sqs#InvalidMessageContents", "InvalidMessageContents", 400, true}},
    {ErrorCode::ReceiptHandleIsInvalid,
     {"com.amazonaws.sqs#ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", 404, true}},
    {ErrorCode::MessageNotInflight,
     {"com.amazonaws.sqs#MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight", 400, true}},
    {ErrorCode::OverLimit, {"com.amazonaws.sqs#OverLimit", "OverLimit", 403, true}},
    // Batches
    {ErrorCode::EmptyBatchRequest,
     {"com.amazonaws.sqs#EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest", 400, true}},
    {ErrorCode::TooManyEntriesInBatchRequest,
     {"com.amazonaws.sqs#TooManyEntriesInBatchRequest", "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400,
      true}},
    {ErrorCode::BatchEntryIdsNotDistinct,
     {"com.amazonaws.sqs#BatchEntryIdsNotDistinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400, true}},
    {ErrorCode::InvalidBatchEntryId,
     {"com.amazonaws.sqs#InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId", 400, true}},
    {ErrorCode::BatchRequestTooLong,
     {"com.amazonaws.sqs#BatchRequestTooLong", "AWS.SimpleQueueService.BatchRequestTooLong", 400, true}},
    // Authentication: the coral names JSON services use, the query codes.
    {ErrorCode::MissingAuthenticationToken,
     {"com.amazon.coral.service#MissingAuthenticationTokenException", "MissingAuthenticationToken", 403, true}},
    {ErrorCode::IncompleteSignature,
     {"com.amazon.coral.service#IncompleteSignatureException", "IncompleteSignature", 400, true}},
    {ErrorCode::InvalidClientTokenId,
     {"com.amazon.coral.service#UnrecognizedClientException", "InvalidClientTokenId", 403, true}},
    {ErrorCode::SignatureDoesNotMatch,
     {"com.amazon.coral.service#InvalidSignatureException", "SignatureDoesNotMatch", 403, true}},
    {ErrorCode::RequestExpired, {"com.amazon.coral.service#InvalidSignatureException", "RequestExpired", 400, true}},
    {ErrorCode::AccessDenied, {"com.amazon.coral.service#AccessDeniedException", "AccessDenied", 403, true}},
    // Message move tasks
    {ErrorCode::ResourceNotFoundException,
     {"com.amazonaws.sqs#ResourceNotFoundException", "ResourceNotFoundException", 404, true}},
    // Everything else
    {ErrorCode::UnsupportedOperation,
     {"com.amazonaws.sqs#UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", 400, true}},
    {ErrorCode::InternalError, {"com.amazonaws.sqs#InternalError", "InternalError", 500, false}},
    {ErrorCode::ServiceUnavailable, {"com.amazonaws.sqs#ServiceUnavailable", "ServiceUnavailable", 503, false}},
}};

constexpr bool rows_follow_the_enum() {
  for (size_t i = 0; i < kErrorRows.size(); ++i) {
    if (kErrorRows[i].code != static_cast<ErrorCode>(i)) return false;
  }
  return true;
}
static_assert(rows_follow_the_enum(), "kErrorRows must list every ErrorCode once, in the enum's order");

}  // namespace

const ErrorWireInfo& wire_info(ErrorCode code) {
  const auto index = static_cast<size_t>(code);
  if (index >= kErrorRows.size()) return kErrorRows[static_cast<size_t>(ErrorCode::InternalError)].wire;
  return kErrorRows[index].wire;
}

std::string query_error_message(const SqsError& error) {
  if (error.code != ErrorCode::QueueDoesNotExist) return error.message;
  constexpr std::string_view kJsonWords = "The specified queue does not exist.";
  const std::string_view message = error.message;
  return "The specified queue does not exist for this wsdl version." +
         std::string(message.starts_with(kJsonWords) ? message.substr(kJsonWords.size()) : std::string_view());
}

}  // namespace wharf::protocol
