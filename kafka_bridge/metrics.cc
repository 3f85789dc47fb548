#include "kafka_bridge/metrics.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include <cstring>
#include <sstream>

#include "common/reason.h"

namespace dipgate::bridge {
namespace {

MHD_Result Answer(void* cls, MHD_Connection* connection, const char* url, const char* method,
                  const char* /*version*/, const char* /*upload*/, size_t* /*upload_size*/,
                  void** /*state*/) {
  auto* m = static_cast<Metrics*>(cls);
  std::string body;
  unsigned int status = MHD_HTTP_OK;
  const char* type = "text/plain; version=0.0.4";
  if (strcmp(method, "GET") != 0) {
    status = MHD_HTTP_METHOD_NOT_ALLOWED;
    body = "GET only\n";
  } else if (strcmp(url, "/metrics") == 0) {
    body = m->Render();
  } else if (strcmp(url, "/healthz") == 0) {
    Status health = m->Healthy();
    status = health.ok() ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
    body = health.ok() ? "ok\n" : health.error().detail + "\n";
  } else {
    status = MHD_HTTP_NOT_FOUND;
    body = "try /metrics or /healthz\n";
  }
  MHD_Response* response =
      MHD_create_response_from_buffer(body.size(), body.data(), MHD_RESPMEM_MUST_COPY);
  MHD_add_response_header(response, "Content-Type", type);
  MHD_Result rc = MHD_queue_response(connection, status, response);
  MHD_destroy_response(response);
  return rc;
}

}  // namespace

void Metrics::ObserveLatency(double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < kBucketsSeconds.size(); ++i) {
    if (seconds <= kBucketsSeconds[i]) ++buckets_[i];
  }
  ++latency_count_;
  latency_sum_ += seconds;
}

void Metrics::CountWebhookRefusal(const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  ++refusals_[reason];
}

void Metrics::CountDeadLetter(std::string_view reason) {
  dead_lettered += 1;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = dead_letters_.find(reason);
  if (it == dead_letters_.end()) it = dead_letters_.emplace(std::string(reason), 0).first;
  ++it->second;
}

void Metrics::ExpectDeadLetter(std::string_view reason) {
  std::lock_guard<std::mutex> lock(mu_);
  if (dead_letters_.find(reason) == dead_letters_.end()) dead_letters_.emplace(std::string(reason), 0);
}

void Metrics::CountDipAnswer(long status) {
  std::lock_guard<std::mutex> lock(mu_);
  ++dip_answers_[status];
}

void Metrics::SetHealth(bool healthy, const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  healthy_ = healthy;
  health_reason_ = why;
}

Status Metrics::Healthy() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (healthy_) return OkStatus();
  return Error{Reason::kInternalError, health_reason_};
}

std::string Metrics::Render() const {
  std::ostringstream o;
  auto counter = [&o](const char* name, const char* help, uint64_t v) {
    o << "# HELP " << name << " " << help << "\n# TYPE " << name << " counter\n"
      << name << " " << v << "\n";
  };
  auto gauge = [&o](const char* name, const char* help, int64_t v) {
    o << "# HELP " << name << " " << help << "\n# TYPE " << name << " gauge\n"
      << name << " " << v << "\n";
  };
  counter("dipgate_bridge_consumed_total", "Messages fetched from Kafka.", consumed);
  counter("dipgate_bridge_delivered_total",
          "Records the DIP accepted (MSG0000, or MSG1006: received before).", delivered);
  counter("dipgate_bridge_dip_duplicates_total",
          "Records the DIP answered MSG1006 (an earlier attempt got through).", dip_duplicates);
  counter("dipgate_bridge_posts_total", "POSTs to the DIP (each a signed DIPMessageArray).", posts);
  counter("dipgate_bridge_batch_splits_total",
          "Batches the DIP refused as a whole (400/413), split to isolate the refused record.",
          batch_splits);
  counter("dipgate_bridge_receipts_total", "Receipts written to the receipts topic.", receipts);
  counter("dipgate_bridge_api_key_fallbacks_total",
          "POSTs repeated with the secondary API key after a 401/403.", api_key_fallbacks);
  counter("dipgate_bridge_retried_total", "Delivery attempts that will be retried.", retried);
  counter("dipgate_bridge_dead_lettered_total", "Messages written to the dead-letter topic.",
          dead_lettered);
  counter("dipgate_bridge_committed_total", "Offset commits made.", committed);
  counter("dipgate_bridge_abandoned_total",
          "Deliveries abandoned at shutdown or rebalance (not committed, so redelivered).",
          abandoned);
  gauge("dipgate_bridge_in_flight", "Records taken for delivery and not yet done.", in_flight);
  gauge("dipgate_bridge_requests_in_flight", "POSTs being signed or awaiting the DIP's answer.",
        requests_in_flight);
  gauge("dipgate_bridge_buffered", "Messages fetched and not yet delivered.", buffered);
  gauge("dipgate_bridge_buffered_peak", "Most messages ever buffered at once.", buffered_peak);
  gauge("dipgate_bridge_lag", "Messages behind the end of the assigned partitions.", lag);
  gauge("dipgate_bridge_http1_fallback",
        "1 once the DIP answered HTTP/2 requests over HTTP/1.1 (no HTTP/2, or HTTP_1_1_REQUIRED): "
        "POSTs go over HTTP/1.1 keep-alive connections from then on.",
        http1_fallback);
  gauge("dipgate_bridge_paused", "Partitions paused for back-pressure (over their share of "
        "max_buffered_messages).", paused);
  gauge("dipgate_bridge_certificate_days_to_expiry",
        "Days until the first signing or TLS certificate expires.", certificate_days_to_expiry);
  counter("dipgate_bridge_webhooks_received_total", "DIP webhooks received (inbound).",
          webhooks_received);
  counter("dipgate_bridge_webhooks_accepted_total",
          "Webhooks answered 201 once Kafka acknowledged every message.", webhooks_accepted);
  counter("dipgate_bridge_webhooks_refused_total",
          "Webhooks refused as the sender's fault (400/401/403/413; the DIP does not retry).",
          webhooks_refused);
  counter("dipgate_bridge_webhooks_unavailable_total",
          "Webhooks answered 503 because Kafka did not acknowledge (the DIP retries).",
          webhooks_unavailable);
  counter("dipgate_bridge_inbound_produced_total", "Webhook messages acknowledged by Kafka.",
          inbound_produced);
  counter("dipgate_bridge_inbound_duplicates_total",
          "Webhook messages already in Kafka (same transactionID), not produced again.",
          inbound_duplicates);
  counter("dipgate_bridge_inbound_replays_total", "Replayed messages (replayIndicator true).",
          inbound_replays);
  o << "# HELP dipgate_bridge_inbound_ack_seconds Time from a webhook's arrival to Kafka's "
       "acknowledgement of all its messages.\n# TYPE dipgate_bridge_inbound_ack_seconds summary\n"
    << "dipgate_bridge_inbound_ack_seconds_sum " << inbound_ack_micros / 1e6 << "\n"
    << "dipgate_bridge_inbound_ack_seconds_count " << webhooks_accepted << "\n";
  std::lock_guard<std::mutex> lock(mu_);
  o << "# HELP dipgate_bridge_healthy 1 while /healthz answers 200 (consuming or receiving), "
       "0 otherwise (starting, stopping, a fatal Kafka error).\n"
       "# TYPE dipgate_bridge_healthy gauge\n"
    << "dipgate_bridge_healthy " << (healthy_ ? 1 : 0) << "\n";
  o << "# HELP dipgate_bridge_webhooks_not_accepted_total Webhooks refused or answered 503, by "
       "reason.\n# TYPE dipgate_bridge_webhooks_not_accepted_total counter\n";
  // Every reason word and the usual statuses even at 0 (see ExpectDeadLetter).
  std::map<std::string, uint64_t> refusals;
  for (int r = static_cast<int>(Reason::kOk) + 1; r <= static_cast<int>(Reason::kInternalError); ++r) {
    refusals.emplace(std::string(ToString(static_cast<Reason>(r))), 0);
  }
  for (const auto& [reason, n] : refusals_) refusals[reason] = n;
  for (const auto& [reason, n] : refusals) {
    o << "dipgate_bridge_webhooks_not_accepted_total{reason=\"" << reason << "\"} " << n << "\n";
  }
  o << "# HELP dipgate_bridge_dead_letters_total Records written to the dead-letter topic, by "
       "reason.\n# TYPE dipgate_bridge_dead_letters_total counter\n";
  for (const auto& [reason, n] : dead_letters_) {
    o << "dipgate_bridge_dead_letters_total{reason=\"" << reason << "\"} " << n << "\n";
  }
  o << "# HELP dipgate_bridge_dip_answers_total The DIP's answers to the bridge's POSTs, by "
       "HTTP status (\"0\": no answer, a transport error or the request timeout).\n"
       "# TYPE dipgate_bridge_dip_answers_total counter\n";
  std::map<long, uint64_t> answers = dip_answers_;
  for (long status : {0L, 201L, 400L, 401L, 403L, 429L, 500L, 502L, 503L, 504L}) {
    answers.emplace(status, 0);
  }
  for (const auto& [status, n] : answers) {
    o << "dipgate_bridge_dip_answers_total{status=\"" << status << "\"} " << n << "\n";
  }
  o << "# HELP dipgate_bridge_delivery_seconds Time from fetch to DIP acceptance or "
       "dead-letter.\n# TYPE dipgate_bridge_delivery_seconds histogram\n";
  for (size_t i = 0; i < kBucketsSeconds.size(); ++i) {
    o << "dipgate_bridge_delivery_seconds_bucket{le=\"" << kBucketsSeconds[i] << "\"} "
      << buckets_[i] << "\n";
  }
  o << "dipgate_bridge_delivery_seconds_bucket{le=\"+Inf\"} " << latency_count_ << "\n"
    << "dipgate_bridge_delivery_seconds_sum " << latency_sum_ << "\n"
    << "dipgate_bridge_delivery_seconds_count " << latency_count_ << "\n";
  return o.str();
}

Status Metrics::Serve(const std::string& listen) {
  size_t colon = listen.rfind(':');
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(atoi(listen.c_str() + colon + 1)));
  if (inet_pton(AF_INET, listen.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
    return Error{Reason::kInternalError, "metrics_listen: not an IPv4 address: " + listen};
  }
  daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, nullptr, nullptr, &Answer, this,
                             MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_CONNECTION_LIMIT, 16U,
                             MHD_OPTION_CONNECTION_TIMEOUT, 10U, MHD_OPTION_END);
  if (daemon_ == nullptr) {
    return Error{Reason::kInternalError, "metrics_listen: cannot listen on " + listen};
  }
  return OkStatus();
}

void Metrics::StopServing() {
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
  daemon_ = nullptr;
}

Metrics::~Metrics() { StopServing(); }

}  // namespace dipgate::bridge
