// Reading configuration files (certificates, keys, CRLs, passphrases).
#ifndef DIPGATE_COMMON_FILES_H_
#define DIPGATE_COMMON_FILES_H_

#include <string>

namespace dipgate {

// The whole file; false when it cannot be opened or read.
bool ReadWholeFile(const std::string& path, std::string* out);

// The file's first line without its line ending (passphrase and API key
// files); false when the file cannot be read.
bool ReadFirstLine(const std::string& path, std::string* out);

}  // namespace dipgate

#endif  // DIPGATE_COMMON_FILES_H_
