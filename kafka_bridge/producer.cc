#include "kafka_bridge/producer.h"

#include <librdkafka/rdkafka.h>

namespace dipgate::bridge {

void KafkaProducer::Reports::dr_cb(RdKafka::Message& message) {
  std::unique_ptr<Acked> acked(static_cast<Acked*>(message.msg_opaque()));
  if (acked && !closing) (*acked)(message.err());
}

Result<std::unique_ptr<KafkaProducer>> KafkaProducer::Create(
    std::map<std::string, std::string> properties, const std::string& role) {
  std::unique_ptr<KafkaProducer> p(new KafkaProducer());
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  properties["enable.idempotence"] = "true";
  properties["acks"] = "all";
  std::string err;
  for (const auto& [k, v] : properties) {
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) {
      return Error{Reason::kInternalError, "config: kafka." + k + " (" + role + " producer): " + err};
    }
  }
  if (conf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(&p->reports_), err) !=
      RdKafka::Conf::CONF_OK) {
    return Error{Reason::kInternalError, "dr_cb (" + role + " producer): " + err};
  }
  p->producer_.reset(RdKafka::Producer::create(conf.get(), err));
  if (!p->producer_) return Error{Reason::kInternalError, "Kafka producer (" + role + "): " + err};
  return p;
}

KafkaProducer::~KafkaProducer() {
  if (!producer_) return;
  reports_.closing = true;  // the owner of the callbacks' state may be going too
  producer_->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
  producer_->poll(0);  // serves the purged records' reports: frees their callbacks
}

RdKafka::ErrorCode KafkaProducer::Produce(const OutRecord& record, Acked acked) {
  std::unique_ptr<RdKafka::Headers> headers(RdKafka::Headers::create());
  for (const auto& [name, value] : record.headers) headers->add(name, value);
  auto opaque = std::make_unique<Acked>(std::move(acked));
  RdKafka::ErrorCode rc = producer_->produce(
      record.topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
      const_cast<char*>(record.value.data()), record.value.size(),
      record.key.empty() ? nullptr : record.key.data(), record.key.size(), 0, headers.get(),
      opaque.get());
  if (rc == RdKafka::ERR_NO_ERROR) {
    headers.release();  // librdkafka owns them now
    opaque.release();   // freed by dr_cb
  }
  return rc;
}

void KafkaProducer::WakeOn(int fd) {
  rd_kafka_queue_t* main = rd_kafka_queue_get_main(producer_->c_ptr());
  rd_kafka_queue_io_event_enable(main, fd, "p", 1);
  rd_kafka_queue_destroy(main);
}

}  // namespace dipgate::bridge
