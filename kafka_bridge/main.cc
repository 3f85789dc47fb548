// dipgate-bridge: consumes internal Kafka topics, signs each message and
// delivers it to the DIP over mTLS; see docs/kafka-bridge.md.
//
//   dipgate-bridge --config /etc/dipgate/bridge.json [--check]
//
// SIGTERM/SIGINT: stop fetching, finish or abandon deliveries in progress
// within shutdown_timeout_ms, commit what was delivered, close.
// SIGHUP: reload signing identities and certificates.
#include <signal.h>

#include <cstring>
#include <iostream>

#include "common/json_text.h"
#include "kafka_bridge/bridge.h"
#include "kafka_bridge/config.h"

namespace {

dipgate::bridge::Bridge* g_bridge = nullptr;

void OnSignal(int sig) {
  if (g_bridge == nullptr) return;
  if (sig == SIGHUP) {
    g_bridge->RequestReload();
  } else {
    g_bridge->RequestStop();
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  bool check = false;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
      config_path = argv[++i];
    } else if (strcmp(argv[i], "--check") == 0) {
      check = true;
    } else {
      std::cerr << "usage: dipgate-bridge --config FILE [--check]\n";
      return 2;
    }
  }
  if (config_path.empty()) {
    std::cerr << "usage: dipgate-bridge --config FILE [--check]\n";
    return 2;
  }
  dipgate::bridge::Config config;
  std::string error;
  if (!dipgate::bridge::LoadConfig(config_path, &config, &error)) {
    dipgate::bridge::LogEvent("error", "config_invalid", "\"error\":" + dipgate::JsonQuote(error));
    return 2;
  }
  dipgate::bridge::Bridge bridge(std::move(config));
  if (check) {
    if (!bridge.CheckIdentities(&error)) {
      dipgate::bridge::LogEvent("error", "config_invalid", "\"error\":" + dipgate::JsonQuote(error));
      return 2;
    }
    std::cout << "configuration ok\n";
    return 0;
  }
  g_bridge = &bridge;
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaction(sig, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  if (!bridge.Start(&error)) {
    dipgate::bridge::LogEvent("error", "start_failed", "\"error\":" + dipgate::JsonQuote(error));
    return 1;
  }
  int rc = bridge.Run();
  g_bridge = nullptr;
  return rc;
}
