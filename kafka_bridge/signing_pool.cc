#include "kafka_bridge/signing_pool.h"

#include <map>

#include "common/canonical.h"

namespace dipgate::bridge {

SigningPool::SigningPool(int threads) {
  for (int i = 0; i < std::max(1, threads); ++i) threads_.emplace_back([this] { Work(); });
}

SigningPool::~SigningPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    jobs_.clear();
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void SigningPool::Sign(SignJob job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void SigningPool::Work() {
  // This thread's signers, by identity. An identity replaced by a reload
  // is let go once no job refers to it any more.
  std::map<std::shared_ptr<const SigningIdentity>, RequestSigner> signers;
  for (;;) {
    SignJob job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
      if (stop_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    auto it = signers.find(job.identity);
    if (it == signers.end()) {
      for (auto old = signers.begin(); old != signers.end();) {
        old = old->first.use_count() == 1 ? signers.erase(old) : std::next(old);
      }
      auto made = RequestSigner::Create(job.identity);
      if (!made) {
        job.then(made.error());
        continue;
      }
      it = signers.emplace(job.identity, std::move(*made)).first;
    }
    job.then(it->second.SignHashed("POST", job.url, std::move(job.content_hash), WallClockMillis()));
  }
}

}  // namespace dipgate::bridge
