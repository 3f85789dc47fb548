// The DIP API layer's cost beside the signing it accompanies: parsing a
// message array and reading its envelope, and validating it against its
// interface's schema, each as a fraction of one RSA-2048 signature of the
// same body by dipgate (and of `openssl speed rsa2048`), measured in the
// same run. Not a test: the ratios are what to compare.
//
//   bazel run -c opt //bench:bench_dip_api [-- --seconds N]
//
// The body is the public IF-033 sample (tests/data, about 2 KB).
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/dip/message.h"
#include "common/dip/schema.h"
#include "common/files.h"
#include "common/pki.h"
#include "common/signer.h"

namespace dipgate {
namespace {

using Clock = std::chrono::steady_clock;

template <typename F>
double MicrosPerOp(double seconds, F&& op) {
  for (int i = 0; i < 50; ++i) op();
  long n = 0;
  auto start = Clock::now();
  auto deadline = start + std::chrono::duration<double>(seconds);
  Clock::time_point now;
  do {
    for (int i = 0; i < 8; ++i) op();
    n += 8;
    now = Clock::now();
  } while (now < deadline);
  return std::chrono::duration<double, std::micro>(now - start).count() / n;
}

double OpensslRsaSignMicros(int seconds) {
  std::string cmd = "openssl speed -mr -seconds " + std::to_string(seconds) + " rsa2048 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return 0;
  char line[512];
  double rate = 0;
  while (fgets(line, sizeof(line), p) != nullptr) {
    int n, bits;
    double s, v;
    if (sscanf(line, "+F2:%d:%d:%lf:%lf", &n, &bits, &s, &v) == 4 && bits == 2048) rate = s;
  }
  pclose(p);
  return rate > 0 ? 1e6 / rate : 0;
}

std::string Runfiles() {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  return n > 0 ? std::string(exe, n) + ".runfiles/dipgate/" : std::string();
}

int Main(int argc, char** argv) {
  int seconds = 2;
  for (int i = 1; i + 1 < argc; ++i) {
    if (strcmp(argv[i], "--seconds") == 0) seconds = atoi(argv[i + 1]);
  }
  auto read = ReadWholeFile(Runfiles() + "tests/data/if-033-appointment-request.json");
  if (!read) {
    fprintf(stderr, "%s\n", read.error().detail.c_str());
    return 1;
  }
  const std::string& body = *read;
  auto load_start = Clock::now();
  auto schemas = dip::SchemaSet::Load(Runfiles() + "third_party/dip_api/schemas");
  if (!schemas) {
    fprintf(stderr, "%s\n", schemas.error().detail.c_str());
    return 1;
  }
  double load_ms = std::chrono::duration<double, std::milli>(Clock::now() - load_start).count();

  char tmpl[] = "/tmp/dipgate-bench.XXXXXX";
  std::string dir = mkdtemp(tmpl);
  PkiOptions pki;
  pki.directory = dir;
  pki.now = WallClockMillis();
  if (!CreateTestPki(pki)) return 1;
  auto id = LoadIdentity({"rsa", dir + "/signer-rsa.pem", dir + "/signer-rsa.key", "", ""});
  if (!id) return 1;
  auto signer = RequestSigner::Create(*id);
  if (!signer) return 1;
  const std::string url = "https://dip.example/dip-channel/IF-033";

  double parse_us = MicrosPerOp(seconds, [&] {
    if (!dip::MessageArray::Parse(body)) abort();
  });
  double validate_us = MicrosPerOp(seconds, [&] {
    auto a = dip::MessageArray::Parse(body);
    if (!a || !(*schemas)->Validate(*a, {"IF-033", dip::EnvironmentTagsFor("nonprod")}).ok()) abort();
  });
  double sign_us = MicrosPerOp(seconds, [&] {
    if (!signer->Sign("POST", url, body, pki.now)) abort();
  });
  double openssl_us = OpensslRsaSignMicros(seconds);

  printf("dipgate DIP API layer: %zu-byte IF-033 message, 1 thread, %d s per figure\n",
         body.size(), seconds);
  printf("schemas: spec %s, %zu schemas loaded and compiled in %.0f ms\n\n",
         (*schemas)->spec_version().c_str(), (*schemas)->schema_count(), load_ms);
  printf("%-34s %10s %12s %14s\n", "operation", "us/op", "x dipgate", "x openssl");
  printf("%-34s %10s %12s %14s\n", "", "", "RSA sign", "speed rsa2048");
  auto row = [&](const char* name, double us) {
    printf("%-34s %10.1f %12.3f %14.3f\n", name, us, us / sign_us,
           openssl_us > 0 ? us / openssl_us : 0.0);
  };
  row("parse array + read envelope", parse_us);
  row("parse + validate (schema)", validate_us);
  row("dipgate RSA-2048 sign (reference)", sign_us);
  if (openssl_us > 0) row("openssl speed rsa2048 sign", openssl_us);
  printf("\nvalidation costs %.1f%% of one RSA-2048 signature of the same body\n",
         100.0 * validate_us / sign_us);
  std::string rm = "rm -rf " + dir;
  return system(rm.c_str()) == 0 ? 0 : 1;
}

}  // namespace
}  // namespace dipgate

int main(int argc, char** argv) { return dipgate::Main(argc, argv); }
