// transport::HttpLoop (the bridge's HTTP client: libcurl's multi interface)
// against real nginx with mutual TLS: many requests in flight share a few
// connections, and connections stay open between bursts instead of being
// opened again (a TLS handshake with the client certificate's signature
// each).
#include "transport/http_loop.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <sstream>
#include <string>

#include "tests/fixtures.h"
#include "tests/nginx_fixture.h"

namespace dipgate {
namespace {

using testing::FreePort;
using testing::MutualTlsListen;
using testing::Nginx;
using testing::PkiFile;
using testing::ReadFile;

constexpr long kConnections = 16;

class HttpLoopTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    port_ = FreePort();
    nginx_ = std::make_unique<Nginx>(
        "  log_format conn '$connection $connection_requests $status';\n"
        "  server {\n" +
        MutualTlsListen(port_, "ssl http2") +
        "    keepalive_requests 100000;\n"
        "    access_log $PREFIX/logs/conn.log conn;\n"
        "    location /dip-channel/ { return 201 '{\"messageArray\":[]}'; }\n"
        "  }\n");
    ASSERT_TRUE(nginx_->started()) << nginx_->start_output();
    transport::LoopOptions options;
    options.tls.options.ca_file = PkiFile("ca-bundle.pem");
    options.tls.options.client_certificate = PkiFile("tls-client.pem");
    options.tls.options.client_key = PkiFile("tls-client.key");
    options.tls.options.http2 = GetParam();
    options.max_host_connections = kConnections;
    auto loop = transport::HttpLoop::Start(std::move(options));
    ASSERT_TRUE(loop) << loop.error().detail;
    loop_ = std::move(*loop);
  }

  // Posts `n` requests at once and waits for every answer.
  void Burst(int n) {
    std::mutex mu;
    std::condition_variable cv;
    int left = n;
    for (int i = 0; i < n; ++i) {
      transport::Request request{"https://localhost:" + std::to_string(port_) +
                                     "/dip-channel/IF-033",
                                 std::string(2000, 'x'), {{"Content-Type", "application/json"}}};
      loop_->Post(std::move(request), [&](transport::Reply reply) {
        std::lock_guard<std::mutex> lock(mu);
        if (reply.status == 201) ++answered_;
        else failures_ += reply.error + " (" + std::to_string(reply.status) + ") ";
        if (--left == 0) cv.notify_one();
      });
    }
    std::unique_lock<std::mutex> lock(mu);
    if (!cv.wait_for(lock, std::chrono::seconds(30), [&] { return left == 0; })) {
      lock.unlock();
      loop_.reset();  // its thread gone, no callback touches this frame any more
      FAIL() << left << " of " << n << " requests unanswered after 30 s";
    }
  }

  // The connections nginx saw, from its log ($connection of each request).
  std::set<std::string> Connections() const {
    std::set<std::string> out;
    std::istringstream log(ReadFile(nginx_->prefix() + "/logs/conn.log"));
    std::string connection, requests, status;
    while (log >> connection >> requests >> status) out.insert(connection);
    return out;
  }

  int port_ = 0;
  std::unique_ptr<Nginx> nginx_;
  std::unique_ptr<transport::HttpLoop> loop_;
  int answered_ = 0;
  std::string failures_;
};

// Bursts of as many requests as connections allowed, each followed by a
// single request: the pool does not shrink to one connection in between
// and grow again (libcurl's default cache size follows the transfers in
// the multi handle: without the fix, 30 connections for these 15 rounds).
TEST_P(HttpLoopTest, ConnectionsAreKeptBetweenBursts) {
  constexpr int kRounds = 15;
  for (int round = 0; round < kRounds; ++round) {
    ASSERT_NO_FATAL_FAILURE(Burst(kConnections));
    ASSERT_NO_FATAL_FAILURE(Burst(1));
  }
  loop_.reset();  // the loop is done with every connection
  EXPECT_EQ(answered_, kRounds * (kConnections + 1)) << failures_;
  std::set<std::string> connections = Connections();
  if (GetParam()) {
    // HTTP/2: every request a stream on one connection.
    EXPECT_EQ(connections.size(), 1u);
  } else {
    // HTTP/1.1: one request at a time on each of at most kConnections.
    EXPECT_LE(connections.size(), static_cast<size_t>(kConnections));
    EXPECT_GE(connections.size(), 2u);  // the bursts did run side by side
  }
}

INSTANTIATE_TEST_SUITE_P(Protocols, HttpLoopTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return std::string(info.param ? "Http2" : "Http11");
                         });

}  // namespace
}  // namespace dipgate
