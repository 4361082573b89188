#include "protocol/errors.h"

namespace wharf::protocol {

const ErrorWireInfo& wire_info(ErrorCode code) {
  // JSON names and query codes as botocore's SQS models (JSON-era and
  // query-era) declare them; codes AWS does not model use its service names.
  static const ErrorWireInfo kInvalidAction{"com.amazon.coral.service#UnknownOperationException", "InvalidAction", 400,
                                            true};
  static const ErrorWireInfo kMissingAction{"com.amazonaws.sqs#MissingAction", "MissingAction", 400, true};
  static const ErrorWireInfo kMissingParameter{"com.amazonaws.sqs#MissingRequiredParameterException",
                                               "MissingParameter", 400, true};
  static const ErrorWireInfo kInvalidParameterValue{"com.amazonaws.sqs#InvalidParameterValueException",
                                                    "InvalidParameterValue", 400, true};
  static const ErrorWireInfo kMalformedInput{"com.amazon.coral.service#SerializationException", "MalformedInput", 400,
                                             true};
  static const ErrorWireInfo kUnsupportedMediaType{"com.amazon.coral.service#UnsupportedMediaTypeException",
                                                   "InvalidParameterValue", 415, true};
  static const ErrorWireInfo kRequestTooLarge{"com.amazonaws.sqs#RequestEntityTooLarge", "RequestEntityTooLarge", 413,
                                              true};
  static const ErrorWireInfo kQueueDoesNotExist{"com.amazonaws.sqs#QueueDoesNotExist",
                                                "AWS.SimpleQueueService.NonExistentQueue", 400, true};
  static const ErrorWireInfo kQueueNameExists{"com.amazonaws.sqs#QueueNameExists", "QueueAlreadyExists", 400, true};
  static const ErrorWireInfo kQueueDeletedRecently{"com.amazonaws.sqs#QueueDeletedRecently",
                                                   "AWS.SimpleQueueService.QueueDeletedRecently", 400, true};
  static const ErrorWireInfo kInvalidAttributeName{"com.amazonaws.sqs#InvalidAttributeName", "InvalidAttributeName",
                                                   400, true};
  static const ErrorWireInfo kInvalidAttributeValue{"com.amazonaws.sqs#InvalidAttributeValue", "InvalidAttributeValue",
                                                    400, true};
  static const ErrorWireInfo kPurgeQueueInProgress{"com.amazonaws.sqs#PurgeQueueInProgress",
                                                   "AWS.SimpleQueueService.PurgeQueueInProgress", 403, true};
  static const ErrorWireInfo kInvalidMessageContents{"com.amazonaws.sqs#InvalidMessageContents",
                                                     "InvalidMessageContents", 400, true};
  // ReceiptHandleIsInvalid and ResourceNotFoundException are 404 in AWS's
  // own model (the JavaScript SDK v3 carries it; botocore's copy omits it).
  static const ErrorWireInfo kReceiptHandleIsInvalid{"com.amazonaws.sqs#ReceiptHandleIsInvalid",
                                                     "ReceiptHandleIsInvalid", 404, true};
  static const ErrorWireInfo kResourceNotFound{"com.amazonaws.sqs#ResourceNotFoundException",
                                               "ResourceNotFoundException", 404, true};
  static const ErrorWireInfo kMessageNotInflight{"com.amazonaws.sqs#MessageNotInflight",
                                                 "AWS.SimpleQueueService.MessageNotInflight", 400, true};
  static const ErrorWireInfo kOverLimit{"com.amazonaws.sqs#OverLimit", "OverLimit", 403, true};
  static const ErrorWireInfo kEmptyBatchRequest{"com.amazonaws.sqs#EmptyBatchRequest",
                                                "AWS.SimpleQueueService.EmptyBatchRequest", 400, true};
  static const ErrorWireInfo kTooManyEntries{"com.amazonaws.sqs#TooManyEntriesInBatchRequest",
                                             "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400, true};
  static const ErrorWireInfo kIdsNotDistinct{"com.amazonaws.sqs#BatchEntryIdsNotDistinct",
                                             "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400, true};
  static const ErrorWireInfo kInvalidBatchEntryId{"com.amazonaws.sqs#InvalidBatchEntryId",
                                                  "AWS.SimpleQueueService.InvalidBatchEntryId", 400, true};
  static const ErrorWireInfo kBatchTooLong{"com.amazonaws.sqs#BatchRequestTooLong",
                                           "AWS.SimpleQueueService.BatchRequestTooLong", 400, true};
  // Authentication: the coral names JSON services use, the query codes.
  static const ErrorWireInfo kMissingToken{"com.amazon.coral.service#MissingAuthenticationTokenException",
                                           "MissingAuthenticationToken", 403, true};
  static const ErrorWireInfo kIncompleteSignature{"com.amazon.coral.service#IncompleteSignatureException",
                                                  "IncompleteSignature", 400, true};
  static const ErrorWireInfo kInvalidClientTokenId{"com.amazon.coral.service#UnrecognizedClientException",
                                                   "InvalidClientTokenId", 403, true};
  static const ErrorWireInfo kSignatureDoesNotMatch{"com.amazon.coral.service#InvalidSignatureException",
                                                    "SignatureDoesNotMatch", 403, true};
  static const ErrorWireInfo kRequestExpired{"com.amazon.coral.service#InvalidSignatureException", "RequestExpired",
                                             400, true};
  static const ErrorWireInfo kAccessDenied{"com.amazon.coral.service#AccessDeniedException", "AccessDenied", 403, true};
  static const ErrorWireInfo kUnsupportedOperation{"com.amazonaws.sqs#UnsupportedOperation",
                                                   "AWS.SimpleQueueService.UnsupportedOperation", 400, true};
  static const ErrorWireInfo kInternalError{"com.amazonaws.sqs#InternalError", "InternalError", 500, false};
  static const ErrorWireInfo kServiceUnavailable{"com.amazonaws.sqs#ServiceUnavailable", "ServiceUnavailable", 503,
                                                 false};

  switch (code) {
    case ErrorCode::InvalidAction:
      return kInvalidAction;
    case ErrorCode::MissingAction:
      return kMissingAction;
    case ErrorCode::MissingParameter:
      return kMissingParameter;
    case ErrorCode::InvalidParameterValue:
      return kInvalidParameterValue;
    case ErrorCode::MalformedInput:
      return kMalformedInput;
    case ErrorCode::UnsupportedMediaType:
      return kUnsupportedMediaType;
    case ErrorCode::RequestTooLarge:
      return kRequestTooLarge;
    case ErrorCode::QueueDoesNotExist:
      return kQueueDoesNotExist;
    case ErrorCode::QueueNameExists:
      return kQueueNameExists;
    case ErrorCode::QueueDeletedRecently:
      return kQueueDeletedRecently;
    case ErrorCode::InvalidAttributeName:
      return kInvalidAttributeName;
    case ErrorCode::InvalidAttributeValue:
      return kInvalidAttributeValue;
    case ErrorCode::PurgeQueueInProgress:
      return kPurgeQueueInProgress;
    case ErrorCode::InvalidMessageContents:
      return kInvalidMessageContents;
    case ErrorCode::ReceiptHandleIsInvalid:
      return kReceiptHandleIsInvalid;
    case ErrorCode::MessageNotInflight:
      return kMessageNotInflight;
    case ErrorCode::OverLimit:
      return kOverLimit;
    case ErrorCode::EmptyBatchRequest:
      return kEmptyBatchRequest;
    case ErrorCode::TooManyEntriesInBatchRequest:
      return kTooManyEntries;
    case ErrorCode::BatchEntryIdsNotDistinct:
      return kIdsNotDistinct;
    case ErrorCode::InvalidBatchEntryId:
      return kInvalidBatchEntryId;
    case ErrorCode::BatchRequestTooLong:
      return kBatchTooLong;
    case ErrorCode::ResourceNotFoundException:
      return kResourceNotFound;
    case ErrorCode::MissingAuthenticationToken:
      return kMissingToken;
    case ErrorCode::IncompleteSignature:
      return kIncompleteSignature;
    case ErrorCode::InvalidClientTokenId:
      return kInvalidClientTokenId;
    case ErrorCode::SignatureDoesNotMatch:
      return kSignatureDoesNotMatch;
    case ErrorCode::RequestExpired:
      return kRequestExpired;
    case ErrorCode::AccessDenied:
      return kAccessDenied;
    case ErrorCode::UnsupportedOperation:
      return kUnsupportedOperation;
    case ErrorCode::InternalError:
      return kInternalError;
    case ErrorCode::ServiceUnavailable:
      return kServiceUnavailable;
  }
  return kInternalError;
}

}  // namespace wharf::protocol
