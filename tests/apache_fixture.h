// A DIP endpoint the way Azure-hosted ones behave, played by Debian's stock
// Apache httpd (/usr/sbin/apache2, installed by deploy/setup.sh with its
// system service left stopped): the TLS handshake asks for no client
// certificate; POST /dip-channel/{interfaceID} requires one, so the server
// asks for it after the handshake (TLS 1.2 renegotiation or TLS 1.3
// post-handshake authentication), buffering at most 100 KB of request body
// meanwhile (SSLRenegBufferSize 102400: a larger body on a connection that
// has no certificate yet is refused with 413). A request that gets through
// is answered 201 with an empty StandardResponse by a stock CGI script.
//
// Each instance has its own directory, configuration, port, pid and logs.
// The directory is under /tmp, not TEST_TMPDIR: Apache's workers run as
// www-data (it refuses to serve as root) and must reach the CGI script.
#ifndef DIPGATE_TESTS_APACHE_FIXTURE_H_
#define DIPGATE_TESTS_APACHE_FIXTURE_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "tests/nginx_fixture.h"

namespace dipgate::testing {

enum class ApacheMode {
  // TLS 1.2 only; the certificate is asked for by renegotiation.
  kTls12Renegotiation,
  // TLS 1.3 only; the certificate is asked for by post-handshake auth.
  kTls13PostHandshake,
  // TLS 1.2 with HTTP/2 offered (ALPN h2, http/1.1): an HTTP/2 request to
  // /dip-channel/ is refused with HTTP_1_1_REQUIRED (renegotiation is
  // forbidden in HTTP/2) and the client must go on over HTTP/1.1.
  kTls12Http2Offered,
};

std::string ToString(ApacheMode mode);

// One line of the access log.
struct ApacheRequest {
  std::string connection;  // Apache's connection id (%{c}L): same id, same connection
  int keepalive = 0;       // requests before this one on its connection (%k)
  std::string protocol;    // "HTTP/1.1", "HTTP/2.0"
  std::string tls;         // "TLSv1.2", "TLSv1.3"
  std::string client_dn;   // the client certificate's subject; "" when none
  int status = 0;
  long bytes = 0;           // bytes received, headers and body (%I)
  long content_length = 0;  // the request's Content-Length; 0 when none
  std::string method;
  std::string path;
};

class ApacheDip {
 public:
  explicit ApacheDip(ApacheMode mode);
  ~ApacheDip();
  ApacheDip(const ApacheDip&) = delete;
  ApacheDip& operator=(const ApacheDip&) = delete;

  bool started() const { return started_; }
  ApacheMode mode() const { return mode_; }
  int port() const { return port_; }
  // https://localhost:PORT (the test PKI's server certificate names localhost).
  std::string url() const;
  // The access log, parsed; waits up to `timeout_ms` for at least `want` lines.
  std::vector<ApacheRequest> Log(size_t want = 0, int timeout_ms = 5000) const;
  std::string ErrorLog() const;
  const std::string& dir() const { return dir_; }

 private:
  ApacheMode mode_;
  std::string dir_;
  int port_;
  pid_t pid_ = -1;
  bool started_ = false;
};

// The lines of `log` from index `from` on.
std::vector<ApacheRequest> Since(const std::vector<ApacheRequest>& log, size_t from);

// For failure messages: one line per request.
std::string Describe(const std::vector<ApacheRequest>& log);

// The body size Apache buffers before the certificate (SSLRenegBufferSize).
inline constexpr long kApacheRenegBuffer = 102400;

}  // namespace dipgate::testing

#endif  // DIPGATE_TESTS_APACHE_FIXTURE_H_
