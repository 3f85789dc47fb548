#include "kafka_bridge/bridge.h"

#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "common/canonical.h"
#include "common/certificate.h"
#include "common/digest.h"
#include "common/headers.h"
#include "common/json_text.h"
#include "kafka_bridge/dip_client.h"
#include "kafka_bridge/envelope.h"
#include "kafka_bridge/inbound.h"
#include "kafka_bridge/log.h"
#include "kafka_bridge/retry.h"

namespace dipgate::bridge {

namespace {

using Clock = std::chrono::steady_clock;

// Identities and their routing, replaced as a whole on reload (SIGHUP).
struct Signing {
  IdentitySet identities;
  std::map<std::string, std::string> by_dip_id;  // senderDIPID -> identity name
  uint64_t generation = 0;
  UnixMillis earliest_expiry = INT64_MAX;
  transport::TlsSettings tls;  // read with the identities, so a reload re-reads them
};

struct Pending {
  std::unique_ptr<RdKafka::Message> message;
  Clock::time_point fetched;
};

struct PartitionState {
  std::string topic;
  int32_t partition = 0;
  std::deque<Pending> queue;
  bool busy = false;      // a worker holds its head message
  bool in_ready = false;  // listed in ready_
  std::atomic<bool> revoked{false};
  int64_t done_offset = -1;  // last offset delivered or dead-lettered
  int64_t committed_offset = -1;
};

class DeliveryReports : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& m) override {
    auto* done = static_cast<std::promise<RdKafka::ErrorCode>*>(m.msg_opaque());
    if (done != nullptr) done->set_value(m.err());
  }
};

}  // namespace

struct Bridge::Impl : public RdKafka::RebalanceCb {
  Config config;
  Metrics metrics;
  std::atomic<bool>* stop = nullptr;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer;
  std::unique_ptr<RdKafka::Producer> producer;
  DeliveryReports reports;
  std::unique_ptr<Inbound> inbound;  // webhooks -> Kafka, when configured
  std::map<std::string, const Route*> routes;

  std::mutex mu;
  std::condition_variable work_cv;  // workers wait for ready partitions
  std::condition_variable idle_cv;  // rebalance/shutdown wait for workers
  std::map<std::pair<std::string, int32_t>, std::unique_ptr<PartitionState>> parts;
  std::deque<PartitionState*> ready;
  int64_t buffered = 0;
  bool paused = false;
  bool workers_exit = false;
  std::shared_ptr<const Signing> signing;  // guarded by mu
  std::vector<std::thread> workers;

  // ---- loading

  bool LoadSigning(uint64_t generation, std::string* error) {
    auto s = std::make_shared<Signing>();
    s->generation = generation;
    for (const IdentityConfig& ic : config.identities) {
      auto id = LoadIdentity(ic.source);
      if (!id) {
        *error = "identity " + ic.source.name + ": " + id.error().detail;
        return false;
      }
      for (const auto& w : (*id)->warnings) {
        LogEvent("warn", "key_file", Field("identity", ic.source.name) + "," + Field("warning", w));
      }
      s->earliest_expiry = std::min(s->earliest_expiry, (*id)->info.not_after);
      auto added = s->identities.Add(*id);
      if (!added) {
        *error = added.error().detail;
        return false;
      }
      for (const auto& d : ic.dip_ids) s->by_dip_id[d] = ic.source.name;
    }
    auto settings = LoadTls(config);
    if (!settings) {
      *error = "tls: " + settings.error().detail;
      return false;
    }
    s->tls = std::move(*settings);
    if (!config.client_certificate.empty()) {
      auto tls = LoadCertificates(config.client_certificate);
      if (!tls) {
        *error = "tls.client_certificate: " + tls.error().detail;
        return false;
      }
      s->earliest_expiry =
          std::min(s->earliest_expiry, DescribeCertificate(tls->front().get()).not_after);
    }
    int64_t days = DaysToExpiry(s->earliest_expiry, WallClockMillis());
    metrics.certificate_days_to_expiry = days;
    if (days < kExpiryWarningDays) {
      LogEvent("warn", "certificate_expiring", Field("days_left", days));
    }
    std::lock_guard<std::mutex> lock(mu);
    signing = std::move(s);
    return true;
  }

  bool CreateKafka(std::string* error) {
    std::string err;
    std::unique_ptr<RdKafka::Conf> cc(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    std::map<std::string, std::string> props = config.kafka;
    props.emplace("auto.offset.reset", "earliest");
    props["enable.auto.commit"] = "false";
    props["enable.auto.offset.store"] = "false";
    for (const auto& [k, v] : props) {
      if (cc->set(k, v, err) != RdKafka::Conf::CONF_OK) {
        *error = "config: kafka." + k + ": " + err;
        return false;
      }
    }
    if (cc->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(this), err) !=
        RdKafka::Conf::CONF_OK) {
      *error = "rebalance_cb: " + err;
      return false;
    }
    consumer.reset(RdKafka::KafkaConsumer::create(cc.get(), err));
    if (!consumer) {
      *error = "Kafka consumer: " + err;
      return false;
    }
    // The dead-letter producer: idempotent, acks from all replicas.
    std::unique_ptr<RdKafka::Conf> pc(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    std::map<std::string, std::string> pprops = ProducerProperties(config.kafka);
    pprops["enable.idempotence"] = "true";
    pprops["acks"] = "all";
    for (const auto& [k, v] : pprops) {
      if (pc->set(k, v, err) != RdKafka::Conf::CONF_OK) {
        *error = "config: kafka." + k + " (dead-letter producer): " + err;
        return false;
      }
    }
    if (pc->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(&reports), err) !=
        RdKafka::Conf::CONF_OK) {
      *error = "dr_cb: " + err;
      return false;
    }
    producer.reset(RdKafka::Producer::create(pc.get(), err));
    if (!producer) {
      *error = "Kafka producer: " + err;
      return false;
    }
    std::vector<std::string> topics;
    for (const Route& r : config.routes) {
      topics.push_back(r.topic);
      routes[r.topic] = &r;
    }
    RdKafka::ErrorCode rc = consumer->subscribe(topics);
    if (rc != RdKafka::ERR_NO_ERROR) {
      *error = "subscribe: " + RdKafka::err2str(rc);
      return false;
    }
    return true;
  }

  // ---- rebalance (runs on the main thread, inside consume())

  void rebalance_cb(RdKafka::KafkaConsumer* c, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    bool cooperative = c->rebalance_protocol() == "COOPERATIVE";
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      {
        std::lock_guard<std::mutex> lock(mu);
        for (auto* tp : partitions) {
          auto& st = parts[{tp->topic(), tp->partition()}];
          st = std::make_unique<PartitionState>();
          st->topic = tp->topic();
          st->partition = tp->partition();
        }
      }
      std::string list;
      for (auto* tp : partitions) list += tp->topic() + "/" + std::to_string(tp->partition()) + " ";
      LogEvent("info", "assigned", Field("partitions", list));
      if (cooperative) {
        delete c->incremental_assign(partitions);
      } else {
        c->assign(partitions);
      }
      // librdkafka keeps a partition's pause flag across assignments: set it
      // explicitly either way, so a partition paused before a rebalance is
      // not left paused after it.
      if (paused) {
        c->pause(partitions);
      } else {
        c->resume(partitions);
      }
      return;
    }
    // Revoked (or lost): stop handing out their messages, let a delivery in
    // progress end (a worker in a retry wait abandons it), commit what was
    // delivered, then let the partitions go. Messages fetched but not
    // delivered are dropped here; the next owner reads them again.
    std::vector<PartitionState*> gone;
    {
      std::unique_lock<std::mutex> lock(mu);
      for (auto* tp : partitions) {
        auto it = parts.find({tp->topic(), tp->partition()});
        if (it == parts.end()) continue;
        PartitionState* st = it->second.get();
        st->revoked = true;
        gone.push_back(st);
      }
      work_cv.notify_all();  // wake workers waiting to retry a revoked partition
      for (auto it = ready.begin(); it != ready.end();) {
        if ((*it)->revoked) {
          (*it)->in_ready = false;
          it = ready.erase(it);
        } else {
          ++it;
        }
      }
      idle_cv.wait(lock, [&] {
        for (PartitionState* st : gone) {
          if (st->busy) return false;
        }
        return true;
      });
    }
    CommitDone();
    {
      std::lock_guard<std::mutex> lock(mu);
      for (PartitionState* st : gone) {
        buffered -= static_cast<int64_t>(st->queue.size());
        metrics.buffered = buffered;
        parts.erase({st->topic, st->partition});
      }
    }
    LogEvent("info", "revoked", Field("partitions", static_cast<int64_t>(partitions.size())));
    c->resume(partitions);  // clear our pause flag before the partitions go
    if (cooperative) {
      delete c->incremental_unassign(partitions);
    } else {
      c->unassign();
    }
  }

  // ---- commits (main thread)

  void CommitDone() {
    std::vector<RdKafka::TopicPartition*> offsets;
    std::vector<std::pair<PartitionState*, int64_t>> advanced;
    {
      std::lock_guard<std::mutex> lock(mu);
      for (auto& [key, st] : parts) {
        if (st->done_offset > st->committed_offset) {
          offsets.push_back(
              RdKafka::TopicPartition::create(st->topic, st->partition, st->done_offset + 1));
          advanced.emplace_back(st.get(), st->done_offset);
        }
      }
    }
    if (offsets.empty()) return;
    RdKafka::ErrorCode rc = consumer->commitSync(offsets);
    RdKafka::TopicPartition::destroy(offsets);
    if (rc != RdKafka::ERR_NO_ERROR) {
      LogEvent("warn", "commit_failed", Field("error", RdKafka::err2str(rc)));
      return;  // retried at the next commit; delivery already happened
    }
    std::lock_guard<std::mutex> lock(mu);
    for (auto& [st, offset] : advanced) st->committed_offset = std::max(st->committed_offset, offset);
    metrics.committed += 1;
  }

  // ---- consumption (main thread)

  void Enqueue(RdKafka::Message* m) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = parts.find({m->topic_name(), m->partition()});
    if (it == parts.end() || it->second->revoked) {
      delete m;  // not ours any more; the next owner reads it
      return;
    }
    PartitionState* st = it->second.get();
    st->queue.push_back(Pending{std::unique_ptr<RdKafka::Message>(m), Clock::now()});
    ++buffered;
    metrics.buffered = buffered;
    if (buffered > metrics.buffered_peak) metrics.buffered_peak = buffered;
    metrics.consumed += 1;
    if (!st->busy && !st->in_ready) {
      st->in_ready = true;
      ready.push_back(st);
      work_cv.notify_one();
    }
  }

  void BackPressure() {
    int64_t b;
    {
      std::lock_guard<std::mutex> lock(mu);
      b = buffered;
    }
    bool want_pause = b >= config.max_buffered_messages;
    bool want_resume = paused && b <= config.max_buffered_messages / 2;
    if (!(want_pause && !paused) && !want_resume) return;
    std::vector<RdKafka::TopicPartition*> assigned;
    consumer->assignment(assigned);
    if (want_pause && !paused) {
      consumer->pause(assigned);
      paused = true;
      LogEvent("info", "paused", Field("buffered", b));
    } else {
      consumer->resume(assigned);
      paused = false;
      LogEvent("info", "resumed", Field("buffered", b));
    }
    metrics.paused = paused ? 1 : 0;
    RdKafka::TopicPartition::destroy(assigned);
  }

  void UpdateLag() {
    int64_t lag = 0;
    std::lock_guard<std::mutex> lock(mu);
    for (auto& [key, st] : parts) {
      int64_t low = 0, high = 0;
      if (consumer->get_watermark_offsets(st->topic, st->partition, &low, &high) !=
              RdKafka::ERR_NO_ERROR ||
          high < 0) {
        continue;
      }
      int64_t next = st->done_offset >= 0 ? st->done_offset + 1 : std::max<int64_t>(low, 0);
      if (st->done_offset < 0 && !st->queue.empty()) next = st->queue.front().message->offset();
      lag += std::max<int64_t>(0, high - next);
    }
    metrics.lag = lag;
  }

  // ---- delivery (worker threads)

  struct WorkerState {
    std::unique_ptr<DipClient> client;
    std::map<std::string, RequestSigner> signers;
    uint64_t generation = 0;
    std::mt19937_64 rng{std::random_device{}()};
  };

  // Sleeps up to `ms`, waking early when the bridge stops or the partition is
  // revoked. False if woken for either.
  bool Wait(PartitionState* st, int64_t ms) {
    std::unique_lock<std::mutex> lock(mu);
    return !work_cv.wait_for(lock, std::chrono::milliseconds(ms),
                             [&] { return stop->load() || st->revoked.load(); });
  }

  bool Interrupted(PartitionState* st) const { return stop->load() || st->revoked.load(); }

  // Writes the message to the dead-letter topic and waits for the broker's
  // acknowledgement (retrying a failed write). False if interrupted first.
  bool DeadLetter(PartitionState* st, RdKafka::Message& m, const std::string& reason,
                  long status, const std::string& excerpt, int attempts, WorkerState& w) {
    for (int write = 1;; ++write) {
      std::unique_ptr<RdKafka::Headers> h(RdKafka::Headers::create());
      if (RdKafka::Headers* original = m.headers()) {
        for (const auto& hd : original->get_all()) h->add(hd.key(), hd.value(), hd.value_size());
      }
      h->add("dip.errors.reason", reason);
      h->add("dip.errors.http.status", std::to_string(status));
      h->add("dip.errors.response.excerpt", excerpt);
      h->add("dip.errors.topic", m.topic_name());
      h->add("dip.errors.partition", std::to_string(m.partition()));
      h->add("dip.errors.offset", std::to_string(m.offset()));
      h->add("dip.errors.attempts", std::to_string(attempts));
      h->add("dip.errors.timestamp", FormatSignatureDate(WallClockMillis()));
      std::promise<RdKafka::ErrorCode> done;
      auto acked = done.get_future();
      RdKafka::ErrorCode rc = producer->produce(
          config.dead_letter_topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
          const_cast<void*>(m.payload()), m.len(), m.key_pointer(), m.key_len(), 0, h.get(),
          &done);
      if (rc == RdKafka::ERR_NO_ERROR) {
        h.release();  // owned by librdkafka now
        while (acked.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready) {
          producer->poll(50);
        }
        rc = acked.get();
        if (rc == RdKafka::ERR_NO_ERROR) return true;
      }
      LogEvent("warn", "dead_letter_write_failed",
               Field("topic", m.topic_name()) + "," + Field("offset", m.offset()) + "," +
                   Field("error", RdKafka::err2str(rc)));
      if (!Wait(st, BackoffMs(config.retry, write,
                               std::uniform_real_distribution<double>(0, 1)(w.rng), -1))) {
        return false;
      }
    }
  }

  // Delivers one message: true once delivered or dead-lettered, false if
  // abandoned (shutdown or rebalance), so it is not committed.
  bool Deliver(PartitionState* st, RdKafka::Message& m, WorkerState& w) {
    std::shared_ptr<const Signing> s;
    {
      std::lock_guard<std::mutex> lock(mu);
      s = signing;
    }
    if (s->generation != w.generation || !w.client) {
      w.client = std::make_unique<DipClient>(s->tls);
      w.signers.clear();
      w.generation = s->generation;
    }
    std::string body(static_cast<const char*>(m.payload()), m.len());
    Envelope env;
    std::string why;
    if (!ParseEnvelope(body, &env, &why)) {
      return DeadLetter(st, m, why, 0, "", 0, w);
    }
    const Route* route = routes.at(m.topic_name());
    std::string identity = route->identity;
    if (identity.empty()) {
      auto it = s->by_dip_id.find(env.sender_dip_id);
      if (it == s->by_dip_id.end()) {
        return DeadLetter(st, m,
                          "no_identity: no identity signs for senderDIPID '" +
                              env.sender_dip_id + "'",
                          0, "", 0, w);
      }
      identity = it->second;
    }
    auto signer_it = w.signers.find(identity);
    if (signer_it == w.signers.end()) {
      auto made = RequestSigner::Create(s->identities.Find(identity));
      if (!made) return DeadLetter(st, m, "internal_error: " + made.error().detail, 0, "", 0, w);
      signer_it = w.signers.emplace(identity, std::move(*made)).first;
    }
    std::string url = route->url;
    for (size_t at; (at = url.find("{interfaceID}")) != std::string::npos;) {
      url.replace(at, 13, env.interface_id);
    }
    const std::string hash = ContentHash(body);
    bool use_secondary = false;
    for (int attempt = 1;; ++attempt) {
      auto h = signer_it->second.SignHashed("POST", url, hash, WallClockMillis());
      if (!h) return DeadLetter(st, m, "internal_error: " + h.error().detail, 0, "", attempt, w);
      const std::string& key = use_secondary ? config.api_key_secondary : config.api_key_primary;
      auto headers = SignedHeaderList(*h, key);
      HttpReply reply = w.client->Post(url, body, headers);
      Outcome outcome = Classify(reply.status, reply.transport_error);
      std::string where = Field("topic", m.topic_name()) + "," +
                          Field("partition", static_cast<int64_t>(m.partition())) + "," +
                          Field("offset", m.offset()) + "," + Field("url", url) + "," +
                          Field("status", static_cast<int64_t>(reply.status)) + "," +
                          Field("attempt", static_cast<int64_t>(attempt));
      if (outcome == Outcome::kDelivered) {
        metrics.delivered += 1;
        LogEvent("info", "delivered", where + "," + Field("identity", identity));
        return true;
      }
      if (outcome == Outcome::kDeadLetter && (reply.status == 401 || reply.status == 403) &&
          !use_secondary && !config.api_key_secondary.empty()) {
        use_secondary = true;  // the primary key may have been rotated (CoCo 8.8.3)
        LogEvent("warn", "api_key_fallback", where);
        continue;
      }
      if (outcome == Outcome::kDeadLetter) {
        LogEvent("warn", "rejected_by_dip", where + "," + Field("excerpt", reply.body));
        bool ok = DeadLetter(st, m, "http_" + std::to_string(reply.status), reply.status,
                             reply.body, attempt, w);
        if (ok) metrics.dead_lettered += 1;
        return ok;
      }
      metrics.retried += 1;
      if (config.retry.max_attempts > 0 && attempt >= config.retry.max_attempts) {
        bool ok = DeadLetter(st, m, "retries_exhausted", reply.status,
                             reply.transport_error ? reply.error : reply.body, attempt, w);
        if (ok) metrics.dead_lettered += 1;
        return ok;
      }
      int64_t wait = BackoffMs(config.retry, attempt,
                               std::uniform_real_distribution<double>(0, 1)(w.rng),
                               reply.retry_after_ms);
      LogEvent("warn", "retry", where + "," + Field("wait_ms", wait) + "," +
                                    Field("error", reply.transport_error ? reply.error
                                                                         : reply.body));
      if (!Wait(st, wait)) return false;
    }
  }

  void Worker() {
    WorkerState w;
    for (;;) {
      PartitionState* st = nullptr;
      RdKafka::Message* m = nullptr;
      Clock::time_point fetched;
      {
        std::unique_lock<std::mutex> lock(mu);
        work_cv.wait(lock, [&] { return workers_exit || (!stop->load() && !ready.empty()); });
        if (workers_exit) return;
        st = ready.front();
        ready.pop_front();
        st->in_ready = false;
        st->busy = true;
        m = st->queue.front().message.get();
        fetched = st->queue.front().fetched;
        metrics.in_flight += 1;
      }
      bool done = Deliver(st, *m, w);
      std::lock_guard<std::mutex> lock(mu);
      metrics.in_flight -= 1;
      st->busy = false;
      if (done) {
        st->done_offset = m->offset();
        st->queue.pop_front();
        --buffered;
        metrics.buffered = buffered;
        metrics.ObserveLatency(std::chrono::duration<double>(Clock::now() - fetched).count());
      } else {
        metrics.abandoned += 1;
      }
      if (done && !st->queue.empty() && !st->revoked && !stop->load() && !st->in_ready) {
        st->in_ready = true;
        ready.push_back(st);
        work_cv.notify_one();
      }
      idle_cv.notify_all();
    }
  }
};

Bridge::Bridge(Config config) : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  impl_->stop = &stop_;
}

Bridge::~Bridge() {
  if (!impl_->workers.empty()) {
    {
      std::lock_guard<std::mutex> lock(impl_->mu);
      impl_->workers_exit = true;
    }
    impl_->work_cv.notify_all();
    for (auto& t : impl_->workers) t.join();
  }
}

Metrics& Bridge::metrics() { return impl_->metrics; }

bool Bridge::CheckIdentities(std::string* error) { return impl_->LoadSigning(0, error); }

bool Bridge::Start(std::string* error) {
  transport::InitHttp();
  bool outbound = !impl_->config.routes.empty();
  if (outbound && (!impl_->LoadSigning(1, error) || !impl_->CreateKafka(error))) return false;
  if (!impl_->config.metrics_listen.empty() &&
      !impl_->metrics.Serve(impl_->config.metrics_listen, error)) {
    return false;
  }
  if (impl_->config.inbound.enabled) {
    auto inbound = Inbound::Start(impl_->config, &impl_->metrics);
    if (!inbound) {
      *error = inbound.error().detail;
      return false;
    }
    impl_->inbound = std::move(*inbound);
  }
  if (!outbound) return true;
  for (int i = 0; i < impl_->config.max_in_flight; ++i) {
    impl_->workers.emplace_back([this] { impl_->Worker(); });
  }
  return true;
}

int Bridge::Run() {
  Impl& b = *impl_;
  if (b.config.routes.empty()) {  // inbound only: serve until asked to stop
    b.metrics.SetHealth(true, "receiving");
    LogEvent("info", "started", Field("routes", static_cast<int64_t>(0)));
    while (!stop_.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    b.metrics.SetHealth(false, "stopping");
    LogEvent("info", "stopping");
    b.inbound.reset();  // finishes the webhooks in progress, flushes
    b.metrics.StopServing();
    LogEvent("info", "stopped",
             Field("webhooks_accepted", static_cast<int64_t>(b.metrics.webhooks_accepted)));
    return 0;
  }
  b.metrics.SetHealth(true, "consuming");
  LogEvent("info", "started", Field("routes", static_cast<int64_t>(b.config.routes.size())) + "," +
                                  Field("workers", static_cast<int64_t>(b.config.max_in_flight)));
  int exit_code = 0;
  auto last_commit = Clock::now();
  while (!stop_.load()) {
    if (reload_.exchange(false)) {
      std::string error;
      uint64_t next = b.signing->generation + 1;
      if (b.LoadSigning(next, &error)) {
        LogEvent("info", "reloaded", Field("generation", static_cast<int64_t>(next)));
      } else {
        LogEvent("error", "reload_failed", Field("error", error));
      }
    }
    std::unique_ptr<RdKafka::Message> m(b.consumer->consume(100));
    switch (m->err()) {
      case RdKafka::ERR_NO_ERROR:
        b.Enqueue(m.release());
        break;
      case RdKafka::ERR__TIMED_OUT:
      case RdKafka::ERR__PARTITION_EOF:
        break;
      case RdKafka::ERR__FATAL: {
        std::string why;
        b.consumer->fatal_error(why);
        LogEvent("error", "kafka_fatal", Field("error", why));
        b.metrics.SetHealth(false, "Kafka fatal error: " + why);
        stop_.store(true);
        exit_code = 1;
        break;
      }
      default:
        // Transient (broker down, transport): librdkafka reconnects.
        LogEvent("warn", "kafka_error", Field("error", m->errstr()));
        break;
    }
    b.BackPressure();
    if (Clock::now() - last_commit > std::chrono::milliseconds(200)) {
      b.CommitDone();
      b.UpdateLag();
      last_commit = Clock::now();
    }
  }

  // Shutdown: no more fetching; let deliveries in progress finish within the
  // bound (a worker in a retry wait abandons at once), commit, close.
  b.metrics.SetHealth(false, "stopping");
  LogEvent("info", "stopping");
  b.work_cv.notify_all();
  {
    std::unique_lock<std::mutex> lock(b.mu);
    b.idle_cv.wait_for(lock, std::chrono::milliseconds(b.config.shutdown_timeout_ms), [&] {
      for (auto& [key, st] : b.parts) {
        if (st->busy) return false;
      }
      return true;
    });
  }
  b.CommitDone();
  b.consumer->close();  // revokes (our callback commits) and leaves the group
  {
    std::lock_guard<std::mutex> lock(b.mu);
    b.workers_exit = true;
  }
  b.work_cv.notify_all();
  for (auto& t : b.workers) t.join();
  b.workers.clear();
  b.producer->flush(5000);
  b.inbound.reset();
  b.metrics.StopServing();
  LogEvent("info", "stopped", Field("delivered", static_cast<int64_t>(b.metrics.delivered)) +
                                  "," + Field("dead_lettered",
                                              static_cast<int64_t>(b.metrics.dead_lettered)));
  return exit_code;
}

}  // namespace dipgate::bridge
