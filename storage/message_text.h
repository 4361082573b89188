// The characters SQS accepts in message bodies and attribute values.
#pragma once

#include <string_view>

namespace wharf::storage {

// Valid UTF-8 (no overlong forms, surrogates or truncation) of only #x9, #xA,
// #xD, #x20-#xD7FF, #xE000-#xFFFD and #x10000-#x10FFFF.
bool is_valid_message_text(std::string_view text);

}  // namespace wharf::storage
