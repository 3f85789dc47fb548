// Base64 as DIP senders write it. Encoding is always standard and padded
// (RFC 4648 section 4). Decoding accepts the standard and URL-safe alphabets,
// with or without padding, and rejects anything else: characters outside
// the alphabet, misplaced padding, impossible lengths, non-zero trailing bits.
#ifndef DIPGATE_COMMON_BASE64_H_
#define DIPGATE_COMMON_BASE64_H_

#include <optional>
#include <string>
#include <string_view>

namespace dipgate {

std::string Base64Encode(std::string_view bytes);

// nullopt when `text` is not base64 by the rules above.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace dipgate

#endif  // DIPGATE_COMMON_BASE64_H_
