#include "kafka_bridge/log.h"

#include <cstdio>

#include "common/canonical.h"
#include "common/json_text.h"

namespace dipgate::bridge {

void LogEvent(const char* level, const char* event, const std::string& fields) {
  std::string line = "{\"ts\":\"" + FormatSignatureDate(WallClockMillis()) + "\",\"level\":\"" +
                     level + "\",\"event\":\"" + event + "\"" +
                     (fields.empty() ? "" : "," + fields) + "}\n";
  fwrite(line.data(), 1, line.size(), stderr);
}

std::string Field(const char* name, const std::string& value) {
  return std::string("\"") + name + "\":" + JsonQuote(value);
}

std::string Field(const char* name, int64_t value) {
  return std::string("\"") + name + "\":" + std::to_string(value);
}

}  // namespace dipgate::bridge
