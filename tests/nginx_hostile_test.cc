// Hostile traffic into nginx with dip_verify: missing, duplicated and
// oversized headers, invalid base64 and UTF-8, bad dates, truncated, huge and
// slow bodies, bad chunking, pipelined and aborted requests, raw garbage,
// over raw sockets. Every request is answered with the right 4xx (and, when
// the module answers, the right reason word and header) or closed by nginx;
// the worker never crashes and the error log has no [alert]. A valid
// message still verifies afterwards.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include "common/canonical.h"
#include "tests/nginx_fixture.h"

namespace dipgate {
namespace {

using testing::ReadFile;
using testing::Runfile;

constexpr const char* kPath = "/webhook/IF-041";

struct Exchange {
  std::string response;  // everything nginx sent before closing
  int status = 0;        // of the first response, 0 if none
  bool closed = false;   // nginx closed the connection
};

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Reads until nginx closes or `timeout_ms` of silence.
void ReadAll(int fd, Exchange* x, int timeout_ms) {
  char buf[16384];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return;
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) {
      x->closed = true;
      return;
    }
    x->response.append(buf, static_cast<size_t>(n));
  }
}

int StatusOf(const std::string& response) {
  if (response.rfind("HTTP/1.1 ", 0) != 0 || response.size() < 12) return 0;
  return std::stoi(response.substr(9, 3));
}

// Sends `parts` one after another, `gap_ms` apart; `abort` resets the
// connection (SO_LINGER 0) instead of reading the answer.
Exchange Send(int port, const std::vector<std::string>& parts, int gap_ms = 0,
              bool abort = false, int timeout_ms = 5000) {
  Exchange x;
  int fd = Connect(port);
  if (fd < 0) return x;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0 && gap_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(gap_ms));
    if (send(fd, parts[i].data(), parts[i].size(), MSG_NOSIGNAL) < 0) break;
  }
  if (abort) {
    linger l{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    close(fd);
    return x;
  }
  ReadAll(fd, &x, timeout_ms);
  close(fd);
  x.status = StatusOf(x.response);
  return x;
}

std::string Request(const std::vector<std::pair<std::string, std::string>>& headers,
                    const std::string& body, const std::string& path = kPath,
                    bool content_length = true) {
  std::string r = "POST " + std::string(path) + " HTTP/1.1\r\nHost: hooks.example\r\n";
  for (const auto& [name, value] : headers) r += name + ": " + value + "\r\n";
  if (content_length) r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return r + "Connection: close\r\n\r\n" + body;
}

class NginxHostileTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    echo_ = new testing::Ingress(/*tls=*/false, /*mtls=*/false, /*accept_all=*/true);
    port_ = testing::FreePort();
    nginx_ = new testing::Nginx(
        "  server {\n"
        "    listen 127.0.0.1:" + std::to_string(port_) + ";\n"
        "    client_body_buffer_size 1k;\n"
        "    client_max_body_size 1m;\n"
        "    client_body_timeout 2s;\n"
        "    client_header_timeout 2s;\n"
        "    large_client_header_buffers 4 8k;\n" +
        testing::VerifyLocation("/webhook", "", echo_->port()) +
        "  }\n");
    ASSERT_TRUE(nginx_->started()) << nginx_->start_output();
    worker_ = nginx_->WorkerPid();
  }
  static void TearDownTestSuite() {
    delete nginx_;
    delete echo_;
  }

  // The DIP headers of a valid message for `body`, signed now.
  static std::vector<std::pair<std::string, std::string>> Signed(const std::string& body) {
    auto m = testing::SignWith("signer-rsa", "POST", "http://hooks.example" + std::string(kPath),
                               body, WallClockMillis());
    return {{"X-DIP-Signature", m.headers.signature},
            {"X-DIP-Signature-Date", m.headers.signature_date},
            {"X-DIP-Signature-Certificate", m.headers.certificate},
            {"X-DIP-Content-Hash", m.headers.content_hash}};
  }
  static std::vector<std::pair<std::string, std::string>> With(
      std::vector<std::pair<std::string, std::string>> h, const std::string& name,
      const std::string& value) {
    for (auto& [n, v] : h) {
      if (n == name) v = value;
    }
    return h;
  }
  static std::vector<std::pair<std::string, std::string>> Without(
      std::vector<std::pair<std::string, std::string>> h, const std::string& name) {
    h.erase(std::remove_if(h.begin(), h.end(), [&](const auto& p) { return p.first == name; }),
            h.end());
    return h;
  }

  // The module's answer: 401 (413 for body_too_large) with this reason
  // word and header.
  static void ExpectRejected(const Exchange& x, const std::string& reason,
                             const std::string& header, const std::string& what) {
    EXPECT_EQ(x.status, reason == "body_too_large" ? 413 : 401) << what << "\n" << x.response;
    EXPECT_NE(x.response.find("\"reason\":\"" + reason + "\""), std::string::npos)
        << what << "\n" << x.response;
    if (!header.empty()) {
      EXPECT_NE(x.response.find("\"header\":\"" + header + "\""), std::string::npos)
          << what << "\n" << x.response;
    }
  }
  // nginx itself refuses (a 4xx of its own) or closes without an answer.
  static void ExpectRefusedOrClosed(const Exchange& x, const std::string& what) {
    EXPECT_TRUE((x.status >= 400 && x.status < 500) || (x.status == 0 && x.closed))
        << what << "\n" << x.response;
  }

  static testing::Ingress* echo_;
  static testing::Nginx* nginx_;
  static int port_;
  static int worker_;
};
testing::Ingress* NginxHostileTest::echo_ = nullptr;
testing::Nginx* NginxHostileTest::nginx_ = nullptr;
int NginxHostileTest::port_ = 0;
int NginxHostileTest::worker_ = 0;

std::string Body() { return ReadFile(Runfile("tests/data/if-041-reading-cos.json")); }

TEST_F(NginxHostileTest, MalformedHeadersGetTheirReason) {
  std::string body = Body();
  auto good = Signed(body);
  ASSERT_EQ(Send(port_, {Request(good, body)}).status, 200);
  for (const char* name : {"X-DIP-Signature", "X-DIP-Signature-Date",
                           "X-DIP-Signature-Certificate", "X-DIP-Content-Hash"}) {
    ExpectRejected(Send(port_, {Request(Without(good, name), body)}), "missing_header", name,
                   std::string("missing ") + name);
    ExpectRejected(Send(port_, {Request(With(good, name, ""), body)}), "missing_header", name,
                   std::string("empty ") + name);
  }
  auto doubled = good;
  doubled.push_back(good[0]);
  ExpectRejected(Send(port_, {Request(doubled, body)}), "duplicate_header", "X-DIP-Signature",
                 "duplicate signature");
  auto doubled_hash = good;
  doubled_hash.push_back({"x-dip-content-hash", good[3].second});
  ExpectRejected(Send(port_, {Request(doubled_hash, body)}), "duplicate_header",
                 "X-DIP-Content-Hash", "duplicate hash, other case");

  ExpectRejected(Send(port_, {Request(With(good, "X-DIP-Signature", "!!!not*base64!!!"), body)}),
                 "bad_base64", "X-DIP-Signature", "signature not base64");
  ExpectRejected(Send(port_, {Request(With(good, "X-DIP-Signature-Certificate", "%%%%"), body)}),
                 "bad_base64", "X-DIP-Signature-Certificate", "certificate not base64");
  ExpectRejected(Send(port_, {Request(With(good, "X-DIP-Signature-Certificate",
                                           "AAAAAAAAAAAAAAAA"), body)}),
                 "bad_certificate", "X-DIP-Signature-Certificate", "certificate garbage DER");
  ExpectRejected(Send(port_, {Request(With(good, "X-DIP-Signature", "\xff\xfe\xfd\xfc"), body)}),
                 "bad_base64", "X-DIP-Signature", "signature invalid UTF-8");
  ExpectRejected(Send(port_, {Request(With(good, "X-DIP-Signature-Date", "\xc3\x28\xa0\xa1"),
                                      body)}),
                 "bad_date", "X-DIP-Signature-Date", "date invalid UTF-8");
  for (const char* date : {"yesterday", "2026-13-45T99:99:99Z", "99999-01-01T00:00:00Z",
                           "2026-11-23T10:00:00.1234567890Z", "2026-11-23"}) {
    ExpectRejected(Send(port_, {Request(With(good, "X-DIP-Signature-Date", date), body)}),
                   "bad_date", "X-DIP-Signature-Date", std::string("date ") + date);
  }
  ExpectRejected(Send(port_, {Request(With(good, "X-DIP-Signature-Date", "2001-01-01T00:00:00Z"),
                                      body)}),
                 "stale_date", "X-DIP-Signature-Date", "old date");
  ExpectRejected(Send(port_, {Request(With(good, "X-DIP-Signature", good[0].second.substr(8)),
                                      body)}),
                 "signature_mismatch", "X-DIP-Signature", "truncated signature");
  std::string tampered = body;
  tampered[tampered.size() / 2] ^= 1;
  ExpectRejected(Send(port_, {Request(good, tampered)}), "content_hash_mismatch",
                 "X-DIP-Content-Hash", "tampered body");
}

TEST_F(NginxHostileTest, OversizedAndBrokenRequestsAreRefusedByNginx) {
  std::string body = Body();
  auto good = Signed(body);
  // One header larger than large_client_header_buffers.
  ExpectRefusedOrClosed(
      Send(port_, {Request(With(good, "X-DIP-Signature-Certificate", std::string(20000, 'A')),
                           body)}),
      "oversized certificate header");
  // Thousands of headers.
  auto many = good;
  for (int i = 0; i < 3000; ++i) many.push_back({"X-Filler-" + std::to_string(i), "x"});
  ExpectRefusedOrClosed(Send(port_, {Request(many, body)}), "3000 headers");
  // A very long URL.
  ExpectRefusedOrClosed(Send(port_, {Request(good, body, "/webhook/" + std::string(20000, 'a'))}),
                        "long URL");
  // A NUL byte in a header value, a header without a colon, raw garbage.
  ExpectRefusedOrClosed(
      Send(port_, {Request(With(good, "X-DIP-Signature", std::string("ab\0cd", 5)), body)}),
      "NUL in header");
  ExpectRefusedOrClosed(Send(port_, {"POST /webhook HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n"}),
                        "header without colon");
  std::mt19937 rng(20261123);
  for (int i = 0; i < 50; ++i) {
    std::string garbage(1 + rng() % 4000, '\0');
    for (char& c : garbage) c = static_cast<char>(rng());
    ExpectRefusedOrClosed(Send(port_, {garbage}, 0, false, 3000), "garbage " + std::to_string(i));
  }
  // Bodies: larger than client_max_body_size (413), larger than
  // dip_verify_max_body (body_too_large), bad chunk sizes, chunked larger
  // than the limit.
  std::string huge(2 * 1024 * 1024, 'x');
  auto x = Send(port_, {Request(Signed(huge), huge)});
  EXPECT_TRUE(x.status == 413 || (x.status == 0 && x.closed)) << x.response.substr(0, 300);
  std::string big(100 * 1024, 'y');
  ExpectRejected(Send(port_, {Request(Signed(big), big)}), "body_too_large", "", "100 KB body");
  std::string chunked = Request(good, "", kPath, false);
  chunked.insert(chunked.find("Connection"), "Transfer-Encoding: chunked\r\n");
  ExpectRefusedOrClosed(Send(port_, {chunked + "zz\r\nhello\r\n0\r\n\r\n"}), "bad chunk size");
  ExpectRefusedOrClosed(Send(port_, {chunked + "ffffffffffffffffff\r\nx\r\n"}),
                        "overflowing chunk size");
  std::string chunk(32 * 1024, 'z');
  char size[16];
  snprintf(size, sizeof(size), "%zx", chunk.size());
  std::string chunks;
  for (int i = 0; i < 4; ++i) chunks += std::string(size) + "\r\n" + chunk + "\r\n";
  ExpectRejected(Send(port_, {chunked + chunks + "0\r\n\r\n"}), "body_too_large", "",
                 "128 KB chunked");
  // Content-Length and Transfer-Encoding together, negative length.
  std::string both = Request(good, body);
  both.insert(both.find("Connection"), "Transfer-Encoding: chunked\r\n");
  ExpectRefusedOrClosed(Send(port_, {both}), "Content-Length with chunked");
  std::string negative = Request(good, "", kPath, false);
  negative.insert(negative.find("Connection"), "Content-Length: -5\r\n");
  ExpectRefusedOrClosed(Send(port_, {negative}), "negative Content-Length");
}

TEST_F(NginxHostileTest, TruncatedSlowAbortedAndPipelinedRequests) {
  std::string body = Body();
  auto good = Signed(body);
  std::string full = Request(good, body);
  // Truncated: the body stops short and the client half-closes.
  {
    int fd = Connect(port_);
    ASSERT_GE(fd, 0);
    std::string part = full.substr(0, full.size() - body.size() / 2);
    send(fd, part.data(), part.size(), MSG_NOSIGNAL);
    shutdown(fd, SHUT_WR);
    Exchange x;
    ReadAll(fd, &x, 5000);
    close(fd);
    x.status = StatusOf(x.response);
    ExpectRefusedOrClosed(x, "truncated body");
  }
  // Slow: the body trickles in slower than client_body_timeout (2 s).
  size_t head = full.size() - body.size();
  auto slow = Send(port_, {full.substr(0, head + 10), full.substr(head + 10, 10)}, 3000);
  EXPECT_TRUE(slow.status == 408 || slow.status == 0) << slow.response;
  // Slow but within the timeout: verified.
  auto patient = Send(port_, {full.substr(0, head), full.substr(head, 100), full.substr(head + 100)},
                      500);
  EXPECT_EQ(patient.status, 200) << patient.response;
  // Aborted (RST) mid-headers and mid-body, many times.
  for (int i = 0; i < 40; ++i) {
    size_t cut = i % 2 ? head / 2 : head + body.size() / 2;
    Send(port_, {full.substr(0, cut)}, 0, /*abort=*/true);
  }
  // Pipelined: valid, tampered, valid in one write; answered in order.
  std::string keep = Request(good, body);
  keep.replace(keep.find("Connection: close"), 17, "Connection: keep-alive");
  std::string tampered = keep;
  tampered[tampered.size() - 10] ^= 1;
  auto second = Signed(body);
  auto pipelined = Send(port_, {keep + tampered + Request(second, body)});
  size_t first = pipelined.response.find("HTTP/1.1 200");
  size_t middle = pipelined.response.find("HTTP/1.1 401", first);
  size_t last = pipelined.response.find("HTTP/1.1 200", middle);
  EXPECT_NE(first, std::string::npos) << pipelined.response;
  EXPECT_NE(middle, std::string::npos) << pipelined.response;
  EXPECT_NE(last, std::string::npos) << pipelined.response;
  EXPECT_NE(pipelined.response.find("content_hash_mismatch"), std::string::npos);
}

// A large random mix of all of the above, in parallel connections.
TEST_F(NginxHostileTest, RandomMixThenStillServing) {
  std::string body = Body();
  auto good = Signed(body);
  std::vector<std::string> mix = {
      Request(Without(good, "X-DIP-Signature"), body),
      Request(With(good, "X-DIP-Signature", "@@@"), body),
      Request(With(good, "X-DIP-Signature-Date", "\xff\xff"), body),
      Request(With(good, "X-DIP-Signature-Certificate", "TUlJQg=="), body),
      Request(good, body + "x"),
      Request(good, body).substr(0, 200),
      "GET / HTTP/1.1\r\n\r\n",
      "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  // a TLS ClientHello on plain HTTP
  };
  std::mt19937 rng(7);
  std::vector<std::thread> threads;
  std::atomic<int> answered{0}, closed{0}, bad{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, seed = rng()] {
      std::mt19937 local(seed);
      for (int i = 0; i < 150; ++i) {
        const std::string& req = mix[local() % mix.size()];
        bool abort = local() % 5 == 0;
        auto x = Send(port_, {req}, 0, abort, 3000);
        if (abort) continue;
        if (x.status >= 400 && x.status < 500) {
          ++answered;
        } else if (x.status == 0 && x.closed) {
          ++closed;
        } else {
          ++bad;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(answered.load(), 500);
  std::cout << "random mix: " << answered << " answered 4xx, " << closed
            << " closed by nginx, plus aborted connections\n";
  // Still serving, by the same worker (no crash, no respawn).
  EXPECT_EQ(Send(port_, {Request(Signed(body), body)}).status, 200);
  EXPECT_EQ(nginx_->WorkerPid(), worker_);
  std::string log = nginx_->ErrorLog();
  EXPECT_EQ(log.find("[alert]"), std::string::npos) << log.substr(0, 2000);
  EXPECT_EQ(log.find("exited on signal"), std::string::npos);
}

}  // namespace
}  // namespace dipgate
