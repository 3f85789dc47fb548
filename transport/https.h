// HTTPS to the DIP with libcurl, shared by dipctl and the Kafka bridge:
// mutual TLS (TLS 1.2 minimum, 1.3 on request), the DIP CA only (never the
// system store), HTTP/2 when the server offers it; and one-shot requests
// for the command line (the bridge's many requests in flight go through
// transport/http_loop.h).
#ifndef DIPGATE_TRANSPORT_HTTPS_H_
#define DIPGATE_TRANSPORT_HTTPS_H_

#include <curl/curl.h>

#include <string>
#include <utility>
#include <vector>

#include "common/result.h"

namespace dipgate::transport {

struct TlsOptions {
  std::string ca_file;                     // the server's CA bundle (PEM)
  std::string client_certificate;          // mTLS client certificate (PEM), optional
  std::string client_key;                  // its key (PEM)
  std::string client_key_passphrase_file;  // first line is the key's passphrase
  std::string min_version = "1.2";         // "1.2" or "1.3"
  bool http2 = true;
  long connect_timeout_ms = 10000;
  long request_timeout_ms = 30000;
  // Bodies of at least this many bytes are sent with "Expect: 100-continue"
  // (0: never). A server that asks for the client certificate after the
  // handshake (Azure: TLS 1.2 renegotiation, TLS 1.3 post-handshake auth)
  // buffers a body that arrives before the certificate only up to ~100 KB
  // and refuses a larger one (403/413); with Expect the body waits for the
  // server's 100 Continue, sent once the certificate is in.
  size_t expect_continue_bytes = 65536;
};

// How long a request with "Expect: 100-continue" waits for the server's
// 100 Continue before sending its body anyway.
constexpr long kExpectContinueTimeoutMs = 1000;

// True when a body of `size` bytes waits for 100 Continue (at or above the
// threshold).
bool WaitsForContinue(const TlsOptions& options, size_t size);
// The Expect header for a body of `size` bytes: "Expect: 100-continue" when
// it waits, else "Expect:" (none; libcurl would add its own for bodies over
// 1 MB).
const char* ExpectHeader(const TlsOptions& options, size_t size);

// Options checked and files read once, at start.
struct TlsSettings {
  TlsOptions options;
  std::string key_passphrase;
};

// internal_error naming the file or option when a file is unreadable or an
// option invalid: a passphrase file that cannot be read fails here, not as
// endless handshake failures later.
Result<TlsSettings> LoadTls(const TlsOptions& options);

// Sets the TLS, HTTP version and timeout options of an easy handle (curl
// copies the strings).
void ApplyTls(CURL* handle, const TlsSettings& settings);

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct Reply {
  long status = 0;              // 0 when no HTTP answer arrived
  bool transport_error = false;
  std::string error;            // curl's message on transport errors
  std::string body;             // the answer, up to the caller's limit
  int64_t retry_after_ms = -1;  // from Retry-After, if any
};

// The pieces of one request shared by Perform() and transport/http_loop:
// where the answer goes (CURLOPT_WRITEFUNCTION CollectAnswer with an
// AnswerSink as CURLOPT_WRITEDATA: up to `limit` bytes kept, the rest read
// and dropped), the request's header list (Content-Type, `expect`, then
// `headers`; the caller frees it), and the reply of a finished transfer
// (curl's error, or the status and Retry-After).
struct AnswerSink {
  std::string* out;
  size_t limit;
};
size_t CollectAnswer(char* data, size_t size, size_t n, void* sink);
curl_slist* RequestHeaders(const char* expect, const HeaderList& headers);
void ReadReply(CURL* handle, CURLcode result, const char* error, Reply* reply);
// A server that asks for the client certificate after the handshake cannot
// do so under HTTP/2 (no renegotiation, no post-handshake auth). It refuses
// HTTP/2 with HTTP_1_1_REQUIRED, which libcurl follows over HTTP/1.1 by
// itself, or (Apache httpd, sometimes) answers 403. True for that 403: an
// HTTP/2 answer with status 403, to be sent once more over HTTP/1.1 (a real
// 403 comes back as one).
bool RefusedOverHttp2(CURL* handle, const Reply& reply);

// Call once before threads start (libcurl's global init is not thread-safe).
void InitHttp();

// One request on a fresh connection (dipctl). `body` is sent with POST
// and PUT (even when empty) and with any method when not empty. Up to `max_answer` bytes of
// the answer are kept.
Reply Perform(const TlsSettings& tls, const std::string& method, const std::string& url,
              const std::string& body, const HeaderList& headers, size_t max_answer = 1 << 20);

}  // namespace dipgate::transport

#endif  // DIPGATE_TRANSPORT_HTTPS_H_
