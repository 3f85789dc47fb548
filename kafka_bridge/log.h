// The bridge's log: one JSON line per event on stderr (the journal under
// systemd), {"ts":"...","level":"info","event":"...",...}.
#ifndef DIPGATE_KAFKA_BRIDGE_LOG_H_
#define DIPGATE_KAFKA_BRIDGE_LOG_H_

#include <cstdint>
#include <string>

namespace dipgate::bridge {

void LogEvent(const char* level, const char* event, const std::string& fields_json = "");
// One member of an event's fields: "name":value (strings JSON-quoted).
std::string Field(const char* name, const std::string& value);
std::string Field(const char* name, int64_t value);

}  // namespace dipgate::bridge

#endif  // DIPGATE_KAFKA_BRIDGE_LOG_H_
