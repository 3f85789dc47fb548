// Fuzz target: X-DIP-Signature-Date parsing.
// Property: a parsed date formats and parses back to the same instant.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/canonical.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto t = dipgate::ParseSignatureDate(in);
  if (t && *t >= 0 && *t < 253402300800000LL) {
    auto back = dipgate::ParseSignatureDate(dipgate::FormatSignatureDate(*t));
    if (!back || *back != *t) abort();
  }
  return 0;
}
