#include "tests/kafka_fixture.h"

#include <librdkafka/rdkafkacpp.h>
#include <rapidjson/document.h>
#include <rapidjson/pointer.h>
#include <unistd.h>

#include <chrono>
#include <memory>

#include "common/dip/message.h"

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

std::string SampleRecord(const std::string& tag, const std::string& key, int seq, bool wrapped) {
  static const std::string sample = ReadFile(Runfile("tests/data/if-033-appointment-request.json"));
  std::string text = sample;
  auto replace_all = [&text](const std::string& from, const std::string& to) {
    for (size_t at = 0; (at = text.find(from, at)) != std::string::npos; at += to.size()) {
      text.replace(at, from.size(), to);
    }
  };
  replace_all("S-005-1234567abc-SUP-20222313-12345678a",
              "S-033-00000000aa-SUP-20261202-" + tag + key + "x" + std::to_string(seq));
  std::string digits = std::to_string(1000 + std::hash<std::string>()(key) % 9000);
  replace_all("\"MPANCore\":\"1234567890123\"", "\"MPANCore\":\"123456789" + digits + "\"");
  while (!text.empty() && isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  if (wrapped) return text;
  // The bare payload: what is inside [{"payload": ...}].
  size_t begin = text.find("{\"payload\":") + 11;
  return text.substr(begin, text.size() - begin - 2);
}

std::string SampleEgress(const std::string& tag, int i, int mpan_base, bool d0,
                         const std::string& txid, bool replay) {
  rapidjson::Document d;
  d.Parse(ReadFile(Runfile("tests/data/if-033-appointment-request.json")).c_str());
  auto set = [&](const char* pointer, const std::string& value) {
    rapidjson::Pointer(pointer).Set(d, rapidjson::Value(value.c_str(), d.GetAllocator()).Move(),
                                    d.GetAllocator());
  };
  char mpan[14];
  snprintf(mpan, sizeof(mpan), "%013d", mpan_base + i);
  set("/0/payload/CommonBlock/S1/senderUniqueReference",
      "S-033-0123456789-SUP-20261201-" + tag + std::to_string(i) + "x" + std::to_string(getpid()));
  set("/0/payload/CommonBlock/M0/MPANCore", mpan);
  if (d0) {
    rapidjson::Document block(&d.GetAllocator());
    block.Parse((R"({"transactionID":")" + txid +
                 R"(","transactionTimestamp":"2026-12-01T10:00:00+00:00","publicationID":"PUB-033",)"
                 R"("initialCorrelationID":null,"replayIndicator":)" +
                 (replay ? "true" : "false") + R"(,"serviceTicketURL":null})")
                    .c_str());
    rapidjson::Pointer("/0/payload/CommonBlock/D0").Set(d, block);
  }
  return dip::ToJson(d[0]);
}

}  // namespace dipgate::testing
