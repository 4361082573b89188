// The system attributes a message carries from its send (or its redrive),
// as typed fields, and the text they are stored as. Attributes that follow
// from a message's state (SentTimestamp, ApproximateReceiveCount, ...) are
// not here: the engine answers those as numbers.
#pragma once

#include <string>
#include <string_view>

namespace wharf::storage {

// Each field is one String system attribute; "" when the message has none
// (SQS never gives an empty value).
struct SystemAttributes {
  std::string aws_trace_header;              // AWSTraceHeader: as the sender gave it
  std::string dead_letter_queue_source_arn;  // DeadLetterQueueSourceArn: set when redriven to a DLQ
  std::string message_deduplication_id;      // MessageDeduplicationId: FIFO queues
  std::string message_group_id;              // MessageGroupId: FIFO queues, and fair standard queues

  bool empty() const {
    return aws_trace_header.empty() && dead_letter_queue_source_arn.empty() && message_deduplication_id.empty() &&
           message_group_id.empty();
  }
  bool operator==(const SystemAttributes&) const = default;
};

// Each field with its SQS name, in name order (the order answers and the
// stored text list them in).
struct SystemAttributeField {
  const char* name;
  std::string SystemAttributes::*member;
};
inline constexpr SystemAttributeField kSystemAttributeFields[] = {
    {"AWSTraceHeader", &SystemAttributes::aws_trace_header},
    {"DeadLetterQueueSourceArn", &SystemAttributes::dead_letter_queue_source_arn},
    {"MessageDeduplicationId", &SystemAttributes::message_deduplication_id},
    {"MessageGroupId", &SystemAttributes::message_group_id},
};

// The stored text: JSON in the SQS wire shape, names in order, e.g.
// {"MessageDeduplicationId":{"DataType":"String","StringValue":"d"},"MessageGroupId":{...}},
// and "" when every field is empty. Byte for byte what earlier releases
// stored (they wrote it with nlohmann's dump), so each release reads the
// other's records.
std::string encode_system_attributes(const SystemAttributes& attributes);

// Reads stored text back; "" or text of another shape gives empty fields.
// Receiving decodes every FIFO message's text, so the forms written by
// encode_system_attributes for printable ASCII values are read without a
// JSON library; anything else (escapes, non-ASCII) goes through one.
SystemAttributes decode_system_attributes(std::string_view stored);

}  // namespace wharf::storage
