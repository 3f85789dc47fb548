#include "common/wake_pipe.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <string>

namespace dipgate {

Result<std::unique_ptr<WakePipe>> WakePipe::Create() {
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
    return Error{Reason::kInternalError, std::string("cannot make a wake-up pipe: ") + strerror(errno)};
  }
  return std::unique_ptr<WakePipe>(new WakePipe(fds[0], fds[1]));
}

WakePipe::~WakePipe() {
  close(read_);
  close(write_);
}

void WakePipe::Notify() {
  if (pending_.exchange(true, std::memory_order_seq_cst)) return;  // a byte is on its way
  (void)!write(write_, "w", 1);  // a full pipe wakes the reader as well
}

void WakePipe::Clear() {
  // Drained first, cleared after. The other order loses wake-ups: a
  // Notify() between the clearing and the draining writes a byte that the
  // draining takes, leaving `pending_` set with nothing in the pipe, and
  // every later Notify() writing nothing. In this order a byte written
  // between the two only wakes the thread once more, and work queued by a
  // Notify() that found `pending_` set is taken after this returns.
  char drain[256];
  while (read(read_, drain, sizeof drain) > 0) {
  }
  pending_.store(false, std::memory_order_seq_cst);
}

}  // namespace dipgate
