// What dipctl's commands share: option parsing, exit codes, input files.
#ifndef DIPGATE_CLI_CLI_H_
#define DIPGATE_CLI_CLI_H_

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "common/canonical.h"
#include "common/result.h"

namespace dipgate {

// Exit codes: 0 success, 1 rejected (verify/inspect found a fault, the DIP
// refused), 2 usage error, 3 could not run (unreadable file, bad
// configuration, no answer).
constexpr int kExitOk = 0;
constexpr int kExitRejected = 1;
constexpr int kExitUsage = 2;
constexpr int kExitError = 3;

class Args {
 public:
  // Parses "--name value" and bare "--flag" options; `flags` lists the bare
  // ones.
  Status Parse(int argc, char** argv, const std::vector<std::string>& flags) {
    for (int i = 0; i < argc; ++i) {
      std::string a = argv[i];
      if (a.rfind("--", 0) != 0) return Error{Reason::kInternalError, "unexpected argument '" + a + "'"};
      std::string name = a.substr(2);
      if (std::find(flags.begin(), flags.end(), name) != flags.end()) {
        values_[name].push_back("1");
        continue;
      }
      if (i + 1 >= argc) return Error{Reason::kInternalError, "option --" + name + " needs a value"};
      values_[name].push_back(argv[++i]);
    }
    return OkStatus();
  }
  std::string Get(const std::string& name, const std::string& fallback = "") const {
    auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second.back();
  }
  std::vector<std::string> All(const std::string& name) const {
    auto it = values_.find(name);
    return it == values_.end() ? std::vector<std::string>{} : it->second;
  }
  bool Has(const std::string& name) const { return values_.count(name) != 0; }
  // Names not in `known`, for a clear error.
  std::string Unknown(const std::vector<std::string>& known) const {
    for (const auto& [name, v] : values_) {
      if (std::find(known.begin(), known.end(), name) == known.end()) return name;
    }
    return {};
  }

 private:
  std::map<std::string, std::vector<std::string>> values_;
};

// Prints the message and the usage text; returns kExitUsage.
int Usage(const std::string& message);
// Prints "dipctl: message"; returns kExitError.
int Fail(const std::string& message);
// A file's contents, or standard input for "-"; the error names the file
// and the reason.
Result<std::string> ReadInput(const std::string& path);
// `s` quoted for a POSIX shell.
std::string Quote(const std::string& s);
// --date or the wall clock.
Result<UnixMillis> Now(const Args& args);

// The DIP API commands (cli/dip_api_commands.cc).
int ValidateCommand(int argc, char** argv);
int SendCommand(int argc, char** argv);
int PubconfigCommand(int argc, char** argv);
int ReplayCommand(int argc, char** argv, bool requeue);
int StatusMessageCommand(int argc, char** argv);

}  // namespace dipgate

#endif  // DIPGATE_CLI_CLI_H_
