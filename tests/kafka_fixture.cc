#include "tests/kafka_fixture.h"

#include <librdkafka/rdkafkacpp.h>
#include <unistd.h>

#include <chrono>
#include <memory>

namespace dipgate::testing {

std::vector<KafkaRecord> ReadTopic(const std::string& bootstrap, const std::string& topic,
                                  size_t want, int timeout_ms) {
  std::string err;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", bootstrap, err);
  conf->set("group.id", "reader-" + std::to_string(getpid()) + "-" + topic, err);
  conf->set("auto.offset.reset", "earliest", err);
  std::unique_ptr<RdKafka::KafkaConsumer> c(RdKafka::KafkaConsumer::create(conf.get(), err));
  c->subscribe({topic});
  std::vector<KafkaRecord> out;
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (out.size() < want && std::chrono::steady_clock::now() < end) {
    std::unique_ptr<RdKafka::Message> m(c->consume(200));
    if (m->err() != RdKafka::ERR_NO_ERROR) continue;
    KafkaRecord d;
    if (m->key() != nullptr) d.key = *m->key();
    d.value.assign(static_cast<const char*>(m->payload()), m->len());
    if (m->headers()) {
      for (const auto& h : m->headers()->get_all()) {
        d.headers[h.key()] = std::string(static_cast<const char*>(h.value()), h.value_size());
      }
    }
    out.push_back(std::move(d));
  }
  c->close();
  return out;
}

Producer::Producer(const std::string& bootstrap) {
  std::string err;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", bootstrap, err);
  conf->set("enable.idempotence", "true", err);
  p_.reset(RdKafka::Producer::create(conf.get(), err));
  EXPECT_NE(p_, nullptr) << err;
}

Producer::~Producer() = default;

void Producer::Send(const std::string& topic, const std::string& key, const std::string& value,
                    int32_t partition) {
  for (;;) {
    auto rc = p_->produce(topic, partition, RdKafka::Producer::RK_MSG_COPY,
                          const_cast<char*>(value.data()), value.size(),
                          key.empty() ? nullptr : key.data(), key.size(), 0, nullptr, nullptr);
    if (rc != RdKafka::ERR__QUEUE_FULL) {
      EXPECT_EQ(rc, RdKafka::ERR_NO_ERROR) << RdKafka::err2str(rc);
      break;
    }
    p_->poll(10);
  }
  p_->poll(0);
}

void Producer::Flush() { EXPECT_EQ(p_->flush(30000), RdKafka::ERR_NO_ERROR); }

std::string Tail(const std::string& path) {
  std::string log = ReadFile(path);
  return log.size() > 4000 ? log.substr(log.size() - 4000) : log;
}

}  // namespace dipgate::testing
