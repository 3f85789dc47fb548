// Produces N copies of a DIP message to a topic as fast as the broker takes
// them (for bench/bridge_bench.sh).
//   produce BOOTSTRAP TOPIC N FILE
#include <librdkafka/rdkafkacpp.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "common/files.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: produce BOOTSTRAP TOPIC N FILE\n");
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
  long n = atol(argv[3]);
  for (long i = 0; i < n; ++i) {
    std::string key = "k" + std::to_string(i % 64);
    while (p->produce(argv[2], RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                      body.data(), body.size(), key.data(), key.size(), 0, nullptr,
                      nullptr) == RdKafka::ERR__QUEUE_FULL) {
      p->poll(10);
    }
  }
  return p->flush(60000) == RdKafka::ERR_NO_ERROR ? 0 : 1;
}
