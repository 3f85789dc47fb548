#include "tests/fixtures.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/pki.h"

namespace dipgate::testing {

UnixMillis PkiNow() {
  static const UnixMillis now = WallClockMillis();
  return now;
}

std::string NewTempDir(const std::string& hint) {
  const char* base = getenv("TEST_TMPDIR");
  std::string tmpl = std::string(base ? base : "/tmp") + "/" + hint + ".XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) abort();
  return buf.data();
}

const std::string& PkiDir() {
  static const std::string dir = [] {
    PkiOptions o;
    o.directory = NewTempDir("pki");
    o.now = PkiNow();
    auto r = CreateTestPki(o);
    if (!r) {
      fprintf(stderr, "test PKI: %s\n", r.error().detail.c_str());
      abort();
    }
    return o.directory;
  }();
  return dir;
}

std::string PkiFile(const std::string& name) { return PkiDir() + "/" + name; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out.push_back(c);
  }
  return out + "'";
}

CommandResult RunCommand(const std::string& command) {
  CommandResult r;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.output.append(buf, n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::shared_ptr<TrustStore> PkiTrust(Environment env) {
  TrustOptions o;
  o.ca_files = {PkiFile("ca-bundle.pem")};
  o.crl_files = {PkiFile("crls.pem")};
  o.environment = env;
  auto t = TrustStore::Create(o);
  if (!t) {
    fprintf(stderr, "trust: %s\n", t.error().detail.c_str());
    abort();
  }
  return *t;
}

std::string Runfile(const std::string& path) {
  const char* srcdir = getenv("TEST_SRCDIR");
  const char* ws = getenv("TEST_WORKSPACE");
  if (srcdir != nullptr && ws != nullptr) return std::string(srcdir) + "/" + ws + "/" + path;
  return path;
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace dipgate::testing

namespace dipgate::testing {

std::shared_ptr<const SigningIdentity> PkiIdentity(const std::string& name) {
  KeySource src;
  src.name = name;
  src.certificate_file = PkiFile(name + ".pem");
  src.key_file = PkiFile(name + ".key");
  auto id = LoadIdentity(src);
  if (!id) {
    fprintf(stderr, "identity %s: %s\n", name.c_str(), id.error().detail.c_str());
    abort();
  }
  return *id;
}

SignedRequest SignedMessage::request() const { return RequestOf(method, url, body, headers); }

SignedMessage SignWith(const std::string& identity, const std::string& method,
                       const std::string& url, const std::string& body, UnixMillis now) {
  auto signer = RequestSigner::Create(PkiIdentity(identity));
  if (!signer) abort();
  SignedMessage m{method, url, body, {}};
  auto h = signer->Sign(method, url, body, now);
  if (!h) abort();
  m.headers = *h;
  return m;
}

}  // namespace dipgate::testing
