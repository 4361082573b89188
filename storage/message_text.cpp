#include "storage/message_text.h"

#include "common/text.h"

namespace wharf::storage {

bool is_valid_message_text(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    // Printable ASCII, most of any body, needs no decoding.
    i += plain_ascii_prefix(text.substr(i), false);
    if (i == text.size()) break;
    auto cp = next_code_point(text, i);
    if (!cp || !is_xml_char(*cp)) return false;
  }
  return true;
}

}  // namespace wharf::storage
