// README's first command, deploy/demo.sh, runs the whole system end to end
// (test PKI, real Kafka, DIP stand-in, nginx with the module both ways, the
// bridge) with the binaries of this build, and stops everything afterwards.
#include <gtest/gtest.h>

#include "tests/nginx_fixture.h"

namespace dipgate {
namespace {

using testing::RunCommand;
using testing::Runfile;

TEST(Demo, EveryHopBehavesAsExpectedAndEverythingStops) {
  std::string env = "DIPGATE_DEMO_PREBUILT=1 DIPCTL=" + Runfile("cli/dipctl") +
                    " DIPGATE_BRIDGE=" + Runfile("kafka_bridge/dipgate-bridge") +
                    " DIPGATE_MODULE=" + Runfile("nginx_module/ngx_http_dip_module.so") +
                    " DIPGATE_PRODUCE=" + Runfile("bench/produce") +
                    " DIPGATE_NGINX=" + testing::ShellQuote(testing::NginxCommand());
  auto r = RunCommand(env + " bash " + Runfile("deploy/demo.sh"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const char* expected : {
           "ok: all 2 verified by the DIP stand-in",
           "ok: signed by nginx (P-256 identity mp-main) and verified by the DIP",
           "ok: refused: this receiver accepts energydip-nonprod signers only",
           "ok: verified by nginx and delivered",
           "ok: tampered refused (content_hash_mismatch)",
           "ok: revoked signer refused (certificate_revoked)",
           "ok: untrusted CA refused (certificate_untrusted)",
           "ok: the application received none of them",
           "every hop behaved as expected",
           "bridge stopped: \"event\":\"stopped\",\"delivered\":2",
           "Kafka stopped",
       }) {
    EXPECT_NE(r.output.find(expected), std::string::npos) << expected << "\n" << r.output;
  }
  EXPECT_EQ(r.output.find("UNEXPECTED"), std::string::npos) << r.output;
  // Nothing the demo started is left running (each has its work dir in argv).
  auto left = RunCommand("pgrep -af dipgate-demo | grep -v pgrep || true");
  EXPECT_EQ(left.output, "") << left.output;
}

}  // namespace
}  // namespace dipgate
