#include "cli/cli.h"

#include <iostream>
#include <sstream>

#include "common/files.h"

namespace dipgate {

int Fail(const std::string& message) {
  std::cerr << "dipctl: " << message << "\n";
  return kExitError;
}

Result<std::string> ReadInput(const std::string& path) {
  if (path == "-") {
    std::stringstream ss;
    ss << std::cin.rdbuf();
    if (std::cin.bad()) return Error{Reason::kInternalError, "cannot read standard input"};
    return ss.str();
  }
  return ReadWholeFile(path);
}

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}


Result<UnixMillis> Now(const Args& args) {
  if (!args.Has("date")) return WallClockMillis();
  auto t = ParseSignatureDate(args.Get("date"));
  if (!t) {
    return Error{Reason::kBadDate, "--date '" + args.Get("date") + "' is not an ISO 8601 UTC time"};
  }
  return *t;
}

}  // namespace dipgate
