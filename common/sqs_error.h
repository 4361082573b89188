// The SQS error vocabulary shared by the engine (which decides) and the
// protocol codecs (which encode). Header-only: no dependencies either way.
#pragma once

#include <string>
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
  // Message move tasks
  ResourceNotFoundException,
  // Everything else
  UnsupportedOperation,
  InternalError,
  ServiceUnavailable,
};

struct SqsError {
  ErrorCode code;
  std::string message;
};

// A value or an SqsError: the result of every operation that can fail in an
// expected way. Exceptions are for bugs only.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
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

inline SqsError make_error(ErrorCode code, std::string message) {
  return SqsError{code, std::move(message)};
}

}  // namespace wharf
