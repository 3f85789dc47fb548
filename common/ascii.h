// ASCII case-insensitive comparison, for header names, JSON field names the
// DIP does not case-check, channel ids and fingerprints; JSON whitespace.
#ifndef DIPGATE_COMMON_ASCII_H_
#define DIPGATE_COMMON_ASCII_H_

#include <string_view>

namespace dipgate {

inline bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// `s` without the JSON whitespace (space, tab, CR, LF) around it.
inline std::string_view TrimJsonSpace(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n";
  size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

}  // namespace dipgate

#endif  // DIPGATE_COMMON_ASCII_H_
