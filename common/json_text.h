// Quoting text for the JSON the tools write (dipctl --format json, the
// bridge's log lines).
#ifndef DIPGATE_COMMON_JSON_TEXT_H_
#define DIPGATE_COMMON_JSON_TEXT_H_

#include <string>
#include <string_view>

namespace dipgate {

// `s` as a JSON string literal, quotes included: '"' and '\\' escaped,
// control characters as \u00XX.
std::string JsonQuote(std::string_view s);

}  // namespace dipgate

#endif  // DIPGATE_COMMON_JSON_TEXT_H_
