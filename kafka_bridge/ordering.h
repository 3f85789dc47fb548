// The outbound bridge's bookkeeping for one partition, without Kafka: which
// fetched messages may go to the DIP now, and which offset may be committed.
//
// Order is per key, not per partition (the Confluent Parallel Consumer's
// key-ordering mode): messages with different keys are independent and may
// be in flight together; messages with the same key form a queue, and the
// next one is handed out only when the one before it is done (delivered or
// dead-lettered). The committed offset is the end of the contiguous done
// prefix: every fetched message below it is done, whatever finished later
// above a gap is delivered again after a restart (and the DIP's MSG1006
// "already received" makes that redelivery harmless).
//
// One thread (the bridge's coordinator) owns a ledger; nothing here locks.
#ifndef DIPGATE_KAFKA_BRIDGE_ORDERING_H_
#define DIPGATE_KAFKA_BRIDGE_ORDERING_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>

namespace dipgate::bridge {

class PartitionLedger {
 public:
  // A fetched message. Offsets increase from call to call (Kafka may skip
  // some: compaction, transaction markers); a repeated or lower offset is
  // ignored and false returned.
  bool Add(int64_t offset, const std::string& key);

  // The oldest message whose key has nothing in flight, now in flight; none
  // when every fetched message waits behind its key or is in flight.
  std::optional<int64_t> Take();

  // A message handed out by Take() is done. Its key's next message becomes
  // ready. False (and nothing changes) for an offset not in flight.
  bool Finish(int64_t offset);

  // The offset to commit: every fetched message below it is done. -1 before
  // the first Add().
  int64_t CommitOffset() const;

  size_t buffered() const { return open_.size(); }  // fetched, not done (in flight too)
  size_t in_flight() const { return in_flight_; }
  size_t ready() const { return ready_.size(); }

 private:
  struct Open {
    std::string key;
    bool taken = false;
  };
  // Per key: a message of it is ready or in flight (`claimed`), and the ones
  // that wait behind it, oldest first. Erased when nothing of the key is left.
  struct KeyQueue {
    bool claimed = false;
    std::deque<int64_t> waiting;
  };

  std::map<int64_t, Open> open_;                       // not done, by offset
  std::unordered_map<std::string, KeyQueue> keys_;
  std::deque<int64_t> ready_;                          // may go now, oldest first
  size_t in_flight_ = 0;
  int64_t next_ = -1;                                  // last added offset + 1
};

}  // namespace dipgate::bridge

#endif  // DIPGATE_KAFKA_BRIDGE_ORDERING_H_
