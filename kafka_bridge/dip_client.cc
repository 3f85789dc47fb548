#include "kafka_bridge/dip_client.h"


namespace dipgate::bridge {
namespace {

constexpr size_t kExcerpt = 512;

size_t Collect(char* data, size_t size, size_t n, void* user) {
  auto* out = static_cast<std::string*>(user);
  size_t bytes = size * n;
  if (out->size() < kExcerpt) out->append(data, std::min(bytes, kExcerpt - out->size()));
  return bytes;  // the rest is read and dropped
}

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
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, Collect);
}

HttpReply DipClient::Post(const std::string& url, const std::string& body,
                          const std::vector<std::pair<std::string, std::string>>& headers) {
  HttpReply reply;
  CURL* h = curl_.get();
  if (h == nullptr) {
    reply.transport_error = true;
    reply.error = "curl_easy_init failed";
    return reply;
  }
  struct curl_slist* list = nullptr;
  list = curl_slist_append(list, "Content-Type: application/json");
  list = curl_slist_append(list, "Expect:");
  for (const auto& [name, value] : headers) {
    list = curl_slist_append(list, (name + ": " + value).c_str());
  }
  std::string answer;
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_POST, 1L);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
  CURLcode rc = curl_easy_perform(h);
  curl_slist_free_all(list);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
  if (rc != CURLE_OK) {
    reply.transport_error = true;
    reply.error = error[0] ? error : curl_easy_strerror(rc);
    return reply;
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &reply.status);
  curl_off_t retry_after = 0;
  if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK && retry_after > 0) {
    reply.retry_after_ms = static_cast<int64_t>(retry_after) * 1000;
  }
  reply.excerpt = std::move(answer);
  return reply;
}

}  // namespace dipgate::bridge
