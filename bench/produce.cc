// Produces N copies of a DIP message to a topic as fast as the broker takes
// them (for bench/bridge_bench.sh and the demo), keyed k0..k(KEYS-1) in turn.
// With PARTITIONS, the topic is first created with that many partitions.
//   produce BOOTSTRAP TOPIC N FILE [PARTITIONS [KEYS]]
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "common/files.h"

namespace {

// Creates `topic` with `partitions` (replication 1, as the test broker has
// one node); an existing topic is left as it is.
bool CreateTopic(RdKafka::Producer* p, const char* topic, int partitions) {
  char err[256];
  rd_kafka_t* rk = p->c_ptr();
  rd_kafka_NewTopic_t* t = rd_kafka_NewTopic_new(topic, partitions, 1, err, sizeof err);
  if (t == nullptr) {
    fprintf(stderr, "produce: %s\n", err);
    return false;
  }
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &t, 1, nullptr, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 30000);
  bool ok = false;
  if (ev != nullptr) {
    const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev);
    size_t n = 0;
    const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(res, &n);
    rd_kafka_resp_err_t e = n == 1 ? rd_kafka_topic_result_error(results[0]) : rd_kafka_event_error(ev);
    ok = e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS;
    if (!ok) fprintf(stderr, "produce: creating %s: %s\n", topic, rd_kafka_err2str(e));
    rd_kafka_event_destroy(ev);
  } else {
    fprintf(stderr, "produce: creating %s: no answer\n", topic);
  }
  rd_kafka_queue_destroy(q);
  rd_kafka_NewTopic_destroy(t);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5 || argc > 7) {
    fprintf(stderr, "usage: produce BOOTSTRAP TOPIC N FILE [PARTITIONS [KEYS]]\n");
    return 2;
  }
  int partitions = argc > 5 ? atoi(argv[5]) : 0;
  long keys = argc > 6 ? atol(argv[6]) : 64;
  if (argc > 5 && partitions < 1) {
    fprintf(stderr, "produce: PARTITIONS must be at least 1\n");
    return 2;
  }
  if (keys < 1) {
    fprintf(stderr, "produce: KEYS must be at least 1\n");
    return 2;
  }
  auto read = dipgate::ReadWholeFile(argv[4]);
  if (!read) {
    fprintf(stderr, "produce: %s\n", read.error().detail.c_str());
    return 1;
  }
  std::string& body = *read;
  std::string err;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", argv[1], err);
  conf->set("linger.ms", "5", err);
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf.get(), err));
  if (!p) return 1;
  if (partitions > 0 && !CreateTopic(p.get(), argv[2], partitions)) return 1;
  long n = atol(argv[3]);
  for (long i = 0; i < n; ++i) {
    std::string key = "k" + std::to_string(i % keys);
    while (p->produce(argv[2], RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                      body.data(), body.size(), key.data(), key.size(), 0, nullptr,
                      nullptr) == RdKafka::ERR__QUEUE_FULL) {
      p->poll(10);
    }
  }
  return p->flush(60000) == RdKafka::ERR_NO_ERROR ? 0 : 1;
}
