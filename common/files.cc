#include "common/files.h"

#include <fstream>
#include <sstream>

namespace dipgate {

bool ReadWholeFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return false;
  *out = ss.str();
  return true;
}

bool ReadFirstLine(const std::string& path, std::string* out) {
  if (!ReadWholeFile(path, out)) return false;
  size_t eol = out->find_first_of("\r\n");
  if (eol != std::string::npos) out->resize(eol);
  return true;
}

}  // namespace dipgate
