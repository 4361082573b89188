#include "sqs_wire.h"

#include <cstdint>
#include <functional>
#include <optional>

#include "common/hex.h"

namespace wharf::bench {

namespace {

constexpr std::string_view kJsonType = "application/x-amz-json-1.0";
constexpr std::string_view kFormType = "application/x-www-form-urlencoded; charset=utf-8";

std::string path_of_url(const std::string& url) {
  const auto scheme = url.find("://");
  const auto start = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  return start == std::string::npos ? "/" : url.substr(start);
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// ---- a minimal JSON reader: enough to walk SQS answers -----------------

class JsonScanner {
 public:
  explicit JsonScanner(std::string_view text) : s_(text) {}

  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t')) ++pos_;
  }
  bool eat(char c) {
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  char peek() {
    skip_ws();
    return pos_ < s_.size() ? s_[pos_] : '\0';
  }

  bool string(std::string& out) {
    out.clear();
    if (!eat('"')) return false;
    for (;;) {
      // A plain loop: string_view::find_first_of calls memchr once per
      // character, which was an eighth of the client's CPU.
      size_t run = pos_;
      while (run < s_.size() && s_[run] != '"' && s_[run] != '\\') ++run;
      if (run == s_.size()) return false;
      out.append(s_.substr(pos_, run - pos_));
      pos_ = run + 1;
      if (s_[run] == '"') return true;
      if (pos_ >= s_.size()) return false;
      const char e = s_[pos_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          uint32_t cp = 0;
          if (!hex4(cp)) return false;
          if (cp >= 0xD800 && cp < 0xDC00 && pos_ + 1 < s_.size() && s_[pos_] == '\\' && s_[pos_ + 1] == 'u') {
            pos_ += 2;
            uint32_t low = 0;
            if (!hex4(low)) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(out, cp);
          break;
        }
        default:
          return false;
      }
    }
  }

  // Skips any value (nested objects and arrays included).
  bool skip_value() {
    const char c = peek();
    if (c == '"') {
      std::string ignored;
      return string(ignored);
    }
    if (c == '{' || c == '[') {
      int depth = 0;
      while (pos_ < s_.size()) {
        const char d = s_[pos_];
        if (d == '"') {
          std::string ignored;
          if (!string(ignored)) return false;
          continue;
        }
        ++pos_;
        if (d == '{' || d == '[') ++depth;
        if (d == '}' || d == ']') {
          if (--depth == 0) return true;
        }
      }
      return false;
    }
    // number, true, false, null
    const size_t end = s_.find_first_of(",}] \n\r\t", pos_);
    if (end == pos_) return false;
    pos_ = end == std::string_view::npos ? s_.size() : end;
    return true;
  }

 private:
  bool hex4(uint32_t& cp) {
    if (pos_ + 4 > s_.size()) return false;
    cp = 0;
    for (int i = 0; i < 4; ++i) {
      const int digit = hex_digit_value_any_case(s_[pos_++]);
      if (digit < 0) return false;
      cp = cp << 4 | uint32_t(digit);
    }
    return true;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

// Walks {"Top": "v", "List": [{"K": "v", ...}, ...], ...}: calls visit(list,
// index, key, value) for each string member of the objects in top-level
// arrays, and visit("", 0, key, value) for top-level string members.
using JsonVisitor = std::function<void(std::string_view, size_t, std::string_view, std::string&)>;

bool walk_json(std::string_view text, const JsonVisitor& visit) {
  JsonScanner j(text);
  if (!j.eat('{')) return false;
  if (j.eat('}')) return true;
  std::string top, key, value;
  do {
    if (!j.string(top) || !j.eat(':')) return false;
    const char c = j.peek();
    if (c == '"') {
      if (!j.string(value)) return false;
      visit("", 0, top, value);
    } else if (c == '[') {
      j.eat('[');
      size_t index = 0;
      if (!j.eat(']')) {
        do {
          if (j.peek() == '{') {
            j.eat('{');
            if (!j.eat('}')) {
              do {
                if (!j.string(key) || !j.eat(':')) return false;
                if (j.peek() == '"') {
                  if (!j.string(value)) return false;
                  visit(top, index, key, value);
                } else if (!j.skip_value()) {
                  return false;
                }
              } while (j.eat(','));
              if (!j.eat('}')) return false;
            }
          } else if (!j.skip_value()) {
            return false;
          }
          ++index;
        } while (j.eat(','));
        if (!j.eat(']')) return false;
      }
    } else if (!j.skip_value()) {
      return false;
    }
  } while (j.eat(','));
  return j.eat('}');
}

// ---- a minimal XML reader: elements by name, entities decoded -----------

std::string xml_text(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  size_t pos = 0;
  for (;;) {
    const size_t amp = raw.find('&', pos);
    if (amp == std::string_view::npos) {
      out.append(raw.substr(pos));
      return out;
    }
    out.append(raw.substr(pos, amp - pos));
    const size_t semi = raw.find(';', amp);
    if (semi == std::string_view::npos) {
      out.append(raw.substr(amp));
      return out;
    }
    const std::string_view entity = raw.substr(amp + 1, semi - amp - 1);
    if (entity == "amp")
      out += '&';
    else if (entity == "lt")
      out += '<';
    else if (entity == "gt")
      out += '>';
    else if (entity == "quot")
      out += '"';
    else if (entity == "apos")
      out += '\'';
    else if (!entity.empty() && entity[0] == '#') {
      uint32_t cp = 0;
      const bool hex = entity.size() > 1 && (entity[1] == 'x' || entity[1] == 'X');
      for (char c : entity.substr(hex ? 2 : 1)) {
        cp = cp * (hex ? 16 : 10);
        const int digit = hex ? hex_digit_value_any_case(c) : (c >= '0' && c <= '9' ? c - '0' : -1);
        if (digit >= 0) cp += uint32_t(digit);
      }
      append_utf8(out, cp);
    } else {
      out.append(raw.substr(amp, semi - amp + 1));
    }
    pos = semi + 1;
  }
}

// The content of the first <name>...</name> in [from, to) of text.
std::optional<std::string_view> xml_element(std::string_view text, std::string_view name, size_t& from,
                                            size_t to = std::string_view::npos) {
  std::string open = "<";
  open.append(name);
  const size_t scope_end = std::min(to, text.size());
  for (size_t at = text.find(open, from); at != std::string_view::npos && at < scope_end;
       at = text.find(open, at + 1)) {
    const size_t after = at + open.size();
    if (after >= text.size()) return std::nullopt;
    if (text[after] == '/' && after + 1 < text.size() && text[after + 1] == '>') {  // <Name/>
      from = after + 2;
      return std::string_view{};
    }
    if (text[after] != '>' && text[after] != ' ') continue;  // a longer name, e.g. <MessageId> for <Message>
    const size_t content = text.find('>', after) + 1;
    std::string close = "</";
    close.append(name).append(">");
    const size_t end = text.find(close, content);
    if (end == std::string_view::npos || end > scope_end) return std::nullopt;
    from = end + close.size();
    return text.substr(content, end - content);
  }
  return std::nullopt;
}

std::string number(long long v) { return std::to_string(v); }

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"')
      out.append("\\\"");
    else if (c == '\\')
      out.append("\\\\");
    else if (c < 0x20) {
      out.append("\\u00");
      append_hex(out, &c, 1);
    } else {
      out += ch;
    }
  }
  out += '"';
}

void append_form_value(std::string& out, std::string_view s) {
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out += ch;
    } else {
      append_percent_escape(out, c);
    }
  }
}

SqsWire::SqsWire(Protocol protocol, std::string queue_url)
    : protocol_(protocol), queue_url_(std::move(queue_url)), queue_path_(path_of_url(queue_url_)) {}

HttpCall SqsWire::json_call(std::string_view action, std::string body) const {
  HttpCall call;
  call.path = "/";
  call.content_type = kJsonType;
  call.amz_target = "AmazonSQS.";
  call.amz_target.append(action);
  call.body = std::move(body);
  return call;
}

HttpCall SqsWire::query_call(std::string path, std::string body) const {
  HttpCall call;
  call.path = std::move(path);
  call.content_type = kFormType;
  call.body = std::move(body);
  call.body.append("&Version=2012-11-05");
  return call;
}

HttpCall SqsWire::create_queue(std::string_view name, bool fifo) const {
  if (protocol_ == Protocol::Json) {
    std::string b = "{\"QueueName\":";
    append_json_string(b, name);
    if (fifo) b.append(",\"Attributes\":{\"FifoQueue\":\"true\"}");
    b += '}';
    return json_call("CreateQueue", std::move(b));
  }
  std::string b = "Action=CreateQueue&QueueName=";
  append_form_value(b, name);
  if (fifo) b.append("&Attribute.1.Name=FifoQueue&Attribute.1.Value=true");
  return query_call("/", std::move(b));
}

HttpCall SqsWire::get_queue_url(std::string_view name) const {
  if (protocol_ == Protocol::Json) {
    std::string b = "{\"QueueName\":";
    append_json_string(b, name);
    b += '}';
    return json_call("GetQueueUrl", std::move(b));
  }
  std::string b = "Action=GetQueueUrl&QueueName=";
  append_form_value(b, name);
  return query_call("/", std::move(b));
}

HttpCall SqsWire::delete_queue() const {
  if (protocol_ == Protocol::Json) {
    std::string b = "{\"QueueUrl\":";
    append_json_string(b, queue_url_);
    b += '}';
    return json_call("DeleteQueue", std::move(b));
  }
  return query_call(queue_path_, "Action=DeleteQueue");
}

HttpCall SqsWire::send_message(const OutMessage& m) const {
  if (protocol_ == Protocol::Json) {
    std::string b;
    b.reserve(m.body.size() + queue_url_.size() + 128);
    b.append("{\"QueueUrl\":");
    append_json_string(b, queue_url_);
    b.append(",\"MessageBody\":");
    append_json_string(b, m.body);
    if (!m.group_id.empty()) {
      b.append(",\"MessageGroupId\":");
      append_json_string(b, m.group_id);
    }
    if (!m.dedup_id.empty()) {
      b.append(",\"MessageDeduplicationId\":");
      append_json_string(b, m.dedup_id);
    }
    b += '}';
    return json_call("SendMessage", std::move(b));
  }
  std::string b;
  b.reserve(m.body.size() * 3 / 2 + 128);
  b.append("Action=SendMessage&MessageBody=");
  append_form_value(b, m.body);
  if (!m.group_id.empty()) {
    b.append("&MessageGroupId=");
    append_form_value(b, m.group_id);
  }
  if (!m.dedup_id.empty()) {
    b.append("&MessageDeduplicationId=");
    append_form_value(b, m.dedup_id);
  }
  return query_call(queue_path_, std::move(b));
}

HttpCall SqsWire::send_message_batch(std::span<const OutMessage> messages) const {
  size_t bytes = 128 + queue_url_.size();
  for (const auto& m : messages) bytes += m.body.size() * 3 / 2 + 160;
  std::string b;
  b.reserve(bytes);
  if (protocol_ == Protocol::Json) {
    b.append("{\"QueueUrl\":");
    append_json_string(b, queue_url_);
    b.append(",\"Entries\":[");
    bool first = true;
    for (const auto& m : messages) {
      if (!first) b += ',';
      first = false;
      b.append("{\"Id\":");
      append_json_string(b, m.entry_id);
      b.append(",\"MessageBody\":");
      append_json_string(b, m.body);
      if (!m.group_id.empty()) {
        b.append(",\"MessageGroupId\":");
        append_json_string(b, m.group_id);
      }
      if (!m.dedup_id.empty()) {
        b.append(",\"MessageDeduplicationId\":");
        append_json_string(b, m.dedup_id);
      }
      b += '}';
    }
    b.append("]}");
    return json_call("SendMessageBatch", std::move(b));
  }
  b.append("Action=SendMessageBatch");
  size_t n = 0;
  for (const auto& m : messages) {
    const std::string prefix = "&SendMessageBatchRequestEntry." + number(static_cast<long long>(++n)) + ".";
    b.append(prefix).append("Id=");
    append_form_value(b, m.entry_id);
    b.append(prefix).append("MessageBody=");
    append_form_value(b, m.body);
    if (!m.group_id.empty()) {
      b.append(prefix).append("MessageGroupId=");
      append_form_value(b, m.group_id);
    }
    if (!m.dedup_id.empty()) {
      b.append(prefix).append("MessageDeduplicationId=");
      append_form_value(b, m.dedup_id);
    }
  }
  return query_call(queue_path_, std::move(b));
}

HttpCall SqsWire::receive_message(int max_messages, int wait_seconds, int visibility_timeout) const {
  if (protocol_ == Protocol::Json) {
    std::string b = "{\"QueueUrl\":";
    append_json_string(b, queue_url_);
    b.append(",\"MaxNumberOfMessages\":").append(number(max_messages));
    b.append(",\"WaitTimeSeconds\":").append(number(wait_seconds));
    b.append(",\"VisibilityTimeout\":").append(number(visibility_timeout));
    b += '}';
    return json_call("ReceiveMessage", std::move(b));
  }
  std::string b = "Action=ReceiveMessage&MaxNumberOfMessages=" + number(max_messages) +
                  "&WaitTimeSeconds=" + number(wait_seconds) + "&VisibilityTimeout=" + number(visibility_timeout);
  return query_call(queue_path_, std::move(b));
}

HttpCall SqsWire::delete_message_batch(std::span<const std::string> handles) const {
  std::string b;
  b.reserve(128 + queue_url_.size() + handles.size() * 400);
  if (protocol_ == Protocol::Json) {
    b.append("{\"QueueUrl\":");
    append_json_string(b, queue_url_);
    b.append(",\"Entries\":[");
    for (size_t i = 0; i < handles.size(); ++i) {
      if (i) b += ',';
      b.append("{\"Id\":\"").append(number(static_cast<long long>(i))).append("\",\"ReceiptHandle\":");
      append_json_string(b, handles[i]);
      b += '}';
    }
    b.append("]}");
    return json_call("DeleteMessageBatch", std::move(b));
  }
  b.append("Action=DeleteMessageBatch");
  for (size_t i = 0; i < handles.size(); ++i) {
    const std::string prefix = "&DeleteMessageBatchRequestEntry." + number(static_cast<long long>(i + 1)) + ".";
    b.append(prefix).append("Id=").append(number(static_cast<long long>(i)));
    b.append(prefix).append("ReceiptHandle=");
    append_form_value(b, handles[i]);
  }
  return query_call(queue_path_, std::move(b));
}

bool SqsWire::parse_queue_url(std::string_view body, std::string& url) const {
  if (protocol_ == Protocol::Json) {
    bool found = false;
    const bool ok = walk_json(body, [&](std::string_view list, size_t, std::string_view key, std::string& value) {
      if (list.empty() && key == "QueueUrl") {
        url = std::move(value);
        found = true;
      }
    });
    return ok && found;
  }
  size_t from = 0;
  auto v = xml_element(body, "QueueUrl", from);
  if (!v) return false;
  url = xml_text(*v);
  return true;
}

bool SqsWire::parse_receive(std::string_view body, std::vector<ReceivedMessage>& out) const {
  out.clear();
  if (protocol_ == Protocol::Json) {
    return walk_json(body, [&](std::string_view list, size_t index, std::string_view key, std::string& value) {
      if (list != "Messages") return;
      if (out.size() <= index) out.resize(index + 1);
      if (key == "Body")
        out[index].body = std::move(value);
      else if (key == "ReceiptHandle")
        out[index].receipt_handle = std::move(value);
    });
  }
  size_t from = 0;
  while (auto message = xml_element(body, "Message", from)) {
    ReceivedMessage m;
    size_t at = 0;
    if (auto v = xml_element(*message, "Body", at)) m.body = xml_text(*v);
    at = 0;
    if (auto v = xml_element(*message, "ReceiptHandle", at)) m.receipt_handle = xml_text(*v);
    out.push_back(std::move(m));
  }
  return body.find("ReceiveMessageResult") != std::string_view::npos;
}

bool SqsWire::parse_batch(std::string_view body, BatchOutcome& out) const {
  out = {};
  if (protocol_ == Protocol::Json) {
    std::string failed_code, failed_message;
    const bool ok = walk_json(body, [&](std::string_view list, size_t index, std::string_view key, std::string& value) {
      if (list == "Successful" && key == "Id") out.successful_ids.push_back(std::move(value));
      if (list == "Failed") {
        if (key == "Id") out.failed_ids.push_back(std::move(value));
        if (index == 0 && key == "Code") failed_code = value;
        if (index == 0 && key == "Message") failed_message = value;
      }
    });
    if (!out.failed_ids.empty()) out.first_failure = failed_code + ": " + failed_message;
    return ok;
  }
  for (std::string_view entry : {"SendMessageBatchResultEntry", "DeleteMessageBatchResultEntry"}) {
    size_t from = 0;
    while (auto e = xml_element(body, entry, from)) {
      size_t at = 0;
      if (auto id = xml_element(*e, "Id", at)) out.successful_ids.push_back(xml_text(*id));
    }
  }
  size_t from = 0;
  while (auto e = xml_element(body, "BatchResultErrorEntry", from)) {
    size_t at = 0;
    if (auto id = xml_element(*e, "Id", at)) out.failed_ids.push_back(xml_text(*id));
    if (out.first_failure.empty()) {
      at = 0;
      auto code = xml_element(*e, "Code", at);
      at = 0;
      auto message = xml_element(*e, "Message", at);
      out.first_failure = std::string(code.value_or("")) + ": " + xml_text(message.value_or(""));
    }
  }
  return body.find("BatchResult") != std::string_view::npos;
}

}  // namespace wharf::bench
