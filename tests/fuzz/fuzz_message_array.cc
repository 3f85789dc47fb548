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
      // Each payload is a slice of the body that parses on its own as the
      // same message.
      std::string_view slice = a->PayloadText(m.index);
      if (slice.data() < a->text().data() ||
          slice.data() + slice.size() > a->text().data() + a->text().size()) {
        abort();
      }
      dipgate::dip::ParseOptions alone;
      alone.allow_bare_payload = true;
      auto p = dipgate::dip::MessageArray::Parse(slice, alone);
      if (!p || p->form() != dipgate::dip::BodyForm::kPayload ||
          p->PayloadText(0) != slice ||
          p->messages()[0].envelope.interface_id != m.envelope.interface_id) {
        abort();
      }
    }
    // What the bridge sends after wrapping parses again as the same
    // messages, with the same payload bytes.
    std::string wire = a->ArrayJson();
    auto again = dipgate::dip::MessageArray::Parse(wire);
    if (!again || again->messages().size() != a->messages().size()) abort();
    if (!bare && wire != body) abort();  // an array goes on as it came
    for (size_t i = 0; i < a->messages().size(); ++i) {
      if (again->messages()[i].envelope.interface_id != a->messages()[i].envelope.interface_id ||
          again->PayloadText(i) != a->PayloadText(i)) {
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
