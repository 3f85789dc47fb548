// Fuzz target: base64 decoding (every header that carries base64).
// Property: whatever decodes re-encodes to something that decodes alike.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/base64.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto decoded = dipgate::Base64Decode(in);
  if (decoded) {
    auto again = dipgate::Base64Decode(dipgate::Base64Encode(*decoded));
    if (!again || *again != *decoded) abort();
  }
  return 0;
}
