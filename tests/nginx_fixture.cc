#include "tests/nginx_fixture.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <thread>

namespace dipgate::testing {
namespace {

void ReplaceAll(std::string* s, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = s->find(from, pos)) != std::string::npos; pos += to.size()) {
    s->replace(pos, from.size(), to);
  }
}

}  // namespace

bool WaitFor(const std::function<bool()>& ready, int ms) {
  for (int waited = 0; waited < ms; waited += 20) {
    if (ready()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return ready();
}

std::string NginxCommand() {
  // A module built with sanitizers (bazel test --config=asan) loads into the
  // stock nginx with the sanitizer runtimes preloaded.
  const char* sanitizer = getenv("DIPGATE_SANITIZER");
  if (sanitizer == nullptr || std::string(sanitizer) != "asan") return "/usr/sbin/nginx";
  auto asan = RunCommand("gcc -print-file-name=libasan.so").output;
  auto ubsan = RunCommand("gcc -print-file-name=libubsan.so").output;
  asan.erase(asan.find_last_not_of("\n") + 1);
  ubsan.erase(ubsan.find_last_not_of("\n") + 1);
  return "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 LD_PRELOAD=" + asan + ":" + ubsan +
         " /usr/sbin/nginx";
}

std::string MutualTlsListen(int port, const std::string& how) {
  return "    listen 127.0.0.1:" + std::to_string(port) + " " + how + ";\n"
         "    ssl_certificate " + PkiFile("tls-server.pem") + ";\n"
         "    ssl_certificate_key " + PkiFile("tls-server.key") + ";\n"
         "    ssl_client_certificate " + PkiFile("ca-bundle.pem") + ";\n"
         "    ssl_verify_client on;\n";
}

std::string DipVerifyTrust() {
  return "      dip_verify on;\n"
         "      dip_verify_trusted_certificate " + PkiFile("ca-bundle.pem") + ";\n"
         "      dip_verify_crl " + PkiFile("crls.pem") + ";\n";
}

std::string VerifyLocation(const std::string& name, const std::string& extra, int upstream) {
  return "    location " + name + " {\n" + DipVerifyTrust() +
         "      dip_verify_environment nonprod;\n"
         "      dip_verify_max_body 64k;\n" + extra +
         "      proxy_set_header X-Verified $dip_verify_status;\n"
         "      proxy_set_header X-Signer $dip_signer_subject;\n"
         "      proxy_set_header X-Signer-Org $dip_signer_organization;\n"
         "      proxy_pass http://127.0.0.1:" + std::to_string(upstream) + "/app;\n"
         "    }\n";
}

std::string Nginx::Conf(const std::string& prefix, const std::string& http_body,
                        const NginxOptions& options) {
  std::string body = http_body;
  ReplaceAll(&body, "$PREFIX", prefix);
  // Run as root, workers keep root's identity so they can write the
  // test's private (mode 0700) temp directories.
  std::string user = geteuid() == 0 ? "user root root;\n" : "";
  return "load_module " + Runfile(options.module) + ";\n" + user +
         "worker_processes " + std::to_string(options.workers) + ";\n"
         "error_log " + prefix + "/logs/error.log info;\n"
         "pid " + prefix + "/logs/nginx.pid;\n"
         "events { worker_connections 1024; }\n"
         "http {\n"
         "  access_log " + prefix + "/logs/access.log;\n"
         "  client_body_temp_path " + prefix + "/tmp/body;\n"
         "  proxy_temp_path " + prefix + "/tmp/proxy;\n"
         "  fastcgi_temp_path " + prefix + "/tmp/fastcgi;\n"
         "  uwsgi_temp_path " + prefix + "/tmp/uwsgi;\n"
         "  scgi_temp_path " + prefix + "/tmp/scgi;\n" +
         body + "\n}\n";
}

Nginx::Nginx(const std::string& http_body, NginxOptions options) : options_(std::move(options)) {
  prefix_ = NewTempDir("nginx");
  mkdir((prefix_ + "/logs").c_str(), 0755);
  mkdir((prefix_ + "/tmp").c_str(), 0755);
  WriteFile(prefix_ + "/nginx.conf", Conf(prefix_, http_body, options_));
  auto r = RunCommand(NginxCommand() + " -p " + prefix_ + " -c " + prefix_ + "/nginx.conf");
  start_output_ = r.output;
  started_ = r.exit_code == 0 && WaitFor([this] { return WorkerPid() > 0; }, 5000);
}

Nginx::~Nginx() {
  if (started_) {
    RunCommand(NginxCommand() + " -p " + prefix_ + " -c " + prefix_ + "/nginx.conf -s stop");
    WaitFor([this] { return ReadFile(prefix_ + "/logs/nginx.pid").empty(); }, 5000);
  }
  std::string log = ErrorLog();
  EXPECT_EQ(log.find("[alert]"), std::string::npos) << log;
  EXPECT_EQ(log.find("[emerg]"), std::string::npos) << log;
}

std::string Nginx::ErrorLog() const { return ReadFile(prefix_ + "/logs/error.log"); }

int Nginx::WorkerPid() const {
  std::string master = ReadFile(prefix_ + "/logs/nginx.pid");
  if (master.empty()) return -1;
  auto r = RunCommand("pgrep -P " + std::to_string(atoi(master.c_str())) + " | head -1");
  return r.output.empty() ? -1 : atoi(r.output.c_str());
}

bool Nginx::Reload(const std::string& http_body) {
  int old_worker = WorkerPid();
  WriteFile(prefix_ + "/nginx.conf", Conf(prefix_, http_body, options_));
  auto r = RunCommand(NginxCommand() + " -p " + prefix_ + " -c " + prefix_ + "/nginx.conf -s reload");
  if (r.exit_code != 0) return false;
  return WaitFor([&] {
    int w = WorkerPid();
    return w > 0 && w != old_worker && kill(old_worker, 0) != 0;
  }, 10000);
}

CommandResult Nginx::Test(const std::string& http_body) {
  std::string prefix = NewTempDir("nginx-t");
  mkdir((prefix + "/logs").c_str(), 0755);
  mkdir((prefix + "/tmp").c_str(), 0755);
  WriteFile(prefix + "/nginx.conf", Conf(prefix, http_body, NginxOptions{}));
  return RunCommand(NginxCommand() + " -t -p " + prefix + " -c " + prefix + "/nginx.conf");
}

Ingress::Ingress(bool tls, bool mtls, bool accept_all, const std::vector<std::string>& extra) {
  port_ = FreePort();
  std::string ready = NewTempDir("ingress") + "/ready";
  std::vector<std::string> args = {"/usr/bin/python3",
                                   Runfile("tools/dip_standin/dip_standin.py"),
                                   "serve",
                                   "--port",
                                   std::to_string(port_),
                                   "--ready-file",
                                   ready};
  if (accept_all) args.push_back("--accept-all");
  args.insert(args.end(), extra.begin(), extra.end());
  if (tls) {
    for (const std::string& a : {std::string("--cert"), PkiFile("tls-server.pem"),
                                 std::string("--key"), PkiFile("tls-server.key")}) {
      args.push_back(a);
    }
    if (mtls) {
      args.push_back("--client-ca");
      args.push_back(PkiFile("ca-bundle.pem"));
    }
  }
  pid_ = fork();
  if (pid_ == 0) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  EXPECT_TRUE(WaitFor([&] { return !ReadFile(ready).empty(); }, 10000)) << "ingress did not start";
}

Ingress::~Ingress() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
}

HttpResult Curl(const std::string& args) {
  HttpResult h;
  auto r = RunCommand("curl -sS --max-time 20 -o - -w '\\n%{http_code}' " + args);
  h.raw = r.output;
  size_t nl = r.output.find_last_of('\n');
  if (nl != std::string::npos) {
    h.status = atoi(r.output.c_str() + nl + 1);
    h.body = r.output.substr(0, nl);
  }
  return h;
}

}  // namespace dipgate::testing
