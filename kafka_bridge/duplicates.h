// Recognises webhooks the DIP sends again (a retry after a lost 201, a
// timeout on our side): the transactionIDs already in Kafka, remembered for
// a window, bounded in number (the oldest forgotten first). Thread-safe.
#ifndef DIPGATE_KAFKA_BRIDGE_DUPLICATES_H_
#define DIPGATE_KAFKA_BRIDGE_DUPLICATES_H_

#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace dipgate::bridge {

class DuplicateWindow {
 public:
  DuplicateWindow(int64_t window_ms, size_t capacity) : window_ms_(window_ms), capacity_(capacity) {}

  // True when `id` was recorded within the window before `now_ms`.
  bool Seen(std::string_view id, int64_t now_ms);
  // Records `id` as in Kafka at `now_ms`.
  void Record(std::string_view id, int64_t now_ms);
  size_t size() const;

 private:
  void Expire(int64_t now_ms);  // with mu_ held

  struct Entry {
    std::string id;
    int64_t at_ms;
  };
  const int64_t window_ms_;
  const size_t capacity_;
  mutable std::mutex mu_;
  std::list<Entry> order_;  // oldest first
  std::unordered_map<std::string_view, std::list<Entry>::iterator> by_id_;
};

}  // namespace dipgate::bridge

#endif  // DIPGATE_KAFKA_BRIDGE_DUPLICATES_H_
