// Core sign and verify throughput next to `openssl speed` for the same
// algorithms, measured in the same run and printed as ratios. Not a test:
// figures vary by machine; the ratios are what to compare.
//
//   bazel run -c opt //bench:bench_core [-- --seconds N --rounds R]
//
// Each dipgate operation does the whole job on a 2 KB JSON body: content
// hash, signature string, date, signature, base64 (sign); header decoding,
// freshness, hash cross-check, cached chain lookup, signature check
// (verify). openssl speed signs and verifies a bare digest.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "common/pki.h"
#include "common/signer.h"
#include "common/verifier.h"

namespace dipgate {
namespace {

using Clock = std::chrono::steady_clock;

struct Rates {
  double sign = 0, verify = 0;
};

// Parses `openssl speed -mr` output (OpenSSL 3: rates in operations per
// second): "+F2:n:bits:sign:verify" for RSA, "+F4:n:bits:sign:verify" for
// ECDSA.
std::map<std::string, Rates> OpensslSpeed(int seconds, const std::string& algorithm) {
  std::map<std::string, Rates> out;
  std::string cmd = "openssl speed -mr -seconds " + std::to_string(seconds) + " " + algorithm +
                    " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char line[512];
  while (fgets(line, sizeof(line), p) != nullptr) {
    int n, bits;
    double s, v;
    if (sscanf(line, "+F2:%d:%d:%lf:%lf", &n, &bits, &s, &v) == 4 && bits == 2048) {
      out["RSA-2048"] = {s, v};
    } else if (sscanf(line, "+F4:%d:%d:%lf:%lf", &n, &bits, &s, &v) == 4 && bits == 256) {
      out["ECDSA P-256"] = {s, v};
    }
  }
  pclose(p);
  return out;
}

template <typename F>
double OpsPerSecond(double seconds, F&& op) {
  for (int i = 0; i < 50; ++i) op();  // warm caches and the certificate cache
  long n = 0;
  auto start = Clock::now();
  auto deadline = start + std::chrono::duration<double>(seconds);
  Clock::time_point now;
  do {
    for (int i = 0; i < 16; ++i) op();
    n += 16;
    now = Clock::now();
  } while (now < deadline);
  return n / std::chrono::duration<double>(now - start).count();
}

std::string Body2k() {
  std::string body = R"({"CommonBlock":{"S0":{"interfaceID":"IF-033","schemaVersion":"1.0.0",)"
                     R"("eventCode":"APPOINTMENT"},"S1":{"senderDIPID":"DIP0001"}},"CustomBlock":{)";
  int i = 0;
  while (body.size() < 2000) body += "\"item" + std::to_string(i++) + "\":\"value-value-value\",";
  body += "\"end\":true}}";
  return body;
}

// Rate of `a` over rate of `b`, alternating 50 ms slices for `seconds`.
template <typename A, typename B>
double Interleaved(double seconds, A&& a, B&& b) {
  double ops[2] = {0, 0}, spent[2] = {0, 0};
  auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    for (int which = 0; which < 2; ++which) {
      auto start = Clock::now();
      auto slice_end = start + std::chrono::milliseconds(50);
      Clock::time_point t;
      long n = 0;
      do {
        for (int i = 0; i < 4; ++i) which == 0 ? a() : b();
        n += 4;
        t = Clock::now();
      } while (t < slice_end);
      ops[which] += n;
      spent[which] += std::chrono::duration<double>(t - start).count();
    }
  }
  return (ops[0] / spent[0]) / (ops[1] / spent[1]);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

int Main(int argc, char** argv) {
  int seconds = 1;
  int rounds = 7;
  for (int i = 1; i + 1 < argc; ++i) {
    if (strcmp(argv[i], "--seconds") == 0) seconds = atoi(argv[i + 1]);
    if (strcmp(argv[i], "--rounds") == 0) rounds = atoi(argv[i + 1]);
  }
  char tmpl[] = "/tmp/dipgate-bench.XXXXXX";
  std::string dir = mkdtemp(tmpl);
  UnixMillis now = WallClockMillis();
  PkiOptions pki;
  pki.directory = dir;
  pki.now = now;
  if (!CreateTestPki(pki)) return 1;
  TrustOptions trust_options;
  trust_options.ca_files = {dir + "/ca-bundle.pem"};
  trust_options.crl_files = {dir + "/crls.pem"};
  auto trust = TrustStore::Create(trust_options);
  if (!trust) return 1;

  const std::string url = "https://ingress.dip.example.co.uk/api/v1/messages/if-033";
  const std::string body = Body2k();
  printf("dipgate core benchmark: %zu-byte body, cached chain, 1 thread\n", body.size());
  printf("%d rounds of (openssl speed -seconds %d, then dipgate for %d s); medians shown\n",
         rounds, seconds, seconds);
  fflush(stdout);

  printf("\nratio: dipgate / openssl speed (median of per-round ratios); bare: dipgate / the\n"
         "same EVP_PKEY_sign/verify of a bare digest in this process\n");
  printf("\n%-12s %-6s %14s %14s %7s %7s %7s\n", "algorithm", "op", "dipgate ops/s",
         "openssl ops/s", "ratio", "bare", "target");
  bool all_met = true;
  for (const auto& [name, file] : {std::pair<std::string, std::string>{"RSA-2048", "signer-rsa"},
                                   {"ECDSA P-256", "signer-ec"}}) {
    KeySource src{file, dir + "/" + file + ".pem", dir + "/" + file + ".key", "", ""};
    auto id = LoadIdentity(src);
    if (!id) return 1;
    auto signer = RequestSigner::Create(*id);
    if (!signer) return 1;
    auto h = *signer->Sign("POST", url, body, now);
    SignedRequest r = RequestOf("POST", url, body, h);
    Verifier verifier(*trust, VerifyPolicy{});

    // Rounds alternate between the reference and dipgate so that drift in
    // a shared machine's speed hits both alike.
    std::vector<double> ref_sign, ref_verify, our_sign, our_verify, sign_ratio, verify_ratio;
    // The bare primitive, in this process: what openssl speed times (one
    // EVP_PKEY_sign/verify of a 32-byte digest with a prepared context).
    PkeyCtxPtr sign_ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, (*id)->key.get(), nullptr));
    PkeyCtxPtr verify_ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, (*id)->key.get(), nullptr));
    EVP_PKEY_sign_init(sign_ctx.get());
    EVP_PKEY_verify_init(verify_ctx.get());
    unsigned char digest[32] = {1, 2, 3};
    unsigned char bare_sig[1024];
    size_t bare_sig_len = sizeof(bare_sig);
    EVP_PKEY_sign(sign_ctx.get(), bare_sig, &bare_sig_len, digest, sizeof(digest));
    const std::string algorithm = name == "RSA-2048" ? "rsa2048" : "ecdsap256";
    for (int round = 0; round < rounds; ++round) {
      Rates ref = OpensslSpeed(seconds, algorithm)[name];
      ref_sign.push_back(ref.sign);
      ref_verify.push_back(ref.verify);
      our_sign.push_back(OpsPerSecond(seconds, [&] {
        if (!signer->Sign("POST", url, body, now)) abort();
      }));
      our_verify.push_back(OpsPerSecond(seconds, [&] {
        if (!verifier.Verify(r, now).ok()) abort();
      }));
      sign_ratio.push_back(our_sign.back() / std::max(ref.sign, 1.0));
      verify_ratio.push_back(our_verify.back() / std::max(ref.verify, 1.0));
    }
    double sign_rate = Median(our_sign), verify_rate = Median(our_verify);
    // Against the bare primitive, slices of 50 ms alternate so that both
    // see the same machine: a stable figure of dipgate's own overhead.
    unsigned char loop_sig[1024];
    auto bare_sign_op = [&] {
      size_t len = sizeof(loop_sig);
      EVP_PKEY_sign(sign_ctx.get(), loop_sig, &len, digest, sizeof(digest));
    };
    auto bare_verify_op = [&] {
      if (EVP_PKEY_verify(verify_ctx.get(), bare_sig, bare_sig_len, digest, sizeof(digest)) != 1) {
        abort();
      }
    };
    auto our_sign_op = [&] {
      if (!signer->Sign("POST", url, body, now)) abort();
    };
    auto our_verify_op = [&] {
      if (!verifier.Verify(r, now).ok()) abort();
    };
    double sign_vs_bare = Interleaved(rounds * seconds, our_sign_op, bare_sign_op);
    double verify_vs_bare = Interleaved(rounds * seconds, our_verify_op, bare_verify_op);
    Rates ref{Median(ref_sign), Median(ref_verify)};

    // The ratio is the median of each round's ratio: adjacent measurements
    // share the machine's state at that moment.
    for (const auto& [op, rate, ref_rate, ratio, bare, target] :
         {std::tuple<const char*, double, double, double, double, double>{
              "sign", sign_rate, ref.sign, Median(sign_ratio), sign_vs_bare, 0.95},
          {"verify", verify_rate, ref.verify, Median(verify_ratio),
           verify_vs_bare, 0.80}}) {
      all_met = all_met && ratio >= target;
      printf("%-12s %-6s %14.0f %14.0f %7.3f %7.3f %7.2f %s\n", name.c_str(), op, rate, ref_rate,
             ratio, bare, target, ratio >= target ? "met" : "MISSED");
    }
  }
  printf("\n%s\n", all_met ? "all targets met" : "some targets missed");
  std::string rm = "rm -rf " + dir;
  if (system(rm.c_str()) != 0) return 1;
  return 0;
}

}  // namespace
}  // namespace dipgate

int main(int argc, char** argv) { return dipgate::Main(argc, argv); }
