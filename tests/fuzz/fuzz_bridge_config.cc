// Fuzz target: the bridge's configuration parsing and validation.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "kafka_bridge/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parsed =
      dipgate::bridge::ParseConfig(std::string(reinterpret_cast<const char*>(data), size));
  if (!parsed && parsed.error().detail.rfind("config: ", 0) != 0) abort();  // errors name the key
  return 0;
}
