// Real nginx processes for integration tests: each instance gets its own
// prefix directory and ports, loads the module built by Bazel into Debian's
// stock nginx, and fails the test if its error log holds [alert] or
// [emerg]. Also a real HTTP(S) peer (tools/dip_standin/dip_standin.py).
#ifndef DIPGATE_TESTS_NGINX_FIXTURE_H_
#define DIPGATE_TESTS_NGINX_FIXTURE_H_

#include <functional>
#include <string>
#include <vector>

#include "tests/fixtures.h"

namespace dipgate::testing {

// Polls `ready` every 20 ms for up to `ms`; its last answer.
bool WaitFor(const std::function<bool()>& ready, int ms);

// How to run nginx: the stock binary, with the sanitizer runtimes preloaded
// when the module was built with --config=asan.
std::string NginxCommand();

struct NginxOptions {
  int workers = 1;
  // Runfile path of the module to load.
  std::string module = "nginx_module/ngx_http_dip_module.so";
};

class Nginx {
 public:
  // `http_body` is the inside of the http {} block; "$PREFIX" in it is
  // replaced by the instance's directory.
  explicit Nginx(const std::string& http_body, NginxOptions options = {});
  ~Nginx();
  Nginx(const Nginx&) = delete;
  Nginx& operator=(const Nginx&) = delete;

  bool started() const { return started_; }
  const std::string& start_output() const { return start_output_; }
  const std::string& prefix() const { return prefix_; }
  std::string ErrorLog() const;
  // Rewrites the configuration and reloads (nginx -s reload); waits until a
  // new worker runs.
  bool Reload(const std::string& http_body);
  // `nginx -t` on a configuration, without starting it.
  static CommandResult Test(const std::string& http_body);
  int WorkerPid() const;

 private:
  static std::string Conf(const std::string& prefix, const std::string& http_body,
                          const NginxOptions& options);
  NginxOptions options_;
  std::string prefix_;
  std::string start_output_;
  bool started_ = false;
};

// Server directives: listen on `port` with `how` ("ssl", "ssl http2"),
// the test PKI's server certificate, client certificates required.
std::string MutualTlsListen(int port, const std::string& how);

// dip_verify on, with the test PKI's CA bundle and CRLs (location lines).
std::string DipVerifyTrust();

// A location `name` verifying with the test PKI (nonprod signers, 64 KB
// bodies) plus `extra` directives, passing the verdict and signer on as
// X-Verified, X-Signer and X-Signer-Org to 127.0.0.1:`upstream`/app.
std::string VerifyLocation(const std::string& name, const std::string& extra, int upstream);

// A DIP stand-in process (tools/dip_standin/dip_standin.py serve).
class Ingress {
 public:
  // TLS when `tls` (server cert from the PKI; client certs required from
  // the PKI's CA when `mtls`).
  Ingress(bool tls, bool mtls, bool accept_all = false,
          const std::vector<std::string>& extra_args = {});
  ~Ingress();
  int port() const { return port_; }

 private:
  int port_;
  int pid_ = -1;
};

struct HttpResult {
  int status = 0;
  std::string body;
  std::string raw;  // curl's whole output
};

// curl with `args` (already quoted); status and body.
HttpResult Curl(const std::string& args);

}  // namespace dipgate::testing

#endif  // DIPGATE_TESTS_NGINX_FIXTURE_H_
