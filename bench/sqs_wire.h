// The few SQS actions wharf-bench uses, in both wire protocols: requests
// encoded by hand, answers scanned for the fields the bench needs (no DOM).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "http_connection.h"
#include "options.h"

namespace wharf::bench {

struct OutMessage {
  std::string entry_id;  // batch entry id
  std::string body;
  std::string group_id;  // FIFO only
  std::string dedup_id;  // FIFO only
};

struct ReceivedMessage {
  std::string body;
  std::string receipt_handle;
};

struct BatchOutcome {
  std::vector<std::string> successful_ids;
  std::vector<std::string> failed_ids;
  std::string first_failure;  // code and message of the first failed entry
};

class SqsWire {
 public:
  SqsWire(Protocol protocol, std::string queue_url);

  Protocol protocol() const { return protocol_; }
  const std::string& queue_url() const { return queue_url_; }

  HttpCall create_queue(std::string_view name, bool fifo) const;
  HttpCall get_queue_url(std::string_view name) const;
  HttpCall delete_queue() const;
  HttpCall send_message(const OutMessage& message) const;
  HttpCall send_message_batch(std::span<const OutMessage> messages) const;
  HttpCall receive_message(int max_messages, int wait_seconds, int visibility_timeout) const;
  HttpCall delete_message_batch(std::span<const std::string> receipt_handles) const;

  // Decoders of 2xx answers. They return false when the answer cannot be read.
  bool parse_queue_url(std::string_view body, std::string& url) const;
  bool parse_receive(std::string_view body, std::vector<ReceivedMessage>& out) const;
  bool parse_batch(std::string_view body, BatchOutcome& out) const;

 private:
  HttpCall json_call(std::string_view action, std::string body) const;
  HttpCall query_call(std::string path, std::string body) const;

  Protocol protocol_;
  std::string queue_url_;
  std::string queue_path_;  // path of the queue URL, where query requests go
};

// Exposed for the self-test of the scanners.
void append_json_string(std::string& out, std::string_view s);
void append_form_value(std::string& out, std::string_view s);

}  // namespace wharf::bench
