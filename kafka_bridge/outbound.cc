#include "kafka_bridge/outbound.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include "common/certificate.h"
#include "common/digest.h"
#include "common/headers.h"
#include "common/json_text.h"
#include "common/wake_pipe.h"
#include "kafka_bridge/delivery.h"
#include "kafka_bridge/identities.h"
#include "kafka_bridge/log.h"
#include "kafka_bridge/ordering.h"
#include "kafka_bridge/producer.h"
#include "kafka_bridge/retry.h"
#include "kafka_bridge/signing_pool.h"
#include "transport/http_loop.h"

namespace dipgate::bridge {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kExcerpt = 512;            // of an answer, in logs and dead-letter headers
constexpr int kMaxDrain = 5000;             // records taken from Kafka per loop turn
constexpr int64_t kCommitEveryMs = 200;
constexpr int64_t kIdleWaitMs = 100;

int64_t MillisUntil(Clock::time_point t) {
  return std::max<int64_t>(
      0, std::chrono::duration_cast<std::chrono::milliseconds>(t - Clock::now()).count());
}

// Work handed to the coordinator by the signing pool and the HTTP loop;
// the wake-up pipe tells it there is some.
class Inbox {
 public:
  explicit Inbox(WakePipe* wake) : wake_(wake) {}
  void Push(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      tasks_.push_back(std::move(task));
    }
    wake_->Notify();
  }
  void RunAll() {
    std::vector<std::function<void()>> now;
    {
      std::lock_guard<std::mutex> lock(mu_);
      now.swap(tasks_);
    }
    for (auto& task : now) task();
  }

 private:
  WakePipe* wake_;
  std::mutex mu_;
  std::vector<std::function<void()>> tasks_;
};

// A record from its fetch until it is done.
struct FetchedRecord {
  std::unique_ptr<RdKafka::Message> message;
  Clock::time_point fetched;
  const Route* route = nullptr;
  Prepared prepared;
  int unacknowledged = 0;  // its receipts or dead letter not yet stored by Kafka
};

struct PartitionState {
  std::string topic;
  int32_t partition = 0;
  PartitionLedger ledger;
  std::map<int64_t, FetchedRecord> records;  // taken or waiting, by offset
  int busy = 0;             // records in a request now, or with writes not yet acknowledged
  bool paused = false;      // for back-pressure
  bool leaving = false;     // being revoked: no new requests for its records
  bool revoked = false;     // gone: answers for its records are dropped, nothing committed
  int64_t committed = -1;   // the offset last committed
};
using Partition = std::shared_ptr<PartitionState>;

struct RecordRef {
  Partition part;
  int64_t offset = 0;
  FetchedRecord& record() const { return part->records.at(offset); }
  // Null once the record is done or abandoned.
  FetchedRecord* find() const {
    auto it = part->records.find(offset);
    return it == part->records.end() ? nullptr : &it->second;
  }
};

// One POST, or a batch filling up to become one: records for one URL
// (channel) signed by one identity.
struct Post {
  uint64_t id = 0;
  std::string url, channel;
  std::shared_ptr<const SigningIdentity> identity;
  std::vector<RecordRef> records;
  std::vector<const PreparedRecord*> prepared;  // the records' messages, same order
  size_t bytes = 2;                             // of the body to be
  std::string body, content_hash;               // made at the first send
  int attempt = 0;                              // sends so far
  bool secondary_key = false;                   // the primary API key was refused
  Clock::time_point opened;
};

// What a dead letter says about its record, beside the record itself.
struct DeadLetterInfo {
  DeadLetterReason reason;
  std::string detail;
  long http_status = 0;
  std::string code, message, help;  // the DIP's StandardResponse entry, if any
  std::string excerpt;              // of the DIP's answer
  std::string pointer;              // JSON pointer (schema refusals)
  int attempts = 0;
};

// A record's Kafka key ("" when it has none).
std::string KafkaKey(const RdKafka::Message& m) {
  return m.key_len() > 0 ? std::string(static_cast<const char*>(m.key_pointer()), m.key_len())
                         : std::string();
}

std::string Where(const Post& post) {
  return Field("url", post.url) + "," + Field("records", static_cast<int64_t>(post.records.size())) +
         "," + Field("attempt", static_cast<int64_t>(post.attempt));
}

}  // namespace

struct Outbound::Impl : public RdKafka::RebalanceCb {
  Config config;
  Metrics* metrics = nullptr;
  std::atomic<bool>* stop = nullptr;
  std::map<std::string, const Route*> routes;  // by topic, into config
  std::shared_ptr<const Identities> identities;
  uint64_t generation = 1;
  PrepareOptions prepare;
  // Wakes the coordinator's poll: the inbox, Kafka's consumer queue and
  // producer write to it.
  std::unique_ptr<WakePipe> wake;

  // Owned objects, in the order they are made; they go in reverse, and
  // ~Impl stops the threads first (signing, then HTTP: a signing job hands
  // its request to the HTTP loop, whose answers go to the inbox).
  std::unique_ptr<Inbox> inbox;
  std::unique_ptr<KafkaProducer> producer;  // dead letters and receipts
  std::unique_ptr<RdKafka::KafkaConsumer> consumer;
  std::unique_ptr<SigningPool> signing;
  std::unique_ptr<transport::HttpLoop> http;

  // Coordinator state.
  std::map<std::pair<std::string, int32_t>, Partition> parts;
  std::unordered_map<uint64_t, std::unique_ptr<Post>> posts;  // sent, waiting, or filling
  std::map<std::string, uint64_t> filling;                     // batch key -> post id
  std::map<std::string, Clock::time_point> holds;              // channel -> no POST before (429)
  std::multimap<Clock::time_point, std::function<void()>> timers;
  uint64_t next_post = 1;
  int64_t taken = 0;       // records taken from the ledgers and not yet done
  bool stopping = false;   // no new requests
  bool closing = false;    // consumer close(): revocation does not wait
  int exit_code = 0;
  std::mt19937_64 rng{std::random_device{}()};

  ~Impl() {
    signing.reset();
    http.reset();
  }

  // ---- setup

  Status CreateConsumer() {
    std::string err;
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    std::map<std::string, std::string> props = config.kafka;
    props.emplace("auto.offset.reset", "earliest");
    props["enable.auto.commit"] = "false";
    props["enable.auto.offset.store"] = "false";
    for (const auto& [k, v] : props) {
      if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) {
        return Error{Reason::kInternalError, "config: kafka." + k + ": " + err};
      }
    }
    if (conf->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(this), err) !=
        RdKafka::Conf::CONF_OK) {
      return Error{Reason::kInternalError, "rebalance_cb: " + err};
    }
    consumer.reset(RdKafka::KafkaConsumer::create(conf.get(), err));
    if (!consumer) return Error{Reason::kInternalError, "Kafka consumer: " + err};
    // Records, rebalances and errors wake the coordinator's poll(2).
    rd_kafka_queue_t* queue = rd_kafka_queue_get_consumer(consumer->c_ptr());
    if (queue == nullptr) return Error{Reason::kInternalError, "Kafka consumer has no queue"};
    rd_kafka_queue_io_event_enable(queue, wake->write_fd(), "c", 1);
    rd_kafka_queue_destroy(queue);
    std::vector<std::string> topics;
    for (const Route& r : config.routes) topics.push_back(r.topic);
    RdKafka::ErrorCode rc = consumer->subscribe(topics);
    if (rc != RdKafka::ERR_NO_ERROR) {
      return Error{Reason::kInternalError, "subscribe: " + RdKafka::err2str(rc)};
    }
    return OkStatus();
  }

  void UseIdentities(std::shared_ptr<const Identities> loaded) {
    for (const auto& w : loaded->warnings) LogEvent("warn", "key_file", Field("warning", w));
    int64_t days = DaysToExpiry(loaded->earliest_expiry, WallClockMillis());
    metrics->certificate_days_to_expiry = days;
    if (days < kExpiryWarningDays) LogEvent("warn", "certificate_expiring", Field("days_left", days));
    identities = std::move(loaded);
  }

  void Reload() {
    auto loaded = LoadIdentities(config);
    if (!loaded) {
      LogEvent("error", "reload_failed", Field("error", loaded.error().detail));
      return;
    }
    UseIdentities(*loaded);
    http->Reconfigure(identities->tls);
    ++generation;
    LogEvent("info", "reloaded", Field("generation", static_cast<int64_t>(generation)));
  }

  // ---- the event loop's pieces

  // Sleeps until something arrives (a record, an answer, an
  // acknowledgement) or `timeout_ms` passes.
  void WaitForEvents(int64_t timeout_ms) {
    pollfd pfd{wake->read_fd(), POLLIN, 0};
    poll(&pfd, 1, static_cast<int>(std::min<int64_t>(timeout_ms, kIdleWaitMs)));
    wake->Clear();  // before the inbox and the consumer are looked at
  }

  void At(Clock::time_point when, std::function<void()> task) {
    timers.emplace(when, std::move(task));
  }

  void RunTimers() {
    auto now = Clock::now();
    while (!timers.empty() && timers.begin()->first <= now) {
      auto task = std::move(timers.begin()->second);
      timers.erase(timers.begin());
      task();
    }
  }

  // Everything that comes back from other threads and from Kafka's
  // producer, without taking new work: also what a revocation and the
  // shutdown run while they wait.
  void ServeCompletions() {
    producer->Poll(0);
    inbox->RunAll();
    RunTimers();
  }

  int64_t NextWakeMs() const {
    int64_t wait = kIdleWaitMs;
    if (!timers.empty()) wait = std::min(wait, MillisUntil(timers.begin()->first));
    for (const auto& [key, id] : filling) {
      const Post& post = *posts.at(id);
      wait = std::min(wait, MillisUntil(post.opened + std::chrono::milliseconds(config.batch.linger_ms)));
    }
    return wait;
  }

  // Takes what the consumer has; true when it had more than one turn's worth.
  bool DrainConsumer() {
    for (int i = 0; i < kMaxDrain; ++i) {
      std::unique_ptr<RdKafka::Message> m(consumer->consume(0));
      switch (m->err()) {
        case RdKafka::ERR_NO_ERROR:
          Enqueue(std::move(m));
          break;
        case RdKafka::ERR__TIMED_OUT:
          return false;
        case RdKafka::ERR__PARTITION_EOF:
          break;
        case RdKafka::ERR__FATAL: {
          std::string why;
          consumer->fatal_error(why);
          LogEvent("error", "kafka_fatal", Field("error", why));
          metrics->SetHealth(false, "Kafka fatal error: " + why);
          exit_code = 1;
          stop->store(true);
          return false;
        }
        default:
          // Transient (broker down, transport): librdkafka reconnects.
          LogEvent("warn", "kafka_error", Field("error", m->errstr()));
          return false;
      }
    }
    return true;
  }

  // ---- records in

  std::string OrderKey(const RdKafka::Message& m, const Prepared& prepared) const {
    if (config.ordering.by_partition) return "";
    if (m.key_len() > 0) return KafkaKey(m);
    const auto* record = std::get_if<PreparedRecord>(&prepared);
    if (config.ordering.fallback_field == "MPANCore" && record != nullptr) return record->mpan_core;
    return "";  // no key: these keep partition order among themselves
  }

  void Enqueue(std::unique_ptr<RdKafka::Message> m) {
    auto it = parts.find({m->topic_name(), m->partition()});
    if (it == parts.end()) return;  // not ours any more; the next owner reads it
    Partition& part = it->second;
    FetchedRecord r;
    r.route = routes.at(m->topic_name());
    r.prepared = PrepareRecord(
        std::string_view(static_cast<const char*>(m->payload()), m->len()), prepare);
    r.fetched = Clock::now();
    int64_t offset = m->offset();
    if (!part->ledger.Add(offset, OrderKey(*m, r.prepared))) return;  // seen already
    r.message = std::move(m);
    part->records.emplace(offset, std::move(r));
    metrics->consumed += 1;
    PauseIfOverShare(part);
  }

  // ---- back-pressure: each partition may buffer its share of the limit

  int64_t Share() const {
    return std::max<int64_t>(1, config.max_buffered_messages /
                                    static_cast<int64_t>(std::max<size_t>(1, parts.size())));
  }

  void PauseIfOverShare(const Partition& part) {
    if (part->paused || static_cast<int64_t>(part->ledger.buffered()) < Share()) return;
    std::vector<RdKafka::TopicPartition*> one{
        RdKafka::TopicPartition::create(part->topic, part->partition)};
    consumer->pause(one);
    RdKafka::TopicPartition::destroy(one);
    part->paused = true;
    LogEvent("info", "paused", Field("topic", part->topic) + "," +
                                   Field("partition", static_cast<int64_t>(part->partition)) + "," +
                                   Field("buffered", static_cast<int64_t>(part->ledger.buffered())));
  }

  void ResumeUnderShare() {
    int64_t share = Share(), total = 0, paused = 0;
    std::vector<RdKafka::TopicPartition*> resume;
    for (auto& [tp, part] : parts) {
      int64_t buffered = static_cast<int64_t>(part->ledger.buffered());
      total += buffered;
      if (part->paused && buffered <= share / 2) {
        resume.push_back(RdKafka::TopicPartition::create(part->topic, part->partition));
        part->paused = false;
        LogEvent("info", "resumed", Field("topic", part->topic) + "," +
                                        Field("partition", static_cast<int64_t>(part->partition)) +
                                        "," + Field("buffered", buffered));
      }
      paused += part->paused ? 1 : 0;
    }
    if (!resume.empty()) consumer->resume(resume);
    RdKafka::TopicPartition::destroy(resume);
    metrics->buffered = total;
    if (total > metrics->buffered_peak) metrics->buffered_peak = total;
    metrics->paused = paused;
  }

  // ---- records out

  // Takes ready records, a partition at a time in turn, up to max_in_flight.
  void Dispatch() {
    if (stopping) return;
    bool any = true;
    while (any && taken < config.max_in_flight) {
      any = false;
      for (auto& [tp, part] : parts) {
        if (taken >= config.max_in_flight) break;
        if (part->leaving) continue;
        auto offset = part->ledger.Take();
        if (!offset) continue;
        any = true;
        ++taken;
        Take(RecordRef{part, *offset});
      }
    }
    metrics->in_flight = taken;
  }

  void Take(const RecordRef& ref) {
    FetchedRecord& r = ref.record();
    if (const auto* refusal = std::get_if<Refusal>(&r.prepared)) {
      DeadLetter(ref, {refusal->reason, refusal->detail, 0, "", "", "", "", refusal->pointer, 0});
      return;
    }
    const PreparedRecord& prepared = std::get<PreparedRecord>(r.prepared);
    auto identity = identities->For(*r.route, prepared.sender_dip_id);
    if (!identity) {
      DeadLetter(ref, {DeadLetterReason::kNoIdentity,
                       "no identity signs for senderDIPID '" + prepared.sender_dip_id +
                           "' (identities[].dip_ids, or the route's identity)",
                       0, "", "", "", "", "/0/payload/CommonBlock/S1/senderDIPID", 0});
      return;
    }
    std::string url = r.route->url;
    FillPlaceholder(&url, "{interfaceID}", prepared.channel);
    std::string batch_key = url + "\n" + identity->name;
    Post* post = nullptr;
    if (auto it = filling.find(batch_key); it != filling.end()) {
      post = posts.at(it->second).get();
      if (post->bytes + prepared.elements.size() + 1 > static_cast<size_t>(config.batch.max_bytes)) {
        filling.erase(it);
        Send(*post);
        post = nullptr;
      }
    }
    if (post == nullptr) {
      post = NewPost(url, prepared.channel, identity);
      filling[batch_key] = post->id;
    }
    post->records.push_back(ref);
    post->prepared.push_back(&prepared);
    post->bytes += prepared.elements.size() + 1;
    if (static_cast<int>(post->records.size()) >= config.batch.max_messages) {
      filling.erase(batch_key);
      Send(*post);
    }
  }

  Post* NewPost(const std::string& url, const std::string& channel,
                std::shared_ptr<const SigningIdentity> identity) {
    auto post = std::make_unique<Post>();
    post->id = next_post++;
    post->url = url;
    post->channel = channel;
    post->identity = std::move(identity);
    post->opened = Clock::now();
    Post* raw = post.get();
    posts.emplace(raw->id, std::move(post));
    return raw;
  }

  Post* FindPost(uint64_t id) {
    auto it = posts.find(id);
    return it == posts.end() ? nullptr : it->second.get();
  }

  // Batches whose linger time is over go out.
  void FlushBatches() {
    auto now = Clock::now();
    for (auto it = filling.begin(); it != filling.end();) {
      Post& post = *posts.at(it->second);
      if (now - post.opened >= std::chrono::milliseconds(config.batch.linger_ms)) {
        it = filling.erase(it);
        Send(post);
      } else {
        ++it;
      }
    }
  }

  // Records of partitions being revoked leave the post unsent: the next
  // owner delivers them. False when nothing is left of it (it is gone).
  bool DropLeaving(Post& post) {
    for (size_t i = 0; i < post.records.size();) {
      if (post.records[i].part->leaving || post.records[i].part->revoked) {
        Abandon(post.records[i]);
        post.records.erase(post.records.begin() + static_cast<std::ptrdiff_t>(i));
        post.prepared.erase(post.prepared.begin() + static_cast<std::ptrdiff_t>(i));
        post.body.clear();
      } else {
        ++i;
      }
    }
    if (!post.records.empty()) return true;
    posts.erase(post.id);
    return false;
  }

  // Signs (on the pool) and POSTs (on the HTTP loop); the answer comes back
  // to OnAnswer() on this thread.
  void Send(Post& post) {
    if (stopping || !DropLeaving(post)) return;
    if (post.body.empty()) {
      post.body = BatchBody(post.prepared);
      post.content_hash = ContentHash(post.body);
    }
    if (auto hold = holds.find(post.channel); hold != holds.end()) {
      if (hold->second > Clock::now()) {
        At(hold->second, [this, id = post.id] {
          if (Post* p = FindPost(id)) Send(*p);
        });
        return;
      }
      holds.erase(hold);
    }
    ++post.attempt;
    metrics->posts += 1;
    metrics->requests_in_flight += 1;
    for (const RecordRef& ref : post.records) ref.part->busy += 1;
    const std::string& api_key =
        post.secondary_key ? config.api_key_secondary : config.api_key_primary;
    SignJob job;
    job.identity = post.identity;
    job.url = post.url;
    job.content_hash = post.content_hash;
    job.then = [this, id = post.id, url = post.url, body = post.body,
                api_key](Result<DipHeaders> headers) mutable {
      if (!headers) {
        inbox->Push([this, id, error = headers.error()] { OnSigningFailed(id, error); });
        return;
      }
      transport::Request request{std::move(url), std::move(body), SignedHeaderList(*headers, api_key)};
      http->Post(std::move(request), [this, id](transport::Reply reply) {
        inbox->Push([this, id, reply = std::move(reply)]() mutable { OnAnswer(id, std::move(reply)); });
      });
    };
    signing->Sign(std::move(job));
  }

  void EndRequest(Post& post) {
    metrics->requests_in_flight -= 1;
    for (const RecordRef& ref : post.records) ref.part->busy -= 1;
  }

  // ---- answers

  void OnSigningFailed(uint64_t id, const Error& error) {
    Post* post = FindPost(id);
    if (post == nullptr) return;
    EndRequest(*post);
    // Our fault, not the message's: retried, never dead-lettered.
    LogEvent("error", "signing_failed", Where(*post) + "," + Field("error", error.detail));
    transport::Reply none;
    none.transport_error = true;
    none.error = "signing: " + error.detail;
    Retry(*post, none, none.error, /*counts=*/false);
  }

  void OnAnswer(uint64_t id, transport::Reply reply) {
    NoticeHttp1();  // the loop learns the protocol from an answer: said before it is counted
    // Every answer, whatever becomes of its POST (status 0: none arrived).
    metrics->CountDipAnswer(reply.transport_error ? 0 : reply.status);
    Post* post = FindPost(id);
    if (post == nullptr) return;
    EndRequest(*post);
    bool secondary = !post->secondary_key && !config.api_key_secondary.empty();
    AnswerReading reading = ReadAnswer(reply, post->prepared, secondary);
    auto where = [&] {  // for the two logged outcomes only: not on every answer
      return Where(*post) + "," + Field("status", static_cast<int64_t>(reply.status));
    };
    switch (reading.fate) {
      case PostFate::kRetry:
        Retry(*post, reply, reading.why, /*counts=*/true);
        return;
      case PostFate::kTrySecondaryKey:
        // The primary key may have been rotated (CoCo 8.8.3).
        metrics->api_key_fallbacks += 1;
        LogEvent("warn", "api_key_fallback", where());
        post->secondary_key = true;
        Send(*post);
        return;
      case PostFate::kSplit:
        metrics->batch_splits += 1;
        LogEvent("warn", "batch_split", where() + "," + Field("why", reading.why));
        Split(*post);
        return;
      case PostFate::kSettled:
        Settle(*post, reading, reply);
        return;
    }
  }

  void Retry(Post& post, const transport::Reply& reply, const std::string& why, bool counts) {
    metrics->retried += 1;
    if (!DropLeaving(post)) return;
    if (counts && config.retry.max_attempts > 0 && post.attempt >= config.retry.max_attempts) {
      std::string excerpt = reply.transport_error ? reply.error : reply.body.substr(0, kExcerpt);
      for (const RecordRef& ref : post.records) {
        DeadLetter(ref, {DeadLetterReason::kRetriesExhausted, why, reply.status, "", "", "", excerpt,
                         "", post.attempt});
      }
      posts.erase(post.id);
      return;
    }
    int64_t wait = BackoffMs(config.retry, std::max(1, post.attempt),
                             std::uniform_real_distribution<double>(0, 1)(rng),
                             reply.retry_after_ms);
    auto when = Clock::now() + std::chrono::milliseconds(wait);
    if (reply.status == 429) {
      // The DIP's rate limit is per participant: slow the whole channel,
      // not only this POST.
      auto& hold = holds[post.channel];
      hold = std::max(hold, when);
    }
    LogEvent("warn", "retry", Where(post) + "," + Field("status", static_cast<int64_t>(reply.status)) +
                                  "," + Field("wait_ms", wait) + "," +
                                  Field("error", reply.transport_error ? reply.error : why + ": " +
                                                     reply.body.substr(0, kExcerpt)));
    At(when, [this, id = post.id] {
      if (Post* p = FindPost(id)) Send(*p);
    });
  }

  // The DIP refused the array as a whole: each half goes on its own, until
  // the refused record is alone and is dead-lettered.
  void Split(Post& post) {
    if (!DropLeaving(post)) return;
    size_t half = (post.records.size() + 1) / 2;
    for (auto [from, to] : {std::pair<size_t, size_t>{0, half}, {half, post.records.size()}}) {
      if (from == to) continue;
      Post* part = NewPost(post.url, post.channel, post.identity);
      part->secondary_key = post.secondary_key;
      for (size_t i = from; i < to; ++i) {
        part->records.push_back(post.records[i]);
        part->prepared.push_back(post.prepared[i]);
      }
      uint64_t id = part->id;
      At(Clock::now(), [this, id] {
        if (Post* p = FindPost(id)) Send(*p);
      });
    }
    posts.erase(post.id);
  }

  void Settle(Post& post, const AnswerReading& reading, const transport::Reply& reply) {
    Post* again = nullptr;   // MSG1000: retried after the policy's wait
    Post* resend = nullptr;  // refused with another record's MSG1006: sent again now
    auto gather = [&](Post*& into, size_t i) {
      if (into == nullptr) {
        into = NewPost(post.url, post.channel, post.identity);
        into->attempt = post.attempt;
        into->secondary_key = post.secondary_key;
      }
      into->records.push_back(post.records[i]);
      into->prepared.push_back(post.prepared[i]);
    };
    int64_t delivered = 0, refused = 0;
    for (size_t i = 0; i < post.records.size(); ++i) {
      const RecordRef& ref = post.records[i];
      if (ref.part->revoked) {
        Abandon(ref);
        continue;
      }
      const RecordAnswer& answer = reading.records[i];
      switch (answer.fate) {
        case RecordFate::kDelivered:
        case RecordFate::kDuplicate:
          ++delivered;
          Delivered(ref, answer, post.channel, reply.status);
          break;
        case RecordFate::kRetry:
          gather(again, i);
          break;
        case RecordFate::kResend:
          gather(resend, i);
          break;
        case RecordFate::kDeadLetter: {
          ++refused;
          std::string detail = answer.code.empty()
                                   ? "HTTP " + std::to_string(reply.status)
                                   : answer.message.empty() ? answer.code : answer.message;
          DeadLetter(ref, {DeadLetterReason::kRejectedByDip, detail, reply.status, answer.code,
                           answer.message, answer.help, reply.body.substr(0, kExcerpt), "",
                           post.attempt});
          break;
        }
      }
    }
    std::string code = reading.records.empty() || reading.records[0].messages.empty()
                           ? ""
                           : reading.records[0].messages[0].code;
    LogEvent(refused ? "warn" : "info", refused ? "rejected_by_dip" : "delivered",
             Where(post) + "," + Field("status", static_cast<int64_t>(reply.status)) + "," +
                 Field("code", code) + "," + Field("delivered", delivered) + "," +
                 Field("identity", post.identity->name) +
                 (refused ? "," + Field("excerpt", reply.body.substr(0, kExcerpt)) : ""));
    posts.erase(post.id);
    if (again != nullptr) Retry(*again, reply, "MSG1000: the DIP failed to process it", true);
    if (resend != nullptr) {
      LogEvent("info", "resend_without_duplicates",
               Where(*resend) + "," + Field("why", reading.why));
      At(Clock::now(), [this, id = resend->id] {
        if (Post* p = FindPost(id)) Send(*p);
      });
    }
  }

  // ---- a record done

  void Delivered(const RecordRef& ref, const RecordAnswer& answer, const std::string& channel,
                 long status) {
    metrics->delivered += 1;
    if (answer.fate == RecordFate::kDuplicate) metrics->dip_duplicates += 1;
    if (config.receipts_topic.empty()) {
      Finish(ref);
      return;
    }
    FetchedRecord& r = ref.record();
    const RdKafka::Message& m = *r.message;
    std::string key = KafkaKey(m);
    std::string time = FormatSignatureDate(WallClockMillis());
    r.unacknowledged += static_cast<int>(answer.messages.size());
    for (const MessageAnswer& message : answer.messages) {
      OutRecord receipt;
      receipt.topic = config.receipts_topic;
      receipt.key = key;
      receipt.value = "{" + Field("senderUniqueReference", message.reference) + "," +
                      Field("transactionID", message.transaction_id) + "," +
                      Field("channel", channel) + "," +
                      Field("httpStatus", static_cast<int64_t>(status)) + "," +
                      Field("code", message.code) + "," + Field("time", time) + "," +
                      Field("topic", m.topic_name()) + "," +
                      Field("partition", static_cast<int64_t>(m.partition())) + "," +
                      Field("offset", m.offset()) + "}";
      Store(std::move(receipt), ref, 1, [this, ref] {
        metrics->receipts += 1;
        Acknowledged(ref);
      });
    }
  }

  void DeadLetter(const RecordRef& ref, const DeadLetterInfo& info) {
    FetchedRecord& r = ref.record();
    const RdKafka::Message& m = *r.message;
    OutRecord out;
    out.topic = config.dead_letter_topic;
    out.key = KafkaKey(m);
    out.value.assign(static_cast<const char*>(m.payload()), m.len());
    if (RdKafka::Headers* original = const_cast<RdKafka::Message&>(m).headers()) {
      for (const auto& h : original->get_all()) {
        out.headers.emplace_back(h.key(), std::string(static_cast<const char*>(h.value()), h.value_size()));
      }
    }
    std::string_view word = ReasonWord(info.reason);
    auto add = [&out](const char* name, const std::string& value) { out.headers.emplace_back(name, value); };
    add("dip.errors.reason", std::string(word));
    add("dip.errors.detail", info.detail);
    add("dip.errors.http.status", std::to_string(info.http_status));
    add("dip.errors.response.excerpt", info.excerpt);
    if (!info.code.empty()) add("dip.errors.dip.code", info.code);
    if (!info.message.empty()) add("dip.errors.dip.message", info.message);
    if (!info.help.empty()) add("dip.errors.dip.help", info.help);
    if (!info.pointer.empty()) add("dip.errors.json.pointer", info.pointer);
    add("dip.errors.topic", m.topic_name());
    add("dip.errors.partition", std::to_string(m.partition()));
    add("dip.errors.offset", std::to_string(m.offset()));
    add("dip.errors.attempts", std::to_string(info.attempts));
    add("dip.errors.timestamp", FormatSignatureDate(WallClockMillis()));
    LogEvent("warn", "dead_letter", Field("reason", std::string(word)) + "," +
                                        Field("detail", info.detail) + "," +
                                        Field("topic", m.topic_name()) + "," +
                                        Field("offset", m.offset()));
    r.unacknowledged += 1;
    Store(std::move(out), ref, 1, [this, ref, word] {
      metrics->CountDeadLetter(word);
      Acknowledged(ref);
    });
  }

  // One of the record's writes is stored; the last one finishes it.
  void Acknowledged(const RecordRef& ref) {
    FetchedRecord* r = ref.find();
    if (r != nullptr && --r->unacknowledged == 0) Finish(ref);
  }

  // Writes `out` until Kafka stores it (retrying a failed write with
  // backoff), then runs `stored`. Given up only for a partition that left.
  void Store(OutRecord out, const RecordRef& ref, int attempt, std::function<void()> stored) {
    ref.part->busy += 1;
    auto failed = [this, ref, attempt](OutRecord again, std::function<void()> then,
                                       const std::string& why) {
      ref.part->busy -= 1;
      LogEvent("warn", "write_failed", Field("topic", again.topic) + "," + Field("error", why));
      if (ref.part->leaving || ref.part->revoked) {
        Abandon(ref);
        return;
      }
      int64_t wait = BackoffMs(config.retry, attempt,
                               std::uniform_real_distribution<double>(0, 1)(rng), -1);
      At(Clock::now() + std::chrono::milliseconds(wait),
         [this, ref, attempt, again = std::move(again), then = std::move(then)]() mutable {
           Store(std::move(again), ref, attempt + 1, std::move(then));
         });
    };
    OutRecord copy = out;
    RdKafka::ErrorCode rc = producer->Produce(
        out, [this, ref, copy = std::move(copy), stored, failed](RdKafka::ErrorCode err) mutable {
          if (err != RdKafka::ERR_NO_ERROR) {
            failed(std::move(copy), std::move(stored), RdKafka::err2str(err));
            return;
          }
          ref.part->busy -= 1;
          stored();
        });
    if (rc != RdKafka::ERR_NO_ERROR) failed(std::move(out), std::move(stored), RdKafka::err2str(rc));
  }

  // Delivered or dead-lettered, and stored: its offset may be committed.
  void Finish(const RecordRef& ref) {
    FetchedRecord* r = ref.find();
    if (r == nullptr) return;  // abandoned meanwhile
    if (!ref.part->revoked) {
      ref.part->ledger.Finish(ref.offset);
      metrics->ObserveLatency(std::chrono::duration<double>(Clock::now() - r->fetched).count());
    }
    ref.part->records.erase(ref.offset);
    --taken;
    metrics->in_flight = taken;
  }

  // Left undone (shutdown or rebalance): not committed, so delivered again
  // by whoever owns the partition next.
  void Abandon(const RecordRef& ref) {
    if (ref.part->records.erase(ref.offset) == 0) return;  // done or abandoned already
    --taken;
    metrics->in_flight = taken;
    metrics->abandoned += 1;
  }

  // Said once: the DIP answers over HTTP/1.1 (no HTTP/2, or a server that
  // asks for the client certificate by renegotiation and refuses HTTP/2
  // with HTTP_1_1_REQUIRED); POSTs go over HTTP/1.1 from then on.
  void NoticeHttp1() {
    if (metrics->http1_fallback != 0 || http->http1_fallbacks() == 0) return;
    metrics->http1_fallback = 1;
    LogEvent("warn", "http1_fallback",
             Field("why", "HTTP/2 asked, the DIP answered over HTTP/1.1; POSTs use HTTP/1.1 "
                          "keep-alive connections from now on (up to max_connections)"));
  }

  // ---- commits and lag

  void Commit(const std::vector<Partition>& which) {
    std::vector<RdKafka::TopicPartition*> offsets;
    std::vector<std::pair<Partition, int64_t>> advanced;
    for (const Partition& part : which) {
      int64_t offset = part->ledger.CommitOffset();
      if (part->revoked || offset <= part->committed) continue;
      offsets.push_back(RdKafka::TopicPartition::create(part->topic, part->partition, offset));
      advanced.emplace_back(part, offset);
    }
    if (offsets.empty()) return;
    RdKafka::ErrorCode rc = consumer->commitSync(offsets);
    RdKafka::TopicPartition::destroy(offsets);
    if (rc != RdKafka::ERR_NO_ERROR) {
      LogEvent("warn", "commit_failed", Field("error", RdKafka::err2str(rc)));
      return;  // again at the next commit; delivery already happened
    }
    for (auto& [part, offset] : advanced) part->committed = std::max(part->committed, offset);
    metrics->committed += 1;
  }

  std::vector<Partition> All() const {
    std::vector<Partition> out;
    for (const auto& [tp, part] : parts) out.push_back(part);
    return out;
  }

  void UpdateLag() {
    int64_t lag = 0;
    for (auto& [tp, part] : parts) {
      int64_t low = 0, high = 0;
      if (consumer->get_watermark_offsets(part->topic, part->partition, &low, &high) !=
              RdKafka::ERR_NO_ERROR ||
          high < 0) {
        continue;
      }
      int64_t next = part->ledger.CommitOffset();
      if (next < 0) next = std::max<int64_t>(low, part->committed);
      lag += std::max<int64_t>(0, high - next);
    }
    metrics->lag = lag;
  }

  // Serves completions until none of `which` has work in a request or a
  // write, or until the deadline.
  void Quiesce(const std::vector<Partition>& which, Clock::time_point deadline) {
    auto busy = [&] {
      return std::any_of(which.begin(), which.end(), [](const Partition& p) { return p->busy > 0; });
    };
    while (busy() && Clock::now() < deadline) {
      WaitForEvents(std::min<int64_t>(20, MillisUntil(deadline)));
      ServeCompletions();
    }
  }

  // ---- rebalance (on the coordinator, inside consume())

  void rebalance_cb(RdKafka::KafkaConsumer* c, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    bool cooperative = c->rebalance_protocol() == "COOPERATIVE";
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      std::string list;
      for (auto* tp : partitions) {
        auto part = std::make_shared<PartitionState>();
        part->topic = tp->topic();
        part->partition = tp->partition();
        parts[{tp->topic(), tp->partition()}] = part;
        list += tp->topic() + "/" + std::to_string(tp->partition()) + " ";
      }
      LogEvent("info", "assigned", Field("partitions", list));
      if (cooperative) {
        delete c->incremental_assign(partitions);
      } else {
        c->assign(partitions);
      }
      // librdkafka keeps a partition's pause flag across assignments.
      c->resume(partitions);
      return;
    }
    // Revoked (or lost): no new requests for their records; requests in
    // flight end (within shutdown_timeout_ms), what is done is committed,
    // then the partitions go. Records not done are delivered by the next
    // owner.
    std::vector<Partition> gone;
    for (auto* tp : partitions) {
      auto it = parts.find({tp->topic(), tp->partition()});
      if (it == parts.end()) continue;
      it->second->leaving = true;
      gone.push_back(it->second);
    }
    bool lost = c->assignment_lost();
    if (!closing && !lost) {
      Quiesce(gone, Clock::now() + std::chrono::milliseconds(config.shutdown_timeout_ms));
    }
    if (!lost) Commit(gone);
    for (const Partition& part : gone) {
      part->revoked = true;
      parts.erase({part->topic, part->partition});
    }
    LogEvent("info", "revoked", Field("partitions", static_cast<int64_t>(gone.size())));
    c->resume(partitions);  // clear our pause flag before the partitions go
    if (cooperative) {
      delete c->incremental_unassign(partitions);
    } else {
      c->unassign();
    }
  }
};

Outbound::Outbound(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Outbound::~Outbound() = default;

Result<std::unique_ptr<Outbound>> Outbound::Start(const Config& config, Metrics* metrics) {
  auto impl = std::make_unique<Impl>();
  Impl& o = *impl;
  o.config = config;
  o.metrics = metrics;
  for (int r = static_cast<int>(DeadLetterReason::kInvalidJson);
       r <= static_cast<int>(DeadLetterReason::kRetriesExhausted); ++r) {
    metrics->ExpectDeadLetter(ReasonWord(static_cast<DeadLetterReason>(r)));
  }
  for (const Route& r : o.config.routes) o.routes[r.topic] = &r;
  auto loaded = LoadIdentities(o.config);
  if (!loaded) return loaded.error();
  o.UseIdentities(*loaded);
  if (!o.config.schemas.empty()) {
    auto schemas = LoadSchemas("schemas", o.config.schemas);
    if (!schemas) return schemas.error();
    o.prepare.schemas = *schemas;
  }
  auto wake = WakePipe::Create();
  if (!wake) return Error{wake.error().reason, "coordinator: " + wake.error().detail};
  o.wake = std::move(*wake);
  o.inbox = std::make_unique<Inbox>(o.wake.get());
  auto producer = KafkaProducer::Create(ProducerProperties(o.config.kafka), "dead letters and receipts");
  if (!producer) return producer.error();
  o.producer = std::move(*producer);
  o.producer->WakeOn(o.wake->write_fd());
  if (auto consumer = o.CreateConsumer(); !consumer) return consumer.error();
  int threads = o.config.signing_threads > 0
                    ? o.config.signing_threads
                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  o.signing = std::make_unique<SigningPool>(threads);
  transport::LoopOptions loop;
  loop.tls = o.identities->tls;
  loop.max_host_connections = o.config.max_connections;
  loop.hosts = static_cast<long>(Origins(o.config).size());
  loop.max_answer = 1 << 20;  // a batch's StandardResponse has an entry per message
  auto http = transport::HttpLoop::Start(std::move(loop));
  if (!http) return http.error();
  o.http = std::move(*http);
  return std::unique_ptr<Outbound>(new Outbound(std::move(impl)));
}

int Outbound::Run(std::atomic<bool>& stop, std::atomic<bool>& reload) {
  Impl& o = *impl_;
  o.stop = &stop;
  o.metrics->SetHealth(true, "consuming");
  LogEvent("info", "started",
           Field("routes", static_cast<int64_t>(o.config.routes.size())) + "," +
               Field("max_in_flight", static_cast<int64_t>(o.config.max_in_flight)) + "," +
               Field("signing_threads", static_cast<int64_t>(o.signing->threads())) + "," +
               Field("batch", static_cast<int64_t>(o.config.batch.max_messages)));
  auto last_commit = Clock::now();
  bool more = false;
  while (!stop.load()) {
    if (reload.exchange(false)) o.Reload();
    o.WaitForEvents(more ? 0 : o.NextWakeMs());
    more = o.DrainConsumer();
    o.ServeCompletions();
    o.Dispatch();
    o.FlushBatches();
    o.ResumeUnderShare();
    if (Clock::now() - last_commit > std::chrono::milliseconds(kCommitEveryMs)) {
      o.Commit(o.All());
      o.UpdateLag();
      last_commit = Clock::now();
    }
  }

  // Shutdown: no more fetching or new requests; requests in flight end
  // within the bound (a record waiting to retry is abandoned at once),
  // commit, close.
  o.metrics->SetHealth(false, "stopping");
  LogEvent("info", "stopping");
  o.stopping = true;
  o.Quiesce(o.All(), Clock::now() + std::chrono::milliseconds(o.config.shutdown_timeout_ms));
  o.Commit(o.All());
  o.closing = true;
  o.consumer->close();  // revokes (our callback commits) and leaves the group
  o.signing.reset();
  o.http.reset();
  o.producer->Flush(2000);
  LogEvent("info", "stopped", Field("delivered", static_cast<int64_t>(o.metrics->delivered)) + "," +
                                  Field("dead_lettered",
                                        static_cast<int64_t>(o.metrics->dead_lettered)));
  return o.exit_code;
}

}  // namespace dipgate::bridge
