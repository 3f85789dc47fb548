#include "common/files.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

namespace dipgate {
namespace {

Error CannotRead(const std::string& path, int err) {
  return Error{Reason::kInternalError, "cannot read " + path + ": " + strerror(err)};
}

}  // namespace

Result<std::string> ReadWholeFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return CannotRead(path, errno);
  std::string data;
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0) {
      data.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      int err = errno;
      close(fd);
      return CannotRead(path, err);  // e.g. EISDIR for a directory
    }
  }
  close(fd);
  return data;
}

Result<std::string> ReadFirstLine(const std::string& path) {
  auto data = ReadWholeFile(path);
  if (!data) return data;
  size_t eol = data->find_first_of("\r\n");
  if (eol != std::string::npos) data->resize(eol);
  return data;
}

}  // namespace dipgate
