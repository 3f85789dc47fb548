#include "tests/apache_fixture.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

namespace dipgate::testing {
namespace {

constexpr char kApache[] = "/usr/sbin/apache2";
constexpr char kModules[] = "/usr/lib/apache2/modules";

// Answers like the DIP: 201 and a StandardResponse with one MSG0000 entry
// per message of the DIPMessageArray it read whole (an empty messageArray
// when the body is not one). Python 3, as Debian ships it.
constexpr char kCgi[] = R"(#!/usr/bin/python3
import json, sys, uuid
body = sys.stdin.buffer.read()
try:
    messages = json.loads(body)
except ValueError:
    messages = []
entries = []
for m in messages if isinstance(messages, list) else []:
    s1 = (((m or {}).get("payload") or {}).get("CommonBlock") or {}).get("S1") or {}
    entries.append({
        "transactionID": "T-IF-033-0000000000-APCH-20261202-" + uuid.uuid4().hex[:16].upper(),
        "senderUniqueReference": s1.get("senderUniqueReference"),
        "correlationID": s1.get("correlationID"),
        "sentTimestamp": s1.get("senderTimestamp"),
        "senderID": s1.get("senderID"),
        "recipientID": None,
        "DIPConnectionProviderID": None,
        "message": "MSG0000 - Success",
        "help": None,
        "serviceTicketURL": None,
    })
out = json.dumps({"messageArray": entries, "timestamp": "2026-12-02T00:00:00+00:00"})
sys.stdout.write("Status: 201 Created\r\nContent-Type: application/json\r\n\r\n" + out)
)";

std::string Conf(ApacheMode mode, const std::string& dir, int port) {
  std::string protocol =
      mode == ApacheMode::kTls13PostHandshake ? "-all +TLSv1.3" : "-all +TLSv1.2";
  std::string alpn = mode == ApacheMode::kTls12Http2Offered ? "h2 http/1.1" : "http/1.1";
  std::string conf = "ServerRoot " + dir + "\n"
                     "PidFile " + dir + "/logs/httpd.pid\n"
                     "Mutex file:" + dir + "/logs\n";
  for (const char* m : {"mpm_event", "authz_core", "alias", "cgid", "ssl",
                        "socache_shmcb", "http2", "headers"}) {
    conf += std::string("LoadModule ") + m + "_module " + kModules + "/mod_" + m + ".so\n";
  }
  conf += "User www-data\n"
          "Group www-data\n"
          "ServerName localhost\n"
          "Listen 127.0.0.1:" + std::to_string(port) + "\n"
          "ErrorLog " + dir + "/logs/error.log\n"
          "LogLevel warn ssl:info http2:info\n"
          // Tab-separated: connection id, requests before on the connection,
          // protocol, TLS version, client certificate subject, status, bytes
          // received, Content-Length, method, path.
          "LogFormat \"%{c}L\\t%k\\t%H\\t%{SSL_PROTOCOL}x\\t%{SSL_CLIENT_S_DN}x\\t%>s\\t%I\\t"
          "%{Content-Length}i\\t%m\\t%U\" dip\n"
          "CustomLog " + dir + "/logs/access.log dip\n"
          "ScriptSock " + dir + "/logs/cgid.sock\n"
          "DocumentRoot " + dir + "/cgi\n"
          "SSLSessionCache shmcb:" + dir + "/logs/ssl_scache(512000)\n"
          "<VirtualHost 127.0.0.1:" + std::to_string(port) + ">\n"
          "  SSLEngine on\n"
          "  SSLProtocol " + protocol + "\n"
          "  SSLCertificateFile " + PkiFile("tls-server.pem") + "\n"
          "  SSLCertificateKeyFile " + PkiFile("tls-server.key") + "\n"
          "  SSLCACertificateFile " + PkiFile("ca-bundle.pem") + "\n"
          "  Protocols " + alpn + "\n"
          "  ScriptAlias /dip-channel/ " + dir + "/cgi/dip/\n"
          "  <Location /dip-channel/>\n"
          // Asked for after the handshake, once per connection (OptRenegotiate:
          // a connection that already presented a certificate is not asked
          // again, as IIS does), with 100 KB of body buffered meanwhile.
          "    SSLVerifyClient require\n"
          "    SSLVerifyDepth 3\n"
          "    SSLRenegBufferSize " + std::to_string(kApacheRenegBuffer) + "\n"
          "    SSLOptions +StdEnvVars +OptRenegotiate\n"
          "  </Location>\n"
          "</VirtualHost>\n";
  return conf;
}

std::vector<std::string> Split(const std::string& line, char sep) {
  std::vector<std::string> out;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, sep)) out.push_back(field);
  return out;
}

std::string Dash(const std::string& s) { return s == "-" ? "" : s; }

}  // namespace

std::string ToString(ApacheMode mode) {
  switch (mode) {
    case ApacheMode::kTls12Renegotiation:
      return "tls12_renegotiation";
    case ApacheMode::kTls13PostHandshake:
      return "tls13_post_handshake";
    case ApacheMode::kTls12Http2Offered:
      return "tls12_http2_offered";
  }
  return "unknown";
}

ApacheDip::ApacheDip(ApacheMode mode) : mode_(mode), port_(FreePort()) {
  std::string tmpl = "/tmp/dipgate-apache.XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp " << tmpl;
    return;
  }
  dir_ = tmpl;
  // The workers (www-data) read the CGI script; keys stay in the PKI
  // directory, read by the root parent at start.
  chmod(dir_.c_str(), 0755);
  mkdir((dir_ + "/logs").c_str(), 0755);
  mkdir((dir_ + "/cgi").c_str(), 0755);
  WriteFile(dir_ + "/cgi/dip", kCgi);
  chmod((dir_ + "/cgi/dip").c_str(), 0755);
  WriteFile(dir_ + "/httpd.conf", Conf(mode, dir_, port_));

  pid_ = fork();
  if (pid_ == 0) {
    std::string out = dir_ + "/logs/stdout";
    FILE* f = freopen(out.c_str(), "a", stdout);
    f = freopen(out.c_str(), "a", stderr);
    (void)f;
    std::string conf = dir_ + "/httpd.conf";
    execl(kApache, kApache, "-f", conf.c_str(), "-DFOREGROUND", nullptr);
    _exit(127);
  }
  WaitFor(
      [this] {
        if (waitpid(pid_, nullptr, WNOHANG) != 0) pid_ = -1;  // it exited
        return pid_ < 0 || ErrorLog().find("resuming normal operations") != std::string::npos;
      },
      15000);
  started_ = pid_ > 0 && ErrorLog().find("resuming normal operations") != std::string::npos;
  EXPECT_TRUE(started_) << "apache2 did not start:\n"
                        << ReadFile(dir_ + "/logs/stdout") << ErrorLog();
}

ApacheDip::~ApacheDip() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  if (dir_.empty()) return;
  std::string log = ErrorLog();
  EXPECT_EQ(log.find(":emerg]"), std::string::npos) << log;
  EXPECT_EQ(log.find(":alert]"), std::string::npos) << log;
  // Kept for a look after the test (bazel-testlogs/.../test.outputs).
  if (const char* out = getenv("TEST_UNDECLARED_OUTPUTS_DIR")) {
    std::string to = std::string(out) + "/apache-" + ToString(mode_) + "-" + std::to_string(port_);
    RunCommand("cp -r " + ShellQuote(dir_ + "/logs") + " " + ShellQuote(to) +
               " && rm -f " + ShellQuote(to) + "/cgid.sock*");
  }
  RunCommand("rm -rf " + ShellQuote(dir_));
}

std::string ApacheDip::url() const { return "https://localhost:" + std::to_string(port_); }

std::string ApacheDip::ErrorLog() const { return ReadFile(dir_ + "/logs/error.log"); }

std::vector<ApacheRequest> ApacheDip::Log(size_t want, int timeout_ms) const {
  std::vector<ApacheRequest> out;
  auto read = [&] {
    out.clear();
    for (const std::string& line : Split(ReadFile(dir_ + "/logs/access.log"), '\n')) {
      std::vector<std::string> f = Split(line, '\t');
      if (f.size() < 10) continue;
      ApacheRequest r;
      r.connection = f[0];
      r.keepalive = atoi(f[1].c_str());
      r.protocol = f[2];
      r.tls = Dash(f[3]);
      r.client_dn = Dash(f[4]);
      r.status = atoi(f[5].c_str());
      r.bytes = atol(f[6].c_str());
      r.content_length = atol(Dash(f[7]).c_str());
      r.method = f[8];
      r.path = f[9];
      out.push_back(r);
    }
    return out.size() >= want;
  };
  if (want > 0) WaitFor(read, timeout_ms);
  else read();
  return out;
}

std::vector<ApacheRequest> Since(const std::vector<ApacheRequest>& log, size_t from) {
  if (from >= log.size()) return {};
  return std::vector<ApacheRequest>(log.begin() + static_cast<long>(from), log.end());
}

std::string Describe(const std::vector<ApacheRequest>& log) {
  std::string out;
  for (const ApacheRequest& r : log) {
    out += r.connection + " #" + std::to_string(r.keepalive) + " " + r.protocol + " " + r.tls +
           " [" + r.client_dn + "] " + std::to_string(r.status) + " " + r.method + " " + r.path +
           " content-length " + std::to_string(r.content_length) + " received " +
           std::to_string(r.bytes) + "\n";
  }
  return out;
}

}  // namespace dipgate::testing
