// Shared test fixtures: a test PKI made once per test process, file and
// process helpers for driving independent peers (openssl CLI, Python).
#ifndef DIPGATE_TESTS_FIXTURES_H_
#define DIPGATE_TESTS_FIXTURES_H_

#include <memory>
#include <string>
#include <vector>

#include "common/canonical.h"
#include "common/signer.h"
#include "common/trust_store.h"
#include "common/verifier.h"

namespace dipgate::testing {

// A TCP port on 127.0.0.1 free when asked.
int FreePort();

// The clock the shared PKI was made at; tests verify at or near it.
UnixMillis PkiNow();

// Directory holding the PKI of CreateTestPki, made once per process.
const std::string& PkiDir();
std::string PkiFile(const std::string& name);

// A fresh directory under TEST_TMPDIR.
std::string NewTempDir(const std::string& hint);

std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& data);

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};
CommandResult RunCommand(const std::string& command);
std::string ShellQuote(const std::string& s);

// Trust in the shared PKI's CAs and CRLs (nonprod unless told otherwise).
std::shared_ptr<TrustStore> PkiTrust(Environment env = Environment::kNonProd);

// Runfile path of a file in this repository (e.g. "tests/vectors/...").
std::string Runfile(const std::string& path);

// The identity whose certificate and key are PkiFile(name + ".pem"/".key").
std::shared_ptr<const SigningIdentity> PkiIdentity(const std::string& name);

// A signed request, owning its strings; request() views them.
struct SignedMessage {
  std::string method, url, body;
  DipHeaders headers;
  SignedRequest request() const;
};

SignedMessage SignWith(const std::string& identity, const std::string& method,
                       const std::string& url, const std::string& body, UnixMillis now);

}  // namespace dipgate::testing

#endif  // DIPGATE_TESTS_FIXTURES_H_
