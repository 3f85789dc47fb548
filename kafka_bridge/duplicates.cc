#include "kafka_bridge/duplicates.h"

namespace dipgate::bridge {

void DuplicateWindow::Expire(int64_t now_ms) {
  while (!order_.empty() &&
         (order_.front().at_ms + window_ms_ <= now_ms || order_.size() > capacity_)) {
    by_id_.erase(order_.front().id);
    order_.pop_front();
  }
}

bool DuplicateWindow::Seen(std::string_view id, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  Expire(now_ms);
  return by_id_.count(id) != 0;
}

void DuplicateWindow::Record(std::string_view id, int64_t now_ms) {
  if (id.empty() || window_ms_ <= 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_id_.find(id);
  if (it != by_id_.end()) {  // seen again: it counts from now
    order_.splice(order_.end(), order_, it->second);
    it->second->at_ms = now_ms;
  } else {
    order_.push_back(Entry{std::string(id), now_ms});
    auto last = std::prev(order_.end());
    by_id_.emplace(last->id, last);
  }
  Expire(now_ms);
}

size_t DuplicateWindow::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return order_.size();
}

}  // namespace dipgate::bridge
