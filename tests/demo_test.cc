// README's first command, deploy/demo.sh, runs the whole system end to end
// (test PKI, real Kafka, the DIP sandbox on the DIP's API paths, nginx with
// the module both ways, the bridge both ways) with the binaries and schemas
// of this build, and stops everything afterwards.
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
                    " DIPGATE_SCHEMAS=" + Runfile("third_party/dip_api/schemas") +
                    " DIPGATE_NGINX=" + testing::ShellQuote(testing::NginxCommand());
  auto r = RunCommand(env + " bash " + Runfile("deploy/demo.sh"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const char* expected : {
           // hop 1: Kafka -> bridge -> the DIP's /dip-channel/{interfaceID}
           "S-IF-033-8795183096-REGS-",
           ": MSG0000, transactionID T-IF-033-8795183096-REGS-",
           "receipts read back from dip.outbound.receipts:",
           "ok: 3 accepted by the DIP (MSG0000, a transactionID each), 3 receipts in Kafka",
           // the batch: the bridge's schema check, the DIP's refusal and the split
           "dip.errors.reason: schema_invalid",
           "dip.errors.json.pointer: /0/payload/CommonBlock/M0/MPANCore",
           "dip.errors.reason: rejected_by_dip",
           "dip.errors.dip.code: MSG1001",
           "schema_invalid at /0/payload/CommonBlock/M0/MPANCore, never sent to the DIP",
           "the DIP refused its array (400, MSG1001); split until alone, then dead-lettered",
           "ok: the 4 valid messages of the batch delivered, with receipts (7 in all)",
           // hop 2: nginx's signing gateway
           "ok: signed by nginx (P-256 identity mp-main) and accepted by the DIP",
           // hop 3: the DIP's webhook -> nginx -> the bridge's inbound listener -> Kafka
           "HTTP 201: webhook registered",
           "/dip/webhook/if-033 attempt 1: HTTP 503",
           "dip.transactionID: T-IF-033-8795183096-REGS-",
           "dip.signer: CN=energydip-nonprod.example.co.uk",
           "dip.mpo: 0140321855",
           "ok: the webhook landed in Kafka once, after a 503 and the DIP's retry",
           "ok: the DIP's first attempt was answered 503 (Retry-After), and retried",
           // hop 4: refusals
           "ok: tampered refused (content_hash_mismatch)",
           "ok: revoked signer refused (certificate_revoked)",
           "ok: untrusted CA refused (certificate_untrusted)",
           "ok: production signer refused (wrong_environment)",
           "ok: the bridge received none of them",
           "every hop behaved as expected",
           "bridge stopped: \"event\":\"stopped\",\"delivered\":7,\"dead_lettered\":2",
           "inbound bridge stopped: \"event\":\"inbound_stopped\",\"webhooks_accepted\":1",
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
