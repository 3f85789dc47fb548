#include "transport/https.h"

#include <memory>

#include "common/files.h"

namespace dipgate::transport {
namespace {

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

// One request on `h` (set up with ApplyTls).
Reply PerformOn(CURL* h, const char* expect, const std::string& method, const std::string& url,
                const std::string& body, const HeaderList& headers, size_t max_answer) {
  Reply reply;
  std::unique_ptr<curl_slist, SlistDeleter> list(RequestHeaders(expect, headers));
  AnswerSink sink{&reply.body, max_answer};
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "POST" || method == "PUT" || !body.empty()) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  } else {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, list.get());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, CollectAnswer);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
  CURLcode rc = curl_easy_perform(h);
  // The handle outlives this call: no pointer into this frame stays in it.
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, nullptr);
  ReadReply(h, rc, error, &reply);
  return reply;
}

}  // namespace

Result<TlsSettings> LoadTls(const TlsOptions& o) {
  if (o.min_version != "1.2" && o.min_version != "1.3") {
    return Error{Reason::kInternalError,
                 "TLS minimum version must be 1.2 or 1.3, not '" + o.min_version + "'"};
  }
  for (const auto& [what, path] : {std::pair<const char*, const std::string&>{"CA file", o.ca_file},
                                   {"client certificate", o.client_certificate},
                                   {"client key", o.client_key}}) {
    if (path.empty()) continue;
    if (auto read = ReadWholeFile(path); !read) {
      return Error{Reason::kInternalError, std::string("TLS ") + what + ": " + read.error().detail};
    }
  }
  if (o.client_certificate.empty() != o.client_key.empty()) {
    return Error{Reason::kInternalError, "a TLS client certificate needs its key, and a key its certificate"};
  }
  TlsSettings s{o, ""};
  if (!o.client_key_passphrase_file.empty()) {
    auto passphrase = ReadFirstLine(o.client_key_passphrase_file);
    if (!passphrase) {
      return Error{Reason::kInternalError, "TLS key passphrase file: " + passphrase.error().detail};
    }
    s.key_passphrase = std::move(*passphrase);
  }
  return s;
}

bool WaitsForContinue(const TlsOptions& o, size_t size) {
  return o.expect_continue_bytes > 0 && size >= o.expect_continue_bytes;
}

const char* ExpectHeader(const TlsOptions& o, size_t size) {
  return WaitsForContinue(o, size) ? "Expect: 100-continue" : "Expect:";
}

size_t CollectAnswer(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<AnswerSink*>(user);
  size_t bytes = size * n;
  if (sink->out->size() < sink->limit) {
    sink->out->append(data, std::min(bytes, sink->limit - sink->out->size()));
  }
  return bytes;  // the rest is read and dropped
}

curl_slist* RequestHeaders(const char* expect, const HeaderList& headers) {
  curl_slist* list = curl_slist_append(nullptr, "Content-Type: application/json");
  list = curl_slist_append(list, expect);
  for (const auto& [name, value] : headers) list = curl_slist_append(list, (name + ": " + value).c_str());
  return list;
}

void ReadReply(CURL* h, CURLcode rc, const char* error, Reply* reply) {
  if (rc != CURLE_OK) {
    reply->transport_error = true;
    reply->error = error[0] ? error : curl_easy_strerror(rc);
    return;
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &reply->status);
  curl_off_t retry_after = 0;
  if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK && retry_after > 0) {
    reply->retry_after_ms = static_cast<int64_t>(retry_after) * 1000;
  }
}

bool RefusedOverHttp2(CURL* h, const Reply& reply) {
  long version = 0;
  return !reply.transport_error && reply.status == 403 &&
         curl_easy_getinfo(h, CURLINFO_HTTP_VERSION, &version) == CURLE_OK &&
         version == CURL_HTTP_VERSION_2_0;
}

void ApplyTls(CURL* h, const TlsSettings& s) {
  const TlsOptions& o = s.options;
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, o.connect_timeout_ms);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, o.request_timeout_ms);
  curl_easy_setopt(h, CURLOPT_HTTP_VERSION, o.http2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(h, CURLOPT_SSLVERSION,
                   o.min_version == "1.3" ? CURL_SSLVERSION_TLSv1_3 : CURL_SSLVERSION_TLSv1_2);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  // The DIP CA only: no system bundle, no system directory.
  if (!o.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, o.ca_file.c_str());
  curl_easy_setopt(h, CURLOPT_CAPATH, nullptr);
  if (!o.client_certificate.empty()) {
    curl_easy_setopt(h, CURLOPT_SSLCERT, o.client_certificate.c_str());
    curl_easy_setopt(h, CURLOPT_SSLKEY, o.client_key.c_str());
  }
  if (!s.key_passphrase.empty()) curl_easy_setopt(h, CURLOPT_KEYPASSWD, s.key_passphrase.c_str());
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_EXPECT_100_TIMEOUT_MS, kExpectContinueTimeoutMs);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
}

void InitHttp() { curl_global_init(CURL_GLOBAL_DEFAULT); }

Reply Perform(const TlsSettings& tls, const std::string& method, const std::string& url,
              const std::string& body, const HeaderList& headers, size_t max_answer) {
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) {
    Reply reply;
    reply.transport_error = true;
    reply.error = "curl_easy_init failed";
    return reply;
  }
  ApplyTls(curl.get(), tls);
  const char* expect = ExpectHeader(tls.options, body.size());
  // A body that waits for 100 Continue goes over HTTP/1.1: a server that
  // asks for the client certificate after the handshake refuses HTTP/2
  // (HTTP_1_1_REQUIRED, or a 403 when a large body is on its way), and
  // some HTTP/2 servers never answer 100 Continue.
  if (WaitsForContinue(tls.options, body.size())) {
    curl_easy_setopt(curl.get(), CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
  }
  Reply reply = PerformOn(curl.get(), expect, method, url, body, headers, max_answer);
  if (RefusedOverHttp2(curl.get(), reply)) {
    curl_easy_setopt(curl.get(), CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    reply = PerformOn(curl.get(), expect, method, url, body, headers, max_answer);
  }
  return reply;
}

}  // namespace dipgate::transport
