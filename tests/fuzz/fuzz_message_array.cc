// Fuzz target: DIP message arrays (ingress and webhook bodies) and
// StandardResponse answers, the first things dipgate reads of a DIP body.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/dip/message.h"
#include "common/dip/response.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  for (bool bare : {false, true}) {
    dipgate::dip::ParseOptions o;
    o.allow_bare_payload = bare;
    auto a = dipgate::dip::MessageArray::Parse(body, o);
    if (!a) {
      if (a.error().detail.empty()) abort();  // a refusal always says why
      continue;
    }
    if (a->messages().empty()) abort();
    for (const auto& m : a->messages()) {
      if (m.envelope.interface_id.empty() || m.payload == nullptr) abort();
    }
    // What the bridge sends after wrapping parses again as the same messages.
    auto again = dipgate::dip::MessageArray::Parse(a->ArrayJson());
    if (!again || again->messages().size() != a->messages().size()) abort();
    for (size_t i = 0; i < a->messages().size(); ++i) {
      if (again->messages()[i].envelope.interface_id != a->messages()[i].envelope.interface_id) {
        abort();
      }
    }
  }
  auto r = dipgate::dip::ParseStandardResponse(body);
  if (r) {
    auto again = dipgate::dip::ParseStandardResponse(dipgate::dip::ToJson(*r));
    if (!again || again->entries.size() != r->entries.size()) abort();
  } else if (r.error().detail.empty()) {
    abort();
  }
  return 0;
}
