// The SQS error vocabulary shared by the engine (which decides) and the
// protocol codecs (which encode). Header-only: no dependencies either way.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace wharf {

enum class ErrorCode {
  // Request shape
  InvalidAction,
  MissingAction,
  MissingParameter,
  InvalidParameterValue,
  MalformedInput,
  UnsupportedMediaType,
  RequestTooLarge,
  // Queues
  QueueDoesNotExist,
  QueueNameExists,
  QueueDeletedRecently,
  InvalidAttributeName,
  InvalidAttributeValue,
  PurgeQueueInProgress,
  // Messages
  InvalidMessageContents,
  ReceiptHandleIsInvalid,
  MessageNotInflight,
  OverLimit,
  // Batches
  EmptyBatchRequest,
  TooManyEntriesInBatchRequest,
  BatchEntryIdsNotDistinct,
  InvalidBatchEntryId,
  BatchRequestTooLong,
  // Authentication
  MissingAuthenticationToken,
  IncompleteSignature,
  InvalidClientTokenId,
  SignatureDoesNotMatch,
  RequestExpired,
  AccessDenied,
  // Message move tasks
  ResourceNotFoundException,
  // Everything else
  UnsupportedOperation,
  InternalError,
  ServiceUnavailable,
};

// The code's name, for logs and test output.
constexpr std::string_view error_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::InvalidAction:
      return "InvalidAction";
    case ErrorCode::MissingAction:
      return "MissingAction";
    case ErrorCode::MissingParameter:
      return "MissingParameter";
    case ErrorCode::InvalidParameterValue:
      return "InvalidParameterValue";
    case ErrorCode::MalformedInput:
      return "MalformedInput";
    case ErrorCode::UnsupportedMediaType:
      return "UnsupportedMediaType";
    case ErrorCode::RequestTooLarge:
      return "RequestTooLarge";
    case ErrorCode::QueueDoesNotExist:
      return "QueueDoesNotExist";
    case ErrorCode::QueueNameExists:
      return "QueueNameExists";
    case ErrorCode::QueueDeletedRecently:
      return "QueueDeletedRecently";
    case ErrorCode::InvalidAttributeName:
      return "InvalidAttributeName";
    case ErrorCode::InvalidAttributeValue:
      return "InvalidAttributeValue";
    case ErrorCode::PurgeQueueInProgress:
      return "PurgeQueueInProgress";
    case ErrorCode::InvalidMessageContents:
      return "InvalidMessageContents";
    case ErrorCode::ReceiptHandleIsInvalid:
      return "ReceiptHandleIsInvalid";
    case ErrorCode::MessageNotInflight:
      return "MessageNotInflight";
    case ErrorCode::OverLimit:
      return "OverLimit";
    case ErrorCode::EmptyBatchRequest:
      return "EmptyBatchRequest";
    case ErrorCode::TooManyEntriesInBatchRequest:
      return "TooManyEntriesInBatchRequest";
    case ErrorCode::BatchEntryIdsNotDistinct:
      return "BatchEntryIdsNotDistinct";
    case ErrorCode::InvalidBatchEntryId:
      return "InvalidBatchEntryId";
    case ErrorCode::BatchRequestTooLong:
      return "BatchRequestTooLong";
    case ErrorCode::MissingAuthenticationToken:
      return "MissingAuthenticationToken";
    case ErrorCode::IncompleteSignature:
      return "IncompleteSignature";
    case ErrorCode::InvalidClientTokenId:
      return "InvalidClientTokenId";
    case ErrorCode::AccessDenied:
      return "AccessDenied";
    case ErrorCode::SignatureDoesNotMatch:
      return "SignatureDoesNotMatch";
    case ErrorCode::RequestExpired:
      return "RequestExpired";
    case ErrorCode::ResourceNotFoundException:
      return "ResourceNotFoundException";
    case ErrorCode::UnsupportedOperation:
      return "UnsupportedOperation";
    case ErrorCode::InternalError:
      return "InternalError";
    case ErrorCode::ServiceUnavailable:
      return "ServiceUnavailable";
  }
  return "ErrorCode(?)";
}

struct SqsError {
  ErrorCode code;
  std::string message;
};

// A value or an SqsError: the result of every operation that can fail in an
// expected way. Exceptions are for bugs only.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(SqsError error) : v_(std::move(error)) {}  // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const SqsError& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, SqsError> v_;
};

struct Ok {};
using Status = Result<Ok>;

inline SqsError make_error(ErrorCode code, std::string message) { return SqsError{code, std::move(message)}; }

}  // namespace wharf
