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

#include "kafka_bridge/bridge.h"
#include "kafka_bridge/config.h"
#include "kafka_bridge/identities.h"
#include "kafka_bridge/log.h"

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
  auto refuse = [](const dipgate::Error& e) {
    dipgate::bridge::LogEvent("error", "config_invalid", dipgate::bridge::Field("error", e.detail));
    return 2;
  };
  auto config = dipgate::bridge::LoadConfig(config_path);
  if (!config) return refuse(config.error());
  if (check) {
    // What --check adds to the configuration checks: every identity (key,
    // passphrase, certificate), the TLS files and the schema directories
    // load, as at start, without connecting to anything.
    auto loaded = dipgate::bridge::LoadIdentities(*config);
    if (!loaded) return refuse(loaded.error());
    for (auto [key, dir] : {std::pair<const char*, const std::string&>{"schemas", config->schemas},
                            {"inbound.schemas", config->inbound.schemas}}) {
      if (dir.empty()) continue;
      auto schemas = dipgate::bridge::LoadSchemas(key, dir);
      if (!schemas) return refuse(schemas.error());
    }
    for (const auto& w : (*loaded)->warnings) {
      dipgate::bridge::LogEvent("warn", "key_file", dipgate::bridge::Field("warning", w));
    }
    std::cout << "configuration ok\n";
    return 0;
  }
  auto started = dipgate::bridge::Bridge::Start(std::move(*config));
  if (!started) {
    dipgate::bridge::LogEvent("error", "start_failed",
                              dipgate::bridge::Field("error", started.error().detail));
    return 1;
  }
  dipgate::bridge::Bridge& bridge = **started;
  g_bridge = &bridge;
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaction(sig, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  int rc = bridge.Run();
  g_bridge = nullptr;
  return rc;
}
