#include "kafka_bridge/dip_client.h"

namespace dipgate::bridge {
namespace {

constexpr size_t kExcerpt = 512;  // of an answer, kept for logs and dead letters

}  // namespace

Result<transport::TlsSettings> LoadTls(const Config& c) {
  transport::TlsOptions o;
  o.ca_file = c.ca_file;
  o.client_certificate = c.client_certificate;
  o.client_key = c.client_key;
  o.client_key_passphrase_file = c.client_key_passphrase_file;
  o.min_version = c.tls_min_version;
  o.http2 = c.http2;
  o.connect_timeout_ms = static_cast<long>(c.connect_timeout_ms);
  o.request_timeout_ms = static_cast<long>(c.request_timeout_ms);
  return transport::LoadTls(o);
}

DipClient::DipClient(const transport::TlsSettings& tls) : curl_(curl_easy_init()) {
  CURL* h = curl_.get();
  if (h == nullptr) return;
  transport::ApplyTls(h, tls);
}

HttpReply DipClient::Post(const std::string& url, const std::string& body,
                          const std::vector<std::pair<std::string, std::string>>& headers) {
  if (!curl_) {
    HttpReply reply;
    reply.transport_error = true;
    reply.error = "curl_easy_init failed";
    return reply;
  }
  return transport::PerformOn(curl_.get(), "POST", url, body, headers, kExcerpt);
}

}  // namespace dipgate::bridge
