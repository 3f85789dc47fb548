// Fuzz target: schema validation of DIP message arrays against the spec's
// schemas (the directory in $DIPGATE_SCHEMAS, or the Bazel runfiles copy).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/dip/schema.h"

namespace {

const dipgate::dip::SchemaSet& Schemas() {
  static std::shared_ptr<const dipgate::dip::SchemaSet> set = [] {
    std::string dir;
    if (const char* env = getenv("DIPGATE_SCHEMAS")) {
      dir = env;
    } else if (const char* src = getenv("TEST_SRCDIR")) {
      dir = std::string(src) + "/dipgate/third_party/dip_api/schemas";
    }
    auto s = dipgate::dip::SchemaSet::Load(dir);
    if (!s) {
      fprintf(stderr, "fuzz_schema: %s (set DIPGATE_SCHEMAS)\n", s.error().detail.c_str());
      abort();
    }
    return *s;
  }();
  return *set;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dipgate::dip::ParseOptions o;
  o.allow_bare_payload = true;
  auto a = dipgate::dip::MessageArray::Parse(
      std::string_view(reinterpret_cast<const char*>(data), size), o);
  if (!a) return 0;
  for (const char* channel : {"", "IF-033"}) {
    dipgate::dip::Expectations e;
    e.channel = channel;
    e.environment_tags = dipgate::dip::EnvironmentTagsFor("nonprod");
    auto v = Schemas().Validate(*a, e);
    if (v.ok()) continue;
    // A rejection names why and where, inside the failing message.
    if (v.detail.empty() || v.message >= a->messages().size()) abort();
    if (v.pointer.rfind(a->messages()[v.message].pointer, 0) != 0) abort();
  }
  return 0;
}
