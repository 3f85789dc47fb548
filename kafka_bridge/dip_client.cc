#include "kafka_bridge/dip_client.h"

#include "common/files.h"

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

void InitHttp() { curl_global_init(CURL_GLOBAL_DEFAULT); }

DipClient::DipClient(const Config& c) : curl_(curl_easy_init()) {
  CURL* h = curl_.get();
  if (h == nullptr) return;
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(c.connect_timeout_ms));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(c.request_timeout_ms));
  curl_easy_setopt(h, CURLOPT_HTTP_VERSION,
                   c.http2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(h, CURLOPT_SSLVERSION,
                   c.tls_min_version == "1.3" ? CURL_SSLVERSION_TLSv1_3 : CURL_SSLVERSION_TLSv1_2);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  // The DIP CA only: no system bundle, no system directory.
  if (!c.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, c.ca_file.c_str());
  curl_easy_setopt(h, CURLOPT_CAPATH, nullptr);
  if (!c.client_certificate.empty()) {
    curl_easy_setopt(h, CURLOPT_SSLCERT, c.client_certificate.c_str());
    curl_easy_setopt(h, CURLOPT_SSLKEY, c.client_key.c_str());
  }
  if (!c.client_key_passphrase_file.empty() &&
      ReadFirstLine(c.client_key_passphrase_file, &key_passphrase_)) {
    curl_easy_setopt(h, CURLOPT_KEYPASSWD, key_passphrase_.c_str());
  }
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
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
  long connects = 0;
  curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
  reply.reused_connection = connects == 0;
  reply.excerpt = std::move(answer);
  return reply;
}

}  // namespace dipgate::bridge
