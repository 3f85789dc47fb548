// Independent peers keep the core honest: Python's `cryptography`, Node.js's
// crypto and the openssl CLI each implement the DIP scheme on their own
// (tests/peers/), sign in every variant of the interop notes for the core to
// verify, and verify what the core signs.
#include <gtest/gtest.h>

#include <sstream>

#include "common/canonical.h"
#include "common/headers.h"
#include "common/signer.h"
#include "common/verifier.h"
#include "tests/fixtures.h"

namespace dipgate {
namespace {

using testing::PkiFile;
using testing::PkiNow;
using testing::ReadFile;
using testing::RunCommand;
using testing::Runfile;
using testing::ShellQuote;
using testing::WriteFile;

// Mixed case on purpose: senders differ on lower-casing it.
const char kUrl[] = "https://Ingress.DIP.example.co.uk/api/v1/Messages/IF-033";

std::string Sample(const std::string& name) { return ReadFile(Runfile("tests/data/" + name)); }

struct Headers {
  std::map<std::string, std::string> by_name;  // lower-case names
  std::string Get(const std::string& lower) const {
    auto it = by_name.find(lower);
    return it == by_name.end() ? "" : it->second;
  }
};

Headers ParseHeaders(const std::string& text) {
  Headers h;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == ' ')) value.pop_back();
    h.by_name[name] = value;
  }
  return h;
}

Verdict VerifyHeaders(const Headers& h, const std::string& method, const std::string& body,
                      const std::string& date_now_hint = "") {
  (void)date_now_hint;
  std::string cert = h.Get("x-dip-signature-certificate");
  if (cert.empty()) cert = h.Get("x-dip-certificate");  // older Go sender
  std::string sig = h.Get("x-dip-signature"), date = h.Get("x-dip-signature-date"),
              hash = h.Get("x-dip-content-hash");
  SignedRequest r;
  r.method = method;
  r.destination = kUrl;
  r.body = body;
  r.signature = sig;
  r.signature_date = date;
  r.certificate = cert;
  r.content_hash = hash;
  Verifier v(testing::PkiTrust(), VerifyPolicy{});
  return v.Verify(r, PkiNow() + 1500);
}

std::string DotNetDate() { return FormatSignatureDate(PkiNow()).substr(0, 23) + "4567Z"; }
std::string JsDate() { return FormatSignatureDate(PkiNow()); }

struct PeerCase {
  const char* peer;      // python3 | node
  const char* variant;   // postman | go | dotnet
  const char* identity;  // signer-rsa | signer-ec
  const char* ecdsa;     // der | p1363
  const char* method;
  const char* sample;    // body file, or "" for an empty body
};

class PeerSignsCoreVerifies : public ::testing::TestWithParam<PeerCase> {};

TEST_P(PeerSignsCoreVerifies, Accepts) {
  const PeerCase& c = GetParam();
  std::string dir = testing::NewTempDir("peer");
  std::string body = *c.sample ? Sample(c.sample) : "";
  WriteFile(dir + "/body", body);
  std::string date = std::string(c.variant) == "dotnet" ? DotNetDate() : JsDate();
  std::string interpreter = std::string(c.peer) == "node" ? "node" : "/usr/bin/python3";
  std::string script = Runfile(std::string(c.peer) == "node" ? "tests/peers/dip_peer.js"
                                                              : "tools/dip_standin/dip_peer.py");
  auto r = RunCommand(interpreter + " " + script + " sign --variant " + c.variant + " --key " +
                      PkiFile(std::string(c.identity) + ".key") + " --cert " +
                      PkiFile(std::string(c.identity) + ".pem") + " --method " + c.method +
                      " --url " + ShellQuote(kUrl) + " --body " + dir + "/body --date " + date +
                      " --ecdsa " + c.ecdsa);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  Headers h = ParseHeaders(r.output);
  EXPECT_EQ(h.Get("x-dip-signature-date"), date);
  Verdict v = VerifyHeaders(h, c.method, body);
  EXPECT_TRUE(v.ok()) << ToString(v.reason) << ": " << v.detail;
  // And the same message with one body byte changed is refused.
  if (!body.empty()) {
    std::string tampered = body;
    tampered[tampered.size() / 2] ^= 0x01;
    EXPECT_EQ(VerifyHeaders(h, c.method, tampered).reason, Reason::kContentHashMismatch);
  }
}

INSTANTIATE_TEST_SUITE_P(
    InteropVariants, PeerSignsCoreVerifies,
    ::testing::Values(
        PeerCase{"python3", "postman", "signer-rsa", "der", "POST", "if-033-appointment-request.json"},
        PeerCase{"python3", "go", "signer-rsa", "der", "POST", "if-041-reading-cos.json"},
        PeerCase{"python3", "dotnet", "signer-rsa", "der", "POST", "if-033-appointment-request.json"},
        PeerCase{"python3", "dotnet", "signer-ec", "p1363", "POST", "if-041-reading-cos.json"},
        PeerCase{"python3", "postman", "signer-ec", "der", "POST", "if-041-reading-cos.json"},
        PeerCase{"python3", "postman", "signer-rsa", "der", "GET", ""},
        PeerCase{"node", "postman", "signer-rsa", "der", "POST", "if-033-appointment-request.json"},
        PeerCase{"node", "go", "signer-ec", "der", "POST", "if-041-reading-cos.json"},
        PeerCase{"node", "dotnet", "signer-rsa", "der", "POST", "if-041-reading-cos.json"},
        PeerCase{"node", "dotnet", "signer-ec", "p1363", "POST", "if-033-appointment-request.json"},
        PeerCase{"node", "postman", "signer-ec", "p1363", "DELETE", ""}),
    [](const auto& info) {
      const PeerCase& c = info.param;
      std::string n = std::string(c.peer) + "_" + c.variant + "_" + c.identity + "_" + c.ecdsa +
                      "_" + c.method;
      for (char& ch : n) if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return n;
    });

// The openssl CLI as the sender, in the Go simulator's shape: 3-digit date,
// lower-cased URL, base64 of the PEM file, and (older variant) the header
// named X-DIP-Certificate.
TEST(OpensslCliSigns, CoreVerifiesRsaAndEcdsa) {
  for (const char* identity : {"signer-rsa", "signer-ec"}) {
    for (const char* cert_header : {"X-DIP-Signature-Certificate", "X-DIP-Certificate"}) {
      std::string dir = testing::NewTempDir("openssl");
      std::string body = Sample("if-033-appointment-request.json");
      WriteFile(dir + "/body", body);
      std::string url = kUrl;
      for (char& c : url) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
      std::string script =
          "set -e; cd " + dir + "; hash=$(openssl dgst -sha256 -binary body | base64 -w0); "
          "date=" + JsDate() + "; "
          "printf '%s' \"POST;" + url + ";$date;$hash\" > msg; "
          "openssl dgst -sha256 -sign " + PkiFile(std::string(identity) + ".key") +
          " -out sig msg; "
          "echo \"X-DIP-Signature: $(base64 -w0 sig)\"; "
          "echo \"X-DIP-Signature-Date: $date\"; "
          "echo \"" + cert_header + ": $(base64 -w0 " + PkiFile(std::string(identity) + ".pem") +
          ")\"; echo \"X-DIP-Content-Hash: $hash\"";
      auto r = RunCommand("bash -c " + ShellQuote(script));
      ASSERT_EQ(r.exit_code, 0) << r.output;
      Verdict v = VerifyHeaders(ParseHeaders(r.output), "POST", body);
      EXPECT_TRUE(v.ok()) << identity << " " << cert_header << ": " << v.detail;
    }
  }
}

class CoreSignsPeerVerifies : public ::testing::TestWithParam<const char*> {};

TEST_P(CoreSignsPeerVerifies, PythonNodeAndOpensslAccept) {
  std::string dir = testing::NewTempDir("core");
  std::string body = Sample("if-041-reading-cos.json");
  WriteFile(dir + "/body", body);
  auto signer = RequestSigner::Create(testing::PkiIdentity(GetParam()));
  ASSERT_TRUE(signer.ok());
  auto h = signer->Sign("POST", kUrl, body, WallClockMillis());
  ASSERT_TRUE(h.ok());
  std::string headers = "X-DIP-Signature: " + h->signature + "\nX-DIP-Signature-Date: " +
                        h->signature_date + "\nX-DIP-Signature-Certificate: " + h->certificate +
                        "\nX-DIP-Content-Hash: " + h->content_hash + "\n";
  WriteFile(dir + "/headers", headers);
  std::string args = " verify --method POST --url " + ShellQuote(kUrl) + " --body " + dir +
                     "/body --headers " + dir + "/headers";
  auto py = RunCommand("/usr/bin/python3 " + Runfile("tools/dip_standin/dip_peer.py") + args);
  EXPECT_EQ(py.exit_code, 0) << py.output;
  EXPECT_EQ(py.output, "ok\n");
  auto js = RunCommand("node " + Runfile("tests/peers/dip_peer.js") + args);
  EXPECT_EQ(js.exit_code, 0) << js.output;
  EXPECT_EQ(js.output, "ok\n");

  std::string url = kUrl;
  for (char& c : url) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  std::string script =
      "set -e; cd " + dir + "; hash=$(openssl dgst -sha256 -binary body | base64 -w0); "
      "test \"$hash\" = " + ShellQuote(h->content_hash) + "; "
      "printf '%s' " + ShellQuote(h->certificate) + " | base64 -d > cert.der; "
      "openssl x509 -inform DER -in cert.der -pubkey -noout > pub.pem; "
      "printf '%s' " + ShellQuote(h->signature) + " | base64 -d > sig; "
      "printf '%s' \"POST;" + url + ";" + h->signature_date + ";$hash\" > msg; "
      "openssl dgst -sha256 -verify pub.pem -signature sig msg";
  auto ossl = RunCommand("bash -c " + ShellQuote(script));
  EXPECT_EQ(ossl.exit_code, 0) << ossl.output;
  EXPECT_NE(ossl.output.find("Verified OK"), std::string::npos);

  // The peers are not rubber stamps: a changed body fails at each of them.
  WriteFile(dir + "/body", body + " ");
  EXPECT_EQ(RunCommand("/usr/bin/python3 " + Runfile("tools/dip_standin/dip_peer.py") + args).exit_code, 1);
  EXPECT_EQ(RunCommand("node " + Runfile("tests/peers/dip_peer.js") + args).exit_code, 1);
}

INSTANTIATE_TEST_SUITE_P(Keys, CoreSignsPeerVerifies,
                         ::testing::Values("signer-rsa", "signer-ec"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) if (c == '-') c = '_';
                           return n;
                         });

}  // namespace
}  // namespace dipgate
