#include "common/canonical.h"

#include <chrono>

namespace dipgate {
namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }
char Upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; }

std::string Lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
// days_from_civil algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned DaysInMonth(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Reads exactly `n` digits at `pos`.
bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

}  // namespace

UnixMillis WallClockMillis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

namespace {

std::string Join(std::string_view verb, std::string_view destination, bool lower_destination,
                 std::string_view date, std::string_view content_hash) {
  std::string out;
  out.reserve(verb.size() + destination.size() + date.size() + content_hash.size() + 3);
  for (char c : verb) out.push_back(Upper(c));
  out.push_back(';');
  for (char c : destination) out.push_back(lower_destination ? Lower(c) : c);
  out.push_back(';');
  out.append(date);
  out.push_back(';');
  out.append(content_hash);
  return out;
}

}  // namespace

std::string SignatureString(std::string_view verb, std::string_view destination,
                            std::string_view date, std::string_view content_hash) {
  return Join(verb, destination, /*lower_destination=*/true, date, content_hash);
}

std::vector<std::string> CandidateSignatureStrings(std::string_view verb,
                                                   std::string_view destination,
                                                   std::string_view date,
                                                   std::string_view content_hash) {
  std::vector<std::string> out;
  out.push_back(SignatureString(verb, destination, date, content_hash));
  // Scheme and authority end at the first '/' after "://".
  size_t start = destination.find("://");
  size_t path = destination.find('/', start == std::string_view::npos ? 0 : start + 3);
  if (path != std::string_view::npos) {
    std::string preserved = Lowered(destination.substr(0, path));
    preserved.append(destination.substr(path));
    std::string alt = Join(verb, preserved, /*lower_destination=*/false, date, content_hash);
    if (alt != out.front()) out.push_back(std::move(alt));
  }
  return out;
}

std::string FormatSignatureDate(UnixMillis t) {
  int64_t days = t >= 0 ? t / 86400000 : -((-t + 86399999) / 86400000);
  int64_t ms = t - days * 86400000;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  // Written digit by digit: this runs once per signed message.
  std::string out = "0000-00-00T00:00:00.000Z";
  auto put = [&out](size_t pos, int64_t value, int width) {
    for (int i = width - 1; i >= 0; --i, value /= 10) out[pos + i] = static_cast<char>('0' + value % 10);
  };
  if (y < 0 || y > 9999) return "0000-01-01T00:00:00.000Z";
  put(0, y, 4);
  put(5, m, 2);
  put(8, d, 2);
  put(11, ms / 3600000, 2);
  put(14, ms / 60000 % 60, 2);
  put(17, ms / 1000 % 60, 2);
  put(20, ms % 1000, 3);
  return out;
}

std::optional<UnixMillis> ParseSignatureDate(std::string_view s) {
  int year, month, day, hour, minute, second;
  if (!Digits(s, 0, 4, &year) || s.size() < 19 || s[4] != '-' || !Digits(s, 5, 2, &month) ||
      s[7] != '-' || !Digits(s, 8, 2, &day) || (s[10] != 'T' && s[10] != 't') ||
      !Digits(s, 11, 2, &hour) || s[13] != ':' || !Digits(s, 14, 2, &minute) || s[16] != ':' ||
      !Digits(s, 17, 2, &second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || static_cast<unsigned>(day) > DaysInMonth(year, month) ||
      hour > 23 || minute > 59 || second > 59) {
    return std::nullopt;
  }
  size_t pos = 19;
  int millis = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 3) millis = millis * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0 || digits > 9) return std::nullopt;
    for (size_t i = digits; i < 3; ++i) millis *= 10;
  }
  int offset_minutes = 0;
  std::string_view zone = s.substr(pos);
  if (zone == "Z" || zone == "z" || zone == ":Z" || zone == ":z") {
    // UTC; ":Z" is the CoCo table's literal "SS.XXX:Z".
  } else if (!zone.empty() && (zone[0] == '+' || zone[0] == '-')) {
    int oh, om;
    bool colon = zone.size() == 6 && zone[3] == ':';
    if (!((colon || zone.size() == 5) && Digits(zone, 1, 2, &oh) &&
          Digits(zone, colon ? 4 : 3, 2, &om)) ||
        oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_minutes = (oh * 60 + om) * (zone[0] == '-' ? -1 : 1);
  } else {
    return std::nullopt;  // no zone: a local time cannot be checked
  }
  int64_t days = DaysFromCivil(year, month, day);
  int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
  return secs * 1000 + millis;
}

}  // namespace dipgate
