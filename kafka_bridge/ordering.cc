#include "kafka_bridge/ordering.h"

namespace dipgate::bridge {

bool PartitionLedger::Add(int64_t offset, const std::string& key) {
  if (offset < next_) return false;
  next_ = offset + 1;
  open_.emplace(offset, Open{key, false});
  KeyQueue& queue = keys_[key];
  if (queue.claimed) {
    queue.waiting.push_back(offset);
  } else {
    queue.claimed = true;
    ready_.push_back(offset);
  }
  return true;
}

std::optional<int64_t> PartitionLedger::Take() {
  if (ready_.empty()) return std::nullopt;
  int64_t offset = ready_.front();
  ready_.pop_front();
  open_.at(offset).taken = true;
  ++in_flight_;
  return offset;
}

bool PartitionLedger::Finish(int64_t offset) {
  auto it = open_.find(offset);
  if (it == open_.end() || !it->second.taken) return false;
  auto queue = keys_.find(it->second.key);
  open_.erase(it);
  --in_flight_;
  if (queue->second.waiting.empty()) {
    keys_.erase(queue);
  } else {
    ready_.push_back(queue->second.waiting.front());
    queue->second.waiting.pop_front();
  }
  return true;
}

int64_t PartitionLedger::CommitOffset() const {
  return open_.empty() ? next_ : open_.begin()->first;
}

}  // namespace dipgate::bridge
