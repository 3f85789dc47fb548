// HTTPS delivery to the DIP with libcurl: mutual TLS (TLS 1.2 minimum),
// the DIP CA only, HTTP/2 when the server offers it. One client per worker
// thread; its handle keeps connections open between messages, so each
// worker reuses its mTLS connection (CoCo 4.1.1).
#ifndef DIPGATE_KAFKA_BRIDGE_DIP_CLIENT_H_
#define DIPGATE_KAFKA_BRIDGE_DIP_CLIENT_H_

#include <curl/curl.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kafka_bridge/config.h"
#include "transport/https.h"

namespace dipgate::bridge {

// The DIP's answer: status, transport error, the first 512 bytes of the
// body (kept for logs and dead letters), Retry-After.
using HttpReply = transport::Reply;

class DipClient {
 public:
  explicit DipClient(const transport::TlsSettings& tls);
  DipClient(const DipClient&) = delete;
  DipClient& operator=(const DipClient&) = delete;

  HttpReply Post(const std::string& url, const std::string& body,
                 const std::vector<std::pair<std::string, std::string>>& headers);

 private:
  struct CurlDeleter {
    void operator()(CURL* c) const { curl_easy_cleanup(c); }
  };
  std::unique_ptr<CURL, CurlDeleter> curl_;
};

// The transport settings of the bridge's configuration (tls.*, timeouts,
// http2), files read: internal_error naming an unreadable file.
Result<transport::TlsSettings> LoadTls(const Config& config);

}  // namespace dipgate::bridge

#endif  // DIPGATE_KAFKA_BRIDGE_DIP_CLIENT_H_
