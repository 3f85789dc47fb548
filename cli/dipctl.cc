// dipctl: the operator's tool for DIP message signing and the DIP's API.
//
//   dipctl sign     headers (or a ready curl command) for a body, method, URL
//   dipctl verify   check headers + body against the trusted DIP CA
//   dipctl inspect  decode headers or a certificate: signer, environment,
//                   validity, chain status
//   dipctl pki      create a test PKI shaped like the DIP CA
//   dipctl csr      a key and a CSR with the subject fields of CoCo Table 4
//   dipctl validate / send / pubconfig / replay / requeue / statusmessage:
//                   the DIP's API (cli/dip_api_commands.cc)
//
// Exit codes: 0 success, 1 rejected (verify/inspect found a fault),
// 2 usage error, 3 could not run (unreadable file, bad configuration).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "common/base64.h"
#include "common/canonical.h"
#include "common/certificate.h"
#include "common/digest.h"
#include "common/files.h"
#include "common/headers.h"
#include "common/json_text.h"
#include "common/pki.h"
#include "common/signer.h"
#include "common/trust_store.h"
#include "common/verifier.h"
#include "transport/https.h"

namespace dipgate {
namespace {

constexpr int64_t kDayMs = 86400000;

const char kUsage[] = R"(usage: dipctl <command> [options]

commands:
  sign     --url URL [--method POST] [--body FILE|-] identity [--format headers|curl|json]
           [--api-key KEY] [--date ISO8601]
  verify   --url URL [--method POST] --headers FILE [--body FILE|-] trust
           [--date ISO8601] [--window SECONDS]
  inspect  (--headers FILE | --cert FILE) [trust] [--date ISO8601]
  pki      --out DIR [--domain example.co.uk] [--org "Example Energy Ltd"]
           [--crl-url http://crl.example.invalid] (CRL distribution points)
  csr      --key-out FILE --csr-out FILE --cn energydip-<env>.<domain> --org O
           --city C --state S --country GB [--key-type rsa|ec]

the DIP's API (docs/dip-api.md):
  validate --body FILE|- [--channel IF-033] [--env prod|nonprod|any] [--schemas DIR]
           [--format text|json]                 offline, like the DIP's /validate
  send     --body FILE|- [--channel IF-033] [--no-validate] call
           POST {url}/dip-channel/{channel}; exit 0 when every message is
           MSG0000 or MSG1006 (already received, whatever the HTTP status)
  pubconfig (--channel IF-033 | --status-messages) --recipient DIPID
           (--callback-url URL [--max-message-count N] [--max-payload-size KB] | --delete) call
  replay   --channel IF-033 --recipient DIPID --from DATETIME --to DATETIME
           [--event-code "[Event]"] [--mpan MPAN] [--version 011] [--transaction-id ID]...
           [--out FILE] call
  requeue  (as replay) call
  statusmessage --body FILE call               POST {url}/statusmessage

call:      --url https://dip.example identity [--api-key KEY | --api-key-file FILE]
           --server-ca FILE [--client-cert FILE --client-key FILE
           [--client-key-passphrase-file FILE]] [--tls-min 1.2|1.3] [--no-http2]
           [--expect-continue-bytes N]
           [--timeout SECONDS] [--format text|json] [--schemas DIR]
           DATETIME is as the DIP writes it: 2026-11-30T00:00:00+00:00. Schemas come
           from --schemas, $DIPGATE_SCHEMAS or /usr/share/dipgate/schemas.

identity:  --cert FILE --key FILE [--passphrase-file FILE]  |  --pkcs12 FILE --passphrase-file FILE
trust:     --ca FILE... [--crl FILE...] [--no-revocation] [--allow-expired-crl]
           [--env prod|nonprod|any]

Headers files hold "Name: value" lines, as `dipctl sign` or `curl -D` write them.
Exit codes: 0 ok, 1 rejected, 2 usage error, 3 could not run.
)";

}  // namespace

int Usage(const std::string& message) {
  std::cerr << "dipctl: " << message << "\n\n" << kUsage;
  return kExitUsage;
}

// One command's part of the usage text: its lines (and, for a command
// described "as" another, that one's), then the shared sections (call:,
// identity:, trust: and the notes). Empty for an unknown command.
std::string CommandUsage(const std::string& command) {
  std::istringstream in(kUsage);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  auto block = [&](const std::string& name) {
    std::string out;
    for (size_t i = 0; i < lines.size(); ++i) {
      if (lines[i].rfind("  " + name + " ", 0) != 0) continue;
      out += lines[i] + "\n";
      while (i + 1 < lines.size() && lines[i + 1].rfind("   ", 0) == 0) out += lines[++i] + "\n";
      break;
    }
    return out;
  };
  std::string out = block(command);
  if (out.empty()) return out;
  if (size_t as = out.find("(as "); as != std::string::npos) {
    out += block(out.substr(as + 4, out.find(')', as) - as - 4));
  }
  std::string text = kUsage;
  size_t shared = text.find("\ncall:");
  return "usage: dipctl " + command + " [options]\n\n" + out +
         (shared == std::string::npos ? "" : text.substr(shared));
}

namespace {

const std::vector<std::string> kTrustOptions = {"ca", "crl", "no-revocation",
                                                "allow-expired-crl", "env"};

Result<std::shared_ptr<TrustStore>> TrustFromArgs(const Args& args) {
  TrustOptions o;
  o.ca_files = args.All("ca");
  o.crl_files = args.All("crl");
  o.revocation = args.Has("no-revocation") ? Revocation::kOff : Revocation::kRequireCrl;
  o.allow_expired_crl = args.Has("allow-expired-crl");
  auto env = EnvironmentFromName(args.Get("env", "any"));
  if (!env) return Error{env.reason(), "--env: " + env.error().detail};
  o.environment = *env;
  for (const std::string& relaxed : RelaxedChecks(o)) {
    std::cerr << "dipctl: warning: " << relaxed << "\n";
  }
  return TrustStore::Create(std::move(o));
}

struct HeaderSet {
  std::map<std::string, std::vector<std::string>> values;  // lower-case name
  const std::vector<std::string>* Find(std::string_view name) const {
    std::string lower(name);
    for (char& c : lower) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    auto it = values.find(lower);
    return it == values.end() ? nullptr : &it->second;
  }
};

HeaderSet ParseHeaders(const std::string& text) {
  HeaderSet h;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t colon = line.find(':');
    if (colon == std::string::npos || line.rfind("HTTP/", 0) == 0) continue;
    std::string name = line.substr(0, colon);
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.erase(0, 1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
    for (char& c : name) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    h.values[name].push_back(value);
  }
  return h;
}

// Fills `request` from the headers (the core's one rule); false with the
// repeated header's name when a DIP header appears twice.
bool FillRequest(const HeaderSet& h, SignedRequest* r, std::string* duplicate) {
  DipHeaderCollector c;
  for (const auto& [name, values] : h.values) {
    for (const std::string& v : values) c.Add(name, v);
  }
  if (!c.duplicate().empty()) {
    *duplicate = std::string(c.duplicate());
    return false;
  }
  r->signature = c.signature();
  r->signature_date = c.signature_date();
  r->certificate = c.certificate();
  r->content_hash = c.content_hash();
  return true;
}

std::string FormatDays(UnixMillis ms) {
  return std::to_string(ms / kDayMs) + " days";
}

void PrintCertificate(const CertificateInfo& info, UnixMillis now) {
  std::cout << "subject:      " << info.subject << "\n"
            << "issuer:       " << info.issuer << "\n"
            << "organisation: " << info.organization << "\n"
            << "environment:  " << ToString(info.environment) << "\n"
            << "key:          " << info.key_description << "\n"
            << "serial:       " << info.serial << "\n"
            << "fingerprint:  sha256 " << info.fingerprint << "\n"
            << "valid from:   " << FormatSignatureDate(info.not_before) << "\n"
            << "valid until:  " << FormatSignatureDate(info.not_after);
  if (now > info.not_after) {
    std::cout << "  (EXPIRED " << FormatDays(now - info.not_after) << " ago)";
  } else if (now < info.not_before) {
    std::cout << "  (NOT YET VALID)";
  } else {
    std::cout << "  (" << FormatDays(info.not_after - now) << " left)";
  }
  std::cout << "\n";
}

// CoCo 6.1.5: renewal notices at 90/60/30/1 days; the CLI warns from
// kExpiryWarningDays.
void WarnIfExpiring(const CertificateInfo& info, UnixMillis now) {
  if (now <= info.not_after && DaysToExpiry(info.not_after, now) < kExpiryWarningDays) {
    std::cerr << "dipctl: warning: certificate " << info.common_name << " expires in "
              << FormatDays(info.not_after - now) << " (" << FormatSignatureDate(info.not_after)
              << "); renew it now (CoCo 6.1.4)\n";
  }
}

int Sign(int argc, char** argv) {
  Args args;
  if (auto parsed = args.Parse(argc, argv, {}); !parsed) return Usage(parsed.error().detail);
  std::string unknown = args.Unknown({"url", "method", "body", "cert", "key", "passphrase-file",
                                      "pkcs12", "format", "api-key", "date"});
  if (!unknown.empty()) return Usage("sign: unknown option --" + unknown);
  if (!args.Has("url")) return Usage("sign: --url is required");
  if (!args.Has("pkcs12") && !(args.Has("cert") && args.Has("key"))) {
    return Usage("sign: give --cert and --key, or --pkcs12");
  }
  std::string format = args.Get("format", "headers");
  if (format != "headers" && format != "curl" && format != "json") {
    return Usage("sign: --format must be headers, curl or json");
  }
  UnixMillis now;
  auto when = Now(args);
  if (!when) return Usage(when.error().detail);
  now = *when;
  std::string body;
  if (args.Has("body")) {
    auto read = ReadInput(args.Get("body"));
    if (!read) return Fail("body file: " + read.error().detail);
    body = std::move(*read);
  }
  KeySource src{"cli", args.Get("cert"), args.Get("key"), args.Get("pkcs12"),
                args.Get("passphrase-file")};
  auto id = LoadIdentity(src);
  if (!id) return Fail(id.error().detail);
  for (const auto& w : (*id)->warnings) std::cerr << "dipctl: warning: " << w << "\n";
  WarnIfExpiring((*id)->info, now);
  auto signer = RequestSigner::Create(*id);
  if (!signer) return Fail(signer.error().detail);
  std::string method = args.Get("method", "POST");
  for (char& c : method) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  auto h = signer->Sign(method, args.Get("url"), body, now);
  if (!h) return Fail(h.error().detail);

  auto headers = SignedHeaderList(*h, args.Get("api-key"));
  if (format == "headers") {
    for (const auto& [name, value] : headers) std::cout << name << ": " << value << "\n";
  } else if (format == "json") {
    std::cout << "{";
    for (size_t i = 0; i < headers.size(); ++i) {
      std::cout << (i ? ", " : "") << JsonQuote(headers[i].first) << ": "
                << JsonQuote(headers[i].second);
    }
    std::cout << "}\n";
  } else {
    std::cout << "curl --fail-with-body -X " << method << " " << Quote(args.Get("url"));
    for (const auto& [name, value] : headers) {
      std::cout << " \\\n  -H " << Quote(std::string(name) + ": " + value);
    }
    if (!body.empty()) {
      std::cout << " \\\n  -H 'Content-Type: application/json' --data-binary "
                << (args.Get("body") == "-" ? Quote(body) : "@" + Quote(args.Get("body")));
    }
    std::cout << "\n";
  }
  return kExitOk;
}

int Verify(int argc, char** argv) {
  Args args;
  if (auto parsed = args.Parse(argc, argv, {"no-revocation", "allow-expired-crl"}); !parsed) return Usage(parsed.error().detail);
  std::vector<std::string> known = {"url", "method", "headers", "body", "date", "window"};
  known.insert(known.end(), kTrustOptions.begin(), kTrustOptions.end());
  std::string unknown = args.Unknown(known);
  if (!unknown.empty()) return Usage("verify: unknown option --" + unknown);
  if (!args.Has("url") || !args.Has("headers")) {
    return Usage("verify: --url and --headers are required");
  }
  if (!args.Has("ca")) return Usage("verify: --ca is required (the system store is never used)");
  UnixMillis now;
  auto when = Now(args);
  if (!when) return Usage(when.error().detail);
  now = *when;
  auto header_text = ReadInput(args.Get("headers"));
  if (!header_text) return Fail("headers file: " + header_text.error().detail);
  std::string body;
  if (args.Has("body")) {
    auto read = ReadInput(args.Get("body"));
    if (!read) return Fail("body file: " + read.error().detail);
    body = std::move(*read);
  }
  auto trust = TrustFromArgs(args);
  if (!trust) return Fail(trust.error().detail);
  VerifyPolicy policy;
  if (args.Has("window")) {
    std::string text = args.Get("window");  // `end` points into it
    char* end = nullptr;
    long s = strtol(text.c_str(), &end, 10);
    if (*end != '\0' || s <= 0) return Usage("--window must be a positive number of seconds");
    policy.max_age_ms = policy.max_future_ms = s * 1000;
  }
  HeaderSet headers = ParseHeaders(*header_text);
  SignedRequest r;
  std::string method = args.Get("method", "POST");
  std::string url = args.Get("url");
  r.method = method;
  r.destination = url;
  r.body = body;
  std::string duplicate;
  if (!FillRequest(headers, &r, &duplicate)) {
    std::cout << "rejected: " << ToString(Reason::kDuplicateHeader) << " (" << duplicate
              << "): the header appears more than once\n";
    return kExitRejected;
  }
  Verifier verifier(*trust, policy);
  Verdict v = verifier.Verify(r, now);
  if (!v.ok()) {
    std::cout << (IsInternal(v.reason) ? "error: " : "rejected: ") << ToString(v.reason);
    if (!v.header.empty()) std::cout << " (" << v.header << ")";
    std::cout << ": " << v.detail << "\n";
    if (v.signer) std::cout << "signer: " << v.signer->subject << "\n";
    return IsInternal(v.reason) ? kExitError : kExitRejected;
  }
  std::cout << "ok: signature valid\n"
            << "signer: " << v.signer->subject << "\n"
            << "organisation: " << v.signer->organization << "\n"
            << "environment: " << ToString(v.signer->environment) << "\n"
            << "fingerprint: sha256 " << v.signer->fingerprint << "\n"
            << "signed at: " << FormatSignatureDate(v.signature_date) << "\n";
  WarnIfExpiring(*v.signer, now);
  return kExitOk;
}

int Inspect(int argc, char** argv) {
  Args args;
  if (auto parsed = args.Parse(argc, argv, {"no-revocation", "allow-expired-crl"}); !parsed) return Usage(parsed.error().detail);
  std::vector<std::string> known = {"headers", "cert", "date"};
  known.insert(known.end(), kTrustOptions.begin(), kTrustOptions.end());
  std::string unknown = args.Unknown(known);
  if (!unknown.empty()) return Usage("inspect: unknown option --" + unknown);
  if (args.Has("headers") == args.Has("cert")) {
    return Usage("inspect: give one of --headers or --cert");
  }
  UnixMillis now;
  auto when = Now(args);
  if (!when) return Usage(when.error().detail);
  now = *when;
  int status = kExitOk;

  X509Ptr leaf;
  X509StackPtr extra(sk_X509_new_null());
  if (args.Has("cert")) {
    auto certs = LoadCertificates(args.Get("cert"));
    if (!certs) return Fail(certs.error().detail);
    leaf = std::move(certs->front());
    for (size_t i = 1; i < certs->size(); ++i) sk_X509_push(extra.get(), (*certs)[i].release());
  } else {
    auto text = ReadInput(args.Get("headers"));
    if (!text) return Fail("headers file: " + text.error().detail);
    HeaderSet h = ParseHeaders(*text);
    auto show = [&](std::string_view name) -> const std::string* {
      const auto* v = h.Find(name);
      std::cout << name << ": ";
      if (v == nullptr) {
        std::cout << "(missing)\n";
        status = kExitRejected;
        return nullptr;
      }
      if (v->size() > 1) {
        std::cout << "(appears " << v->size() << " times)\n";
        status = kExitRejected;
      }
      return &v->front();
    };
    if (const std::string* date = show(kSignatureDateHeader)) {
      auto t = ParseSignatureDate(*date);
      if (t) {
        std::cout << *date << " = " << FormatSignatureDate(*t) << " ("
                  << (now - *t) / 1000 << " s before now)\n";
      } else {
        std::cout << *date << " (not a valid ISO 8601 UTC time)\n";
        status = kExitRejected;
      }
    }
    if (const std::string* hash = show(kContentHashHeader)) {
      auto raw = Base64Decode(*hash);
      std::cout << *hash
                << (raw && raw->size() == 32 ? " (SHA-256)\n" : " (not a base64 SHA-256)\n");
      if (!raw || raw->size() != 32) status = kExitRejected;
    }
    if (const std::string* sig = show(kSignatureHeader)) {
      auto raw = Base64Decode(*sig);
      if (raw) {
        std::cout << raw->size() << " bytes";
        if (raw->size() == 64) std::cout << " (ECDSA P1363 r||s)";
        else if (!raw->empty() && (*raw)[0] == 0x30) std::cout << " (ECDSA DER)";
        else std::cout << " (RSA PKCS#1 v1.5 for a " << raw->size() * 8 << "-bit key)";
        std::cout << "\n";
      } else {
        std::cout << "not valid base64\n";
        status = kExitRejected;
      }
    }
    const auto* cert = h.Find(kCertificateHeader);
    if (cert == nullptr) cert = h.Find(kLegacyCertificateHeader);
    if (cert == nullptr) {
      std::cout << kCertificateHeader << ": (missing)\n";
      return kExitRejected;
    }
    auto decoded = DecodeCertificateHeader(cert->front());
    if (!decoded) {
      std::cout << kCertificateHeader << ": " << ToString(decoded.reason()) << ": "
                << decoded.error().detail << "\n";
      return kExitRejected;
    }
    std::cout << kCertificateHeader << ": "
              << (cert->front().size() > 0 &&
                          Base64Decode(cert->front())->find("-----BEGIN") != std::string::npos
                      ? "base64 of PEM"
                      : "base64 of DER")
              << "\n";
    leaf = std::move(decoded->leaf);
    extra = std::move(decoded->extra);
  }

  std::cout << "\ncertificate\n";
  auto read = ReadCertificateInfo(leaf.get());
  if (!read) {
    std::cout << "rejected: " << ToString(read.reason()) << ": " << read.error().detail << "\n";
    return kExitRejected;
  }
  const CertificateInfo& info = *read;
  PrintCertificate(info, now);
  WarnIfExpiring(info, now);
  auto profile = CheckEndEntityProfile(leaf.get());
  std::cout << "profile:      "
            << (profile ? "DIP signing end-entity (v3, digitalSignature, key size ok)"
                        : std::string(ToString(profile.reason())) + ": " + profile.error().detail)
            << "\n";
  if (args.Has("ca")) {
    auto trust = TrustFromArgs(args);
    if (!trust) return Fail(trust.error().detail);
    auto v = (*trust)->Validate(leaf.get(), extra.get(), now);
    // Say what was checked: revocation and the environment only when asked.
    std::string checked = "chain, validity";
    if (!args.Has("no-revocation")) checked += ", revocation";
    if (args.Get("env", "any") != "any") checked += ", environment " + args.Get("env");
    std::cout << "chain:        "
              << (v ? "trusted (" + checked + " checked)"
                    : std::string(ToString(v.reason())) + ": " + v.error().detail)
              << "\n";
    if (!v) status = kExitRejected;
  } else {
    std::cout << "chain:        not checked (give --ca and --crl to check it)\n";
  }
  if (!profile) status = kExitRejected;
  return status;
}

int Pki(int argc, char** argv) {
  Args args;
  if (auto parsed = args.Parse(argc, argv, {}); !parsed) return Usage(parsed.error().detail);
  std::string unknown = args.Unknown({"out", "domain", "org", "passphrase", "crl-url"});
  if (!unknown.empty()) return Usage("pki: unknown option --" + unknown);
  if (!args.Has("out")) return Usage("pki: --out DIR is required");
  PkiOptions o;
  o.directory = args.Get("out");
  o.domain = args.Get("domain", o.domain);
  o.organization = args.Get("org", o.organization);
  o.passphrase = args.Get("passphrase", o.passphrase);
  o.crl_url_base = args.Get("crl-url", o.crl_url_base);
  std::cerr << "dipctl: generating RSA-4096 CA keys and leaf certificates...\n";
  auto files = CreateTestPki(o);
  if (!files) return Fail(files.error().detail);
  for (const auto& f : *files) std::cout << f << "\n";
  std::cerr << "dipctl: test PKI written to " << o.directory
            << " (for testing only: real certificates come from the DIP portal)\n";
  return kExitOk;
}

int Csr(int argc, char** argv) {
  Args args;
  if (auto parsed = args.Parse(argc, argv, {}); !parsed) return Usage(parsed.error().detail);
  std::string unknown = args.Unknown(
      {"key-out", "csr-out", "cn", "org", "city", "state", "country", "key-type", "bits"});
  if (!unknown.empty()) return Usage("csr: unknown option --" + unknown);
  for (const char* required : {"key-out", "csr-out", "cn", "org", "city", "state", "country"}) {
    if (!args.Has(required)) return Usage(std::string("csr: --") + required + " is required");
  }
  CsrOptions o;
  o.key_file = args.Get("key-out");
  o.csr_file = args.Get("csr-out");
  o.common_name = args.Get("cn");
  o.organization = args.Get("org");
  o.city = args.Get("city");
  o.state = args.Get("state");
  o.country = args.Get("country");
  o.key_type = args.Get("key-type", "rsa");
  o.rsa_bits = atoi(args.Get("bits", "2048").c_str());
  auto ok = CreateCsr(o);
  if (!ok) return Usage("csr: " + ok.error().detail);
  std::cout << "key: " << o.key_file << " (mode 0600)\ncsr: " << o.csr_file
            << "\nUpload the CSR in the DIP portal (CoCo 6.1.2).\n";
  return kExitOk;
}

}  // namespace
}  // namespace dipgate

int main(int argc, char** argv) {
  if (argc < 2) return dipgate::Usage("no command given");
  std::string cmd = argv[1];
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    std::cout << dipgate::kUsage;
    return 0;
  }
  int rest_argc = argc - 2;
  char** rest = argv + 2;
  for (int i = 0; i < rest_argc; ++i) {
    std::string a = rest[i];
    if (a != "--help" && a != "-h") continue;
    std::string usage = dipgate::CommandUsage(cmd);
    if (usage.empty()) return dipgate::Usage("unknown command '" + cmd + "'");
    std::cout << usage;
    return 0;
  }
  dipgate::transport::InitHttp();
  if (cmd == "sign") return dipgate::Sign(rest_argc, rest);
  if (cmd == "verify") return dipgate::Verify(rest_argc, rest);
  if (cmd == "inspect") return dipgate::Inspect(rest_argc, rest);
  if (cmd == "pki") return dipgate::Pki(rest_argc, rest);
  if (cmd == "csr") return dipgate::Csr(rest_argc, rest);
  if (cmd == "validate") return dipgate::ValidateCommand(rest_argc, rest);
  if (cmd == "send") return dipgate::SendCommand(rest_argc, rest);
  if (cmd == "pubconfig") return dipgate::PubconfigCommand(rest_argc, rest);
  if (cmd == "replay") return dipgate::ReplayCommand(rest_argc, rest, false);
  if (cmd == "requeue") return dipgate::ReplayCommand(rest_argc, rest, true);
  if (cmd == "statusmessage") return dipgate::StatusMessageCommand(rest_argc, rest);
  return dipgate::Usage("unknown command '" + cmd + "'");
}
