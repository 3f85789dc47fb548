// A pipe that wakes a thread sleeping in poll(2): other threads Notify(),
// the sleeping thread watches read_fd() and calls Clear() when it wakes,
// before it looks at the work it was woken for. One byte in the pipe wakes
// it, so a Notify() while a wake-up is already pending writes nothing:
// under load, one system call per wake-up instead of one per piece of
// work. Others may write to write_fd() directly (librdkafka's queue
// events); their bytes wake the thread too and Clear() drains them.
#ifndef DIPGATE_COMMON_WAKE_PIPE_H_
#define DIPGATE_COMMON_WAKE_PIPE_H_

#include <atomic>
#include <memory>

#include "common/result.h"

namespace dipgate {

class WakePipe {
 public:
  // internal_error when the system has no pipe to give.
  static Result<std::unique_ptr<WakePipe>> Create();
  ~WakePipe();
  WakePipe(const WakePipe&) = delete;
  WakePipe& operator=(const WakePipe&) = delete;

  int read_fd() const { return read_; }
  int write_fd() const { return write_; }

  // From any thread, after the work is where the woken thread finds it.
  void Notify();
  // On the woken thread, before it takes the work: a Notify() from now on
  // writes again.
  void Clear();

 private:
  WakePipe(int read_fd, int write_fd) : read_(read_fd), write_(write_fd) {}
  int read_ = -1, write_ = -1;
  std::atomic<bool> pending_{false};
};

}  // namespace dipgate

#endif  // DIPGATE_COMMON_WAKE_PIPE_H_
