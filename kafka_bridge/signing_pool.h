// Signs on a few threads (one per core by default), so that the RSA
// signatures of many requests in flight use every core while the bridge's
// coordinator and its HTTP loop stay free to move messages. Each thread
// keeps its own RequestSigner per identity (signers are not thread-safe).
#ifndef DIPGATE_KAFKA_BRIDGE_SIGNING_POOL_H_
#define DIPGATE_KAFKA_BRIDGE_SIGNING_POOL_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/signer.h"

namespace dipgate::bridge {

struct SignJob {
  std::shared_ptr<const SigningIdentity> identity;
  std::string url;           // the destination signed
  std::string content_hash;  // X-DIP-Content-Hash of the body
  // Runs on the pool's thread with the headers or why there are none; must
  // not block.
  std::function<void(Result<DipHeaders>)> then;
};

class SigningPool {
 public:
  explicit SigningPool(int threads);
  // Jobs not started are dropped (their `then` never runs).
  ~SigningPool();
  SigningPool(const SigningPool&) = delete;
  SigningPool& operator=(const SigningPool&) = delete;

  void Sign(SignJob job);
  int threads() const { return static_cast<int>(threads_.size()); }

 private:
  void Work();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<SignJob> jobs_;
  bool stop_ = false;
  std::vector<std::thread> threads_;  // last: they use the members above
};

}  // namespace dipgate::bridge

#endif  // DIPGATE_KAFKA_BRIDGE_SIGNING_POOL_H_
