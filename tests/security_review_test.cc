// The security review's checklist, one test each, across the CLI, the nginx
// module and the bridge (docs/security.md lists them):
//   1. comparisons of hashes go through a constant-time compare;
//   2. private keys, passphrases and API keys never reach a log or an error;
//   3. key and passphrase files readable by group or others are warned about;
//   4. defaults fail closed: no trust store, no CRL, an unreadable or
//      undecryptable key each stop the component, loudly.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <regex>

#include "common/digest.h"
#include "tests/nginx_fixture.h"

namespace dipgate {
namespace {

using testing::PkiFile;
using testing::ReadFile;
using testing::RunCommand;
using testing::Runfile;
using testing::WriteFile;

constexpr const char* kPassphrase = "Sentinel-Passphrase-7c1e";
constexpr const char* kWrongPassphrase = "Wrong-Passphrase-93ab";
constexpr const char* kApiKey = "Sentinel-Api-Key-55d2";

// A directory with the EC signing key encrypted under kPassphrase (mode
// 0600), its certificate, passphrase files and an API key file.
class Secrets {
 public:
  Secrets() : dir_(testing::NewTempDir("secrets")) {
    WriteFile(dir_ + "/pass", std::string(kPassphrase) + "\n");
    WriteFile(dir_ + "/wrong", std::string(kWrongPassphrase) + "\n");
    WriteFile(dir_ + "/api-key", std::string(kApiKey) + "\n");
    for (const char* f : {"/pass", "/wrong", "/api-key"}) chmod((dir_ + f).c_str(), 0600);
    auto r = RunCommand("openssl pkcs8 -topk8 -v2 aes-256-cbc -in " + PkiFile("signer-ec.key") +
                        " -out " + Key() + " -passout file:" + dir_ + "/pass");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    chmod(Key().c_str(), 0600);
  }
  std::string Key() const { return dir_ + "/signer.key"; }
  std::string Cert() const { return PkiFile("signer-ec.pem"); }
  std::string Pass() const { return dir_ + "/pass"; }
  std::string Wrong() const { return dir_ + "/wrong"; }
  std::string ApiKeyFile() const { return dir_ + "/api-key"; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

// No secret in `text`: neither passphrase, no API key, no private key PEM
// and no line of the key file's base64.
void ExpectNoSecrets(const std::string& text, const Secrets& s, const std::string& what) {
  EXPECT_EQ(text.find(kPassphrase), std::string::npos) << what << ": " << text;
  EXPECT_EQ(text.find(kWrongPassphrase), std::string::npos) << what << ": " << text;
  EXPECT_EQ(text.find(kApiKey), std::string::npos) << what << ": " << text;
  EXPECT_EQ(text.find("PRIVATE KEY"), std::string::npos) << what << ": " << text;
  std::istringstream key(ReadFile(s.Key()) + ReadFile(PkiFile("signer-ec.key")));
  for (std::string line; std::getline(key, line);) {
    if (line.size() > 20 && line.find("-----") == std::string::npos) {
      EXPECT_EQ(text.find(line), std::string::npos) << what << " shows key material";
    }
  }
}

std::string Dipctl() { return Runfile("cli/dipctl"); }
std::string Bridge() { return Runfile("kafka_bridge/dipgate-bridge"); }

std::string BridgeConfig(const Secrets& s, const std::string& key, const std::string& pass) {
  return "{\"kafka\": {\"bootstrap.servers\": \"127.0.0.1:9\", \"group.id\": \"g\"},"
         " \"identities\": [{\"name\": \"mp\", \"certificate\": \"" + s.Cert() +
         "\", \"key\": \"" + key + "\", \"passphrase_file\": \"" + pass + "\"}],"
         " \"routes\": [{\"topic\": \"t\", \"url\": \"https://dip.example/{interfaceID}\"}],"
         " \"tls\": {\"ca\": \"" + PkiFile("ca-bundle.pem") + "\"},"
         " \"api_key\": {\"primary_file\": \"" + s.ApiKeyFile() + "\"},"
         " \"dead_letter_topic\": \"t.dlq\"}";
}

std::string SignIdentity(const Secrets& s, const std::string& key, const std::string& pass) {
  return "dip_sign_identity mp certificate=" + s.Cert() + " key=" + key +
         " passphrase_file=" + pass + ";\n";
}

// 1. Hash comparisons are constant-time: the verifier compares the content
// hash with ConstantTimeEquals (CRYPTO_memcmp), and no component compares
// buffers with memcmp/bcmp, whose time depends on the first difference.
TEST(SecurityReview, HashComparisonsAreConstantTime) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  std::string verifier = ReadFile(Runfile("common/verifier.cc"));
  EXPECT_NE(verifier.find("ConstantTimeEquals(body_hash, r.content_hash)"), std::string::npos);
  std::string digest = ReadFile(Runfile("common/digest.cc"));
  EXPECT_NE(digest.find("CRYPTO_memcmp"), std::string::npos);
  std::regex variable_time(R"((^|[^_A-Za-z])(memcmp|bcmp|timingsafe_bcmp)\s*\()");
  auto files = RunCommand("ls " + Runfile("common") + "/*.cc " + Runfile("nginx_module") +
                          "/*.cc " + Runfile("kafka_bridge") + "/*.cc");
  std::istringstream list(files.output);
  int scanned = 0;
  for (std::string path; std::getline(list, path);) {
    if (path.find("_test.cc") != std::string::npos) continue;
    ++scanned;
    std::string text = ReadFile(path);
    std::smatch m;
    EXPECT_FALSE(std::regex_search(text, m, variable_time)) << path << ": " << m.str();
  }
  EXPECT_GT(scanned, 20);
}

// 2. Secrets never appear in output: wrong passphrase, right passphrase,
// from dipctl, nginx (configuration test and a running instance's error
// log at info level) and the bridge.
TEST(SecurityReview, KeysPassphrasesAndApiKeysAreNeverLogged) {
  Secrets s;
  WriteFile(s.dir() + "/body", "{}");
  std::string sign = Dipctl() + " sign --url https://dip.example/x --body " + s.dir() +
                     "/body --cert " + s.Cert() + " --key " + s.Key() +
                     " --format headers --passphrase-file ";
  auto wrong = RunCommand(sign + s.Wrong());
  EXPECT_EQ(wrong.exit_code, 3) << wrong.output;
  EXPECT_NE(wrong.output.find(s.Key()), std::string::npos) << "the error names the key file";
  ExpectNoSecrets(wrong.output, s, "dipctl, wrong passphrase");
  auto right = RunCommand(sign + s.Pass());
  EXPECT_EQ(right.exit_code, 0) << right.output;
  EXPECT_NE(right.output.find("X-DIP-Signature:"), std::string::npos) << right.output;
  ExpectNoSecrets(right.output, s, "dipctl");

  auto t = testing::Nginx::Test(SignIdentity(s, s.Key(), s.Wrong()));
  EXPECT_NE(t.exit_code, 0);
  ExpectNoSecrets(t.output, s, "nginx -t, wrong passphrase");
  {
    testing::Ingress dip(/*tls=*/false, /*mtls=*/false, /*accept_all=*/true);
    int port = testing::FreePort();
    testing::Nginx nginx(SignIdentity(s, s.Key(), s.Pass()) + "  server {\n    listen 127.0.0.1:" +
                         std::to_string(port) + ";\n    location / {\n      dip_sign mp;\n"
                         "      dip_sign_api_key " + kApiKey + ";\n      proxy_pass http://127.0.0.1:" +
                         std::to_string(dip.port()) + ";\n    }\n  }\n");
    ASSERT_TRUE(nginx.started()) << nginx.start_output();
    auto r = testing::Curl("-s -d '{\"a\":1}' http://127.0.0.1:" + std::to_string(port) + "/x");
    EXPECT_EQ(r.status, 200) << r.raw;
    EXPECT_NE(r.body.find(kApiKey), std::string::npos) << "the key is sent upstream";
    std::string log = nginx.ErrorLog();
    EXPECT_NE(log.find("dip_sign: signed POST"), std::string::npos) << log;
    ExpectNoSecrets(log, s, "nginx error log");
  }

  WriteFile(s.dir() + "/bridge-wrong.json", BridgeConfig(s, s.Key(), s.Wrong()));
  auto bridge = RunCommand(Bridge() + " --config " + s.dir() + "/bridge-wrong.json --check");
  EXPECT_EQ(bridge.exit_code, 2) << bridge.output;
  ExpectNoSecrets(bridge.output, s, "bridge --check, wrong passphrase");
  WriteFile(s.dir() + "/bridge.json", BridgeConfig(s, s.Key(), s.Pass()));
  bridge = RunCommand(Bridge() + " --config " + s.dir() + "/bridge.json --check");
  EXPECT_EQ(bridge.exit_code, 0) << bridge.output;
  ExpectNoSecrets(bridge.output, s, "bridge --check");
}

// 3. Loose permissions on key and passphrase files are warned about, by
// name, in each component.
TEST(SecurityReview, LooseKeyFilePermissionsAreWarnedAbout) {
  Secrets s;
  chmod(s.Key().c_str(), 0644);
  chmod(s.Pass().c_str(), 0640);
  WriteFile(s.dir() + "/body", "{}");
  auto r = RunCommand(Dipctl() + " sign --url https://dip.example/x --body " + s.dir() +
                      "/body --cert " + s.Cert() + " --key " + s.Key() + " --passphrase-file " +
                      s.Pass());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(s.Key() + " is accessible by group or others"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find(s.Pass() + " is accessible by group or others"), std::string::npos)
      << r.output;

  auto t = testing::Nginx::Test(SignIdentity(s, s.Key(), s.Pass()));
  EXPECT_EQ(t.exit_code, 0) << t.output;
  EXPECT_NE(t.output.find("[warn]"), std::string::npos) << t.output;
  EXPECT_NE(t.output.find(s.Key() + " is accessible by group or others"), std::string::npos)
      << t.output;

  WriteFile(s.dir() + "/bridge.json", BridgeConfig(s, s.Key(), s.Pass()));
  auto b = RunCommand(Bridge() + " --config " + s.dir() + "/bridge.json --check");
  EXPECT_EQ(b.exit_code, 0) << b.output;
  EXPECT_NE(b.output.find("\"event\":\"key_file\""), std::string::npos) << b.output;
  EXPECT_NE(b.output.find("is accessible by group or others"), std::string::npos) << b.output;
}

// 4. Defaults fail closed, with the reason.
TEST(SecurityReview, DefaultsFailClosed) {
  Secrets s;
  WriteFile(s.dir() + "/body", "{}");
  WriteFile(s.dir() + "/headers", "X-DIP-Signature: AA==\n");
  std::string verify = Dipctl() + " verify --url https://x/y --headers " + s.dir() +
                       "/headers --body " + s.dir() + "/body";
  // dipctl: no trust store, no CRL.
  auto r = RunCommand(verify);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--ca"), std::string::npos) << r.output;
  r = RunCommand(verify + " --ca " + PkiFile("ca-bundle.pem"));
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("no CRL"), std::string::npos) << r.output;
  // nginx: dip_verify without trusted CAs or CRLs refuses to start.
  auto t = testing::Nginx::Test("server { listen 127.0.0.1:1; location / { dip_verify on; } }");
  EXPECT_NE(t.exit_code, 0);
  EXPECT_NE(t.output.find("[emerg]"), std::string::npos) << t.output;
  t = testing::Nginx::Test("server { listen 127.0.0.1:1; location / { dip_verify on; "
                           "dip_verify_trusted_certificate " + PkiFile("ca-bundle.pem") + "; } }");
  EXPECT_NE(t.exit_code, 0);
  EXPECT_NE(t.output.find("no \"dip_verify_crl\""), std::string::npos) << t.output;
  // An unreadable key, or one the passphrase does not open, stops nginx,
  // dipctl and the bridge.
  std::string unreadable = s.dir() + "/unreadable.key";
  t = testing::Nginx::Test(SignIdentity(s, unreadable, s.Pass()));
  EXPECT_NE(t.exit_code, 0);
  EXPECT_NE(t.output.find(unreadable), std::string::npos) << t.output;
  t = testing::Nginx::Test(SignIdentity(s, s.Key(), s.Wrong()));
  EXPECT_NE(t.exit_code, 0);
  EXPECT_NE(t.output.find("[emerg]"), std::string::npos) << t.output;
  r = RunCommand(Dipctl() + " sign --url https://x/y --body " + s.dir() + "/body --cert " +
                 s.Cert() + " --key " + unreadable);
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find(unreadable), std::string::npos) << r.output;
  for (const auto& [key, pass] : {std::pair{unreadable, s.Pass()}, std::pair{s.Key(), s.Wrong()}}) {
    WriteFile(s.dir() + "/bridge.json", BridgeConfig(s, key, pass));
    auto b = RunCommand(Bridge() + " --config " + s.dir() + "/bridge.json --check");
    EXPECT_EQ(b.exit_code, 2) << b.output;
    EXPECT_NE(b.output.find("\"event\":\"config_invalid\""), std::string::npos) << b.output;
    EXPECT_NE(b.output.find("identity mp"), std::string::npos) << b.output;
  }
  // The bridge never falls back to the system trust store for the DIP.
  std::string no_ca = BridgeConfig(s, s.Key(), s.Pass());
  no_ca.replace(no_ca.find("\"tls\""), no_ca.find("\"api_key\"") - no_ca.find("\"tls\""), "");
  WriteFile(s.dir() + "/bridge-no-ca.json", no_ca);
  auto b = RunCommand(Bridge() + " --config " + s.dir() + "/bridge-no-ca.json --check");
  EXPECT_EQ(b.exit_code, 2) << b.output;
  EXPECT_NE(b.output.find("tls.ca"), std::string::npos) << b.output;
}

}  // namespace
}  // namespace dipgate

namespace dipgate {
namespace {

// The nginx worker and the bridge carry only what they use of the core:
// the test PKI generator (CA keys, self-issued certificates) is dipctl's
// and the tests', never in a production process.
TEST(SecurityReview, TheTestPkiGeneratorIsNotInTheModuleOrTheBridge) {
  for (const char* binary : {"nginx_module/ngx_http_dip_module.so",
                             "kafka_bridge/dipgate-bridge", "cli/dipctl"}) {
    auto r = testing::RunCommand("nm -C " + testing::Runfile(binary) + " | grep -c CreateTestPki");
    bool has_pki = atoi(r.output.c_str()) > 0;
    EXPECT_EQ(has_pki, std::string(binary) == "cli/dipctl") << binary << ": " << r.output;
  }
}

}  // namespace
}  // namespace dipgate
