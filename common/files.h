// Reading configuration files (certificates, keys, CRLs, passphrases).
#ifndef DIPGATE_COMMON_FILES_H_
#define DIPGATE_COMMON_FILES_H_

#include <string>

#include "common/result.h"

namespace dipgate {

// The whole file. On failure kInternalError, the detail naming the file and
// the system's reason: "cannot read /etc/dip/ca.pem: No such file or
// directory".
Result<std::string> ReadWholeFile(const std::string& path);

// The file's first line without its line ending (passphrase and API key
// files); fails as ReadWholeFile does.
Result<std::string> ReadFirstLine(const std::string& path);

}  // namespace dipgate

#endif  // DIPGATE_COMMON_FILES_H_
