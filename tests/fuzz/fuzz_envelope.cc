// Fuzz target: the bridge's DIP envelope parsing of Kafka message values.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "kafka_bridge/envelope.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dipgate::bridge::Envelope e;
  std::string why;
  bool ok = dipgate::bridge::ParseEnvelope(
      std::string_view(reinterpret_cast<const char*>(data), size), &e, &why);
  if (!ok && why.empty()) abort();  // a refusal always says why
  if (ok && e.interface_id.empty()) abort();
  return 0;
}
