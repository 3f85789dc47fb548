// dipctl as a DIP client against the DIP sandbox (tools/dip_standin, Python,
// no dipgate code): validate offline; send over mTLS with the API key and
// read the StandardResponse; register a webhook and see the sandbox deliver
// signed egress arrays to it; replay, requeue, statusmessage.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/pointer.h>

#include <sstream>

#include "common/dip/message.h"
#include "tests/fixtures.h"
#include "tests/nginx_fixture.h"

namespace dipgate {
namespace {

using testing::Ingress;
using testing::PkiFile;
using testing::ReadFile;
using testing::RunCommand;
using testing::Runfile;
using testing::WaitFor;
using testing::WriteFile;

const char kRecipient[] = "0140321855";  // the sample's primary recipient

std::string Dipctl() { return Runfile("cli/dipctl"); }
std::string Schemas() { return " --schemas " + Runfile("third_party/dip_api/schemas"); }


// The public IF-033 sample with its senderUniqueReference ending in `suffix`
// and `pointer` set to `value` (JSON) when given.
std::string Sample(const std::string& suffix, const char* pointer = nullptr,
                   const char* value = nullptr) {
  rapidjson::Document d;
  d.Parse(ReadFile(Runfile("tests/data/if-033-appointment-request.json")).c_str());
  std::string sur = "S-033-0123456789-SUP-20261201-" + suffix;
  rapidjson::Pointer("/0/payload/CommonBlock/S1/senderUniqueReference")
      .Set(d, rapidjson::Value(sur.c_str(), d.GetAllocator()).Move(), d.GetAllocator());
  if (pointer != nullptr) {
    rapidjson::Document v(&d.GetAllocator());
    v.Parse(value);
    rapidjson::Pointer(pointer).Set(d, v);
  }
  return dip::ToJson(d);
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

class DipApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::NewTempDir("dip-api");
    outcomes_ = dir_ + "/outcomes.jsonl";
    received_ = dir_ + "/received.jsonl";
    // The participant's webhook receiver: the stand-in in its plain mode,
    // verifying the DIP's signatures independently and recording each
    // delivery (mTLS: the sandbox presents the PKI's TLS client certificate).
    receiver_ = std::make_unique<Ingress>(
        true, true, false,
        std::vector<std::string>{"--ca", PkiFile("ca-bundle.pem"), "--crl", PkiFile("crls.pem"),
                                 "--record", received_});
    // The DIP sandbox.
    sandbox_ = std::make_unique<Ingress>(
        true, true, false,
        std::vector<std::string>{
            "--ca", PkiFile("ca-bundle.pem"), "--crl", PkiFile("crls.pem"),
            "--api-key", "primary-key", "--api-key", "secondary-key", "--environment", "DEV",
            "--outcomes", outcomes_, "--dip-cert", PkiFile("signer-ec.pem"), "--dip-key",
            PkiFile("signer-ec.key"), "--callback-ca", PkiFile("ca-bundle.pem"),
            "--callback-client-cert", PkiFile("tls-client.pem"), "--callback-client-key",
            PkiFile("tls-client.key"), "--batch-linger", "50", "--retry-schedule", "0.1,0.2"});
  }

  std::string Call(const std::string& api_key = "primary-key") const {
    return " --url https://127.0.0.1:" + std::to_string(sandbox_->port()) + " --cert " +
           PkiFile("signer-rsa.pem") + " --key " + PkiFile("signer-rsa.key") + " --api-key " +
           api_key + " --server-ca " + PkiFile("ca-bundle.pem") + " --client-cert " +
           PkiFile("tls-client.pem") + " --client-key " + PkiFile("tls-client.key") + Schemas();
  }

  testing::CommandResult Send(const std::string& body, const std::string& extra = "",
                              const std::string& api_key = "primary-key") {
    WriteFile(dir_ + "/body.json", body);
    return RunCommand(Dipctl() + " send --body " + dir_ + "/body.json" + Call(api_key) + extra);
  }

  std::string CallbackUrl() const {
    return "https://127.0.0.1:" + std::to_string(receiver_->port()) + "/hooks/if-033";
  }

  // The deliveries the receiver recorded (verified or not).
  std::vector<rapidjson::Document> Received() const {
    std::vector<rapidjson::Document> out;
    for (const std::string& line : Lines(ReadFile(received_))) {
      out.emplace_back();
      out.back().Parse(line.c_str());
    }
    return out;
  }

  std::string dir_, outcomes_, received_;
  std::unique_ptr<Ingress> receiver_, sandbox_;
};

TEST_F(DipApiTest, ValidateOfflineNamesPointerKeywordAndTheDipsAnswer) {
  WriteFile(dir_ + "/ok.json", Sample("1a"));
  auto ok = RunCommand(Dipctl() + " validate --body " + dir_ + "/ok.json --channel IF-033" + Schemas());
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ok.output.find("ok: 1 message valid against DIP spec 2.1.0"), std::string::npos);
  EXPECT_NE(ok.output.find("IF-033 [MSAppSPRequest] (IF-033-MSAppSPRequest)"), std::string::npos);

  WriteFile(dir_ + "/bad.json",
            Sample("1a", "/0/payload/CustomBlock/B023/energyDirection", "\"Q\""));
  auto bad = RunCommand(Dipctl() + " validate --format json --body " + dir_ + "/bad.json" + Schemas());
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  rapidjson::Document v;
  v.Parse(bad.output.c_str());
  ASSERT_TRUE(v.IsObject()) << bad.output;
  EXPECT_STREQ(v["reason"].GetString(), "schema_invalid");
  EXPECT_STREQ(v["pointer"].GetString(), "/0/payload/CustomBlock/B023/energyDirection");
  EXPECT_STREQ(v["keyword"].GetString(), "enum");
  EXPECT_STREQ(v["dip_answer"].GetString(), "MSG1001 - Schema Failure");

  auto wrong_channel = RunCommand(Dipctl() + " validate --body " + dir_ +
                                  "/ok.json --channel IF-041" + Schemas());
  EXPECT_EQ(wrong_channel.exit_code, 1);
  EXPECT_NE(wrong_channel.output.find("rejected: channel_mismatch"), std::string::npos);
  EXPECT_NE(wrong_channel.output.find("MSG1002 - Interface ID Invalid"), std::string::npos);

  auto no_schemas = RunCommand(Dipctl() + " validate --body " + dir_ +
                               "/ok.json --schemas /nonexistent");
  EXPECT_EQ(no_schemas.exit_code, 3);
  EXPECT_NE(no_schemas.output.find("/nonexistent/index.json"), std::string::npos);
}

TEST_F(DipApiTest, SendGetsMsg0000WithATransactionIdWithEitherApiKey) {
  auto r = Send(Sample("2a"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("HTTP 201"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("MSG0000 - Success"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("senderUniqueReference S-033-0123456789-SUP-20261201-2a"),
            std::string::npos);
  EXPECT_EQ(r.output.find("transactionID null"), std::string::npos) << r.output;

  auto secondary = Send(Sample("2b"), "", "secondary-key");
  EXPECT_EQ(secondary.exit_code, 0) << secondary.output;

  auto wrong = Send(Sample("2c"), "", "not-a-key");
  EXPECT_EQ(wrong.exit_code, 1) << wrong.output;
  EXPECT_NE(wrong.output.find("HTTP 401"), std::string::npos) << wrong.output;
}

TEST_F(DipApiTest, SendRefusesAnInvalidMessageBeforeTheDipDoes) {
  std::string bad = Sample("3a", "/0/payload/CommonBlock/M0/MPANCore", "\"12345678901x3\"");
  auto local = Send(bad);
  EXPECT_EQ(local.exit_code, 1) << local.output;
  EXPECT_NE(local.output.find("rejected: schema_invalid"), std::string::npos);
  EXPECT_NE(local.output.find("not sent"), std::string::npos);
  EXPECT_EQ(ReadFile(outcomes_).find("3a"), std::string::npos) << "it reached the sandbox";

  // Sent anyway, the DIP refuses the whole array with MSG1001 and 400.
  auto remote = Send(bad, " --no-validate");
  EXPECT_EQ(remote.exit_code, 1) << remote.output;
  EXPECT_NE(remote.output.find("HTTP 400"), std::string::npos) << remote.output;
  EXPECT_NE(remote.output.find("MSG1001"), std::string::npos) << remote.output;
  EXPECT_NE(remote.output.find("the message is wrong"), std::string::npos) << remote.output;
}

// MSG1006 means already received, whatever the HTTP status: a resend is
// not a failure, from a DIP that answers it 201 or one that answers 400.
TEST_F(DipApiTest, ADuplicateSenderUniqueReferenceIsMsg1006AndNotAFailure) {
  ASSERT_EQ(Send(Sample("4a")).exit_code, 0);
  auto again = Send(Sample("4a"));
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("HTTP 201"), std::string::npos) << again.output;
  EXPECT_NE(again.output.find("MSG1006 - Sender Unique Reference Duplicated"), std::string::npos)
      << again.output;
  EXPECT_NE(again.output.find("do not resend"), std::string::npos);
  EXPECT_NE(again.output.find("already received: 1 of 1 messages already received"),
            std::string::npos) << again.output;

  Ingress strict(true, true, false,
                 std::vector<std::string>{"--ca", PkiFile("ca-bundle.pem"), "--crl",
                                          PkiFile("crls.pem"), "--api-key", "primary-key",
                                          "--duplicates", "strict"});
  std::string url = "https://127.0.0.1:" + std::to_string(sandbox_->port());
  std::string strict_url = "https://127.0.0.1:" + std::to_string(strict.port());
  auto to_strict = [&](const std::string& body) {
    WriteFile(dir_ + "/body.json", body);
    std::string call = Call();
    call.replace(call.find(url), url.size(), strict_url);
    return RunCommand(Dipctl() + " send --body " + dir_ + "/body.json" + call);
  };
  ASSERT_EQ(to_strict(Sample("4b")).exit_code, 0);
  auto strict_again = to_strict(Sample("4b"));
  EXPECT_EQ(strict_again.exit_code, 0) << strict_again.output;
  EXPECT_NE(strict_again.output.find("HTTP 400"), std::string::npos) << strict_again.output;
  EXPECT_NE(strict_again.output.find("already received: 1 of 1"), std::string::npos)
      << strict_again.output;
  // An array with a new message beside the resend is refused as a whole:
  // not delivered, and the new one must go again without the resend.
  std::string pair = Sample("4b");
  std::string fresh = Sample("4c");
  pair = pair.substr(0, pair.size() - 1) + "," + fresh.substr(1);
  auto mixed = to_strict(pair);
  EXPECT_EQ(mixed.exit_code, 1) << mixed.output;
  EXPECT_NE(mixed.output.find("without the messages already received"), std::string::npos)
      << mixed.output;
  EXPECT_NE(mixed.output.find("1 of 2 messages already received"), std::string::npos)
      << mixed.output;
}

TEST_F(DipApiTest, ABarePayloadIsWrappedAsTheDipRequires) {
  rapidjson::Document d;
  d.Parse(Sample("5a").c_str());
  auto r = Send(dip::ToJson(d[0]["payload"]));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("MSG0000"), std::string::npos);
}

TEST_F(DipApiTest, WebhookRegisteredDeliveredReplayedRequeuedAndRemoved) {
  auto reg = RunCommand(Dipctl() + " pubconfig --channel IF-033 --recipient " + kRecipient +
                        " --callback-url " + CallbackUrl() + " --max-message-count 5" + Call());
  ASSERT_EQ(reg.exit_code, 0) << reg.output;
  EXPECT_NE(reg.output.find("webhook registered"), std::string::npos) << reg.output;

  auto sent = Send(Sample("6a"));
  ASSERT_EQ(sent.exit_code, 0) << sent.output;
  ASSERT_TRUE(WaitFor([&] { return !Received().empty(); }, 15000)) << ReadFile(outcomes_);
  {
    auto got = Received();
    const rapidjson::Document& first = got.front();
    EXPECT_TRUE(first["verified"].GetBool()) << first["why"].GetString();
    EXPECT_STREQ(first["path"].GetString(), "/hooks/if-033");
    rapidjson::Document body;
    body.Parse(first["body"].GetString());
    ASSERT_TRUE(body.IsArray()) << first["body"].GetString();
    const rapidjson::Value* d0 = rapidjson::Pointer("/0/payload/CommonBlock/D0").Get(body);
    ASSERT_NE(d0, nullptr) << first["body"].GetString();
    EXPECT_TRUE((*d0)["transactionID"].IsString());
    EXPECT_FALSE((*d0)["replayIndicator"].GetBool());
    EXPECT_STREQ(
        rapidjson::Pointer("/0/payload/CommonBlock/S1/senderUniqueReference").Get(body)->GetString(),
        "S-033-0123456789-SUP-20261201-6a");
  }

  std::string window = " --from 2000-01-01T00:00:00+00:00 --to 2100-01-01T00:00:00+00:00";
  auto replay = RunCommand(Dipctl() + " replay --channel IF-033 --recipient " + kRecipient +
                           window + " --event-code [MSAppSPRequest] --mpan 1234567890123" +
                           " --version 011 --out " + dir_ + "/replayed.json" + Call());
  ASSERT_EQ(replay.exit_code, 0) << replay.output;
  EXPECT_NE(replay.output.find("replayIndicator true"), std::string::npos) << replay.output;
  rapidjson::Document replayed;
  replayed.Parse(ReadFile(dir_ + "/replayed.json").c_str());
  ASSERT_TRUE(replayed.IsArray() && replayed.Size() >= 1);
  EXPECT_TRUE(rapidjson::Pointer("/0/payload/CommonBlock/D0/replayIndicator").Get(replayed)->GetBool());

  size_t before = Received().size();
  auto requeue = RunCommand(Dipctl() + " requeue --channel IF-033 --recipient " + kRecipient +
                            window + " --event-code [MSAppSPRequest] --mpan 1234567890123" +
                            " --version 011" + Call());
  ASSERT_EQ(requeue.exit_code, 0) << requeue.output;
  ASSERT_TRUE(WaitFor([&] { return Received().size() > before; }, 15000)) << ReadFile(outcomes_);
  {
    auto got = Received();
    rapidjson::Document body;
    body.Parse(got.back()["body"].GetString());
    EXPECT_TRUE(got.back()["verified"].GetBool());
    EXPECT_TRUE(rapidjson::Pointer("/0/payload/CommonBlock/D0/replayIndicator").Get(body)->GetBool());
  }

  auto del = RunCommand(Dipctl() + " pubconfig --channel IF-033 --recipient " + kRecipient +
                        " --delete" + Call());
  EXPECT_EQ(del.exit_code, 0) << del.output;
  EXPECT_NE(del.output.find("HTTP 204: webhook removed"), std::string::npos) << del.output;
  auto again = RunCommand(Dipctl() + " pubconfig --channel IF-033 --recipient " + kRecipient +
                          " --delete" + Call());
  EXPECT_EQ(again.exit_code, 1) << again.output;
}

TEST_F(DipApiTest, ManagementBodiesAreCheckedBeforeTheyAreSent) {
  auto bad_date = RunCommand(Dipctl() + " replay --channel IF-033 --recipient " + kRecipient +
                             " --from 2026-11-30 --to 2026-12-01T00:00:00+00:00" + Call());
  EXPECT_EQ(bad_date.exit_code, 2) << bad_date.output;
  EXPECT_NE(bad_date.output.find("/datetimeFrom"), std::string::npos) << bad_date.output;
  auto bad_recipient = RunCommand(Dipctl() + " pubconfig --channel IF-033 --recipient ../x"
                                  " --callback-url " + CallbackUrl() + Call());
  EXPECT_EQ(bad_recipient.exit_code, 2) << bad_recipient.output;
}

TEST_F(DipApiTest, StatusMessagesAndTheirWebhook) {
  auto reg = RunCommand(Dipctl() + " pubconfig --status-messages --recipient " +
                        std::string(kRecipient) + " --callback-url " + CallbackUrl() + Call());
  ASSERT_EQ(reg.exit_code, 0) << reg.output;
  std::string status = R"([{"transactionID":"T-IF-033-0140321855-SDS-20261201-1234CC0123456789",)"
                       R"("senderUniqueReference":null,"correlationID":null,)"
                       R"("sentTimestamp":"2026-12-01T10:00:00+00:00","senderID":"8795183096",)"
                       R"("recipientID":"0140321855","DIPConnectionProviderID":null,)"
                       R"("message":"RCP0000 - Message Success","help":null,"serviceTicketURL":null}])";
  WriteFile(dir_ + "/status.json", status);
  auto r = RunCommand(Dipctl() + " statusmessage --body " + dir_ + "/status.json" + Call());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("HTTP 201"), std::string::npos) << r.output;
  auto del = RunCommand(Dipctl() + " pubconfig --status-messages --recipient " +
                        std::string(kRecipient) + " --delete" + Call());
  EXPECT_EQ(del.exit_code, 0) << del.output;
}

}  // namespace
}  // namespace dipgate
