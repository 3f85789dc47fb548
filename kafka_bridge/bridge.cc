#include "kafka_bridge/bridge.h"

#include <chrono>
#include <thread>

#include "kafka_bridge/inbound.h"
#include "kafka_bridge/log.h"
#include "kafka_bridge/outbound.h"
#include "transport/https.h"

namespace dipgate::bridge {

Result<std::unique_ptr<Bridge>> Bridge::Start(Config config) {
  transport::InitHttp();
  std::unique_ptr<Bridge> b(new Bridge());
  b->config_ = std::move(config);
  if (!b->config_.metrics_listen.empty()) {
    if (auto served = b->metrics_.Serve(b->config_.metrics_listen); !served) return served.error();
  }
  if (!b->config_.routes.empty()) {
    auto outbound = Outbound::Start(b->config_, &b->metrics_);
    if (!outbound) return outbound.error();
    b->outbound_ = std::move(*outbound);
  }
  if (b->config_.inbound.enabled) {
    auto inbound = Inbound::Start(b->config_, &b->metrics_);
    if (!inbound) return inbound.error();
    b->inbound_ = std::move(*inbound);
  }
  return b;
}

Bridge::~Bridge() = default;

int Bridge::Run() {
  int exit_code = 0;
  if (outbound_) {
    exit_code = outbound_->Run(stop_, reload_);
  } else {  // inbound only: serve until asked to stop
    metrics_.SetHealth(true, "receiving");
    LogEvent("info", "started", Field("routes", static_cast<int64_t>(0)));
    while (!stop_.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    metrics_.SetHealth(false, "stopping");
    LogEvent("info", "stopping");
  }
  if (inbound_) {
    inbound_.reset();  // finishes the webhooks in progress, flushes
    LogEvent("info", "inbound_stopped",
             Field("webhooks_accepted", static_cast<int64_t>(metrics_.webhooks_accepted)));
  }
  metrics_.StopServing();
  return exit_code;
}

}  // namespace dipgate::bridge
