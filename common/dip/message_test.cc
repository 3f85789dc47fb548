#include "common/dip/message.h"

#include <gtest/gtest.h>

#include "tests/fixtures.h"

namespace dipgate::dip {
namespace {

std::string Payload(const std::string& interface_id = "IF-033") {
  return R"({"CommonBlock":{"S0":{"interfaceID":")" + interface_id +
         R"(","schemaVersion":"011","eventCode":"[MSAppSPRequest]"},)"
         R"("S1":{"environmentTag":"DEV","senderUniqueReference":"S-033-0123456789-SUP-20250101-1a",)"
         R"("senderTimestamp":"2022-12-31T06:05:45+00:00","senderDIPID":"8795183096",)"
         R"("senderRoleID":"REGS","senderCorrelationID":"c-1","DIPConnectionProviderID":null,"subText":null},)"
         R"("M0":{"MPANCore":"1234567890123","distributorDIPID":"1009012345","GSPGroupID":"_K"},)"
         R"("A0":{"primaryRecipients":["0140321855"],"secondaryRecipients":["1"],"always":[]},)"
         R"("D0":{"transactionID":"T-1","publicationID":"PUB-033","replayIndicator":true}},)"
         R"("CustomBlock":{}})";
}

TEST(MessageArray, ReadsEveryEnvelopeField) {
  auto a = MessageArray::Parse("[{\"payload\":" + Payload() + "}]");
  ASSERT_TRUE(a.ok()) << a.error().detail;
  ASSERT_EQ(a->messages().size(), 1u);
  EXPECT_EQ(a->form(), BodyForm::kArray);
  const Envelope& e = a->messages()[0].envelope;
  EXPECT_EQ(e.interface_id, "IF-033");
  EXPECT_EQ(e.event_code, "[MSAppSPRequest]");
  EXPECT_EQ(e.schema_version, "011");
  EXPECT_EQ(e.environment_tag, "DEV");
  EXPECT_EQ(e.sender_unique_reference, "S-033-0123456789-SUP-20250101-1a");
  EXPECT_EQ(e.sender_timestamp, "2022-12-31T06:05:45+00:00");
  EXPECT_EQ(e.sender_dip_id, "8795183096");
  EXPECT_EQ(e.sender_role_id, "REGS");
  EXPECT_EQ(e.sender_correlation_id, "c-1");
  EXPECT_EQ(e.connection_provider_id, "");  // null
  EXPECT_EQ(e.mpan_core, "1234567890123");
  EXPECT_EQ(e.primary_recipients, std::vector<std::string>{"0140321855"});
  EXPECT_EQ(e.secondary_recipients, std::vector<std::string>{"1"});
  EXPECT_TRUE(e.always_recipients.empty());
  EXPECT_TRUE(e.has_d0);
  EXPECT_EQ(e.transaction_id, "T-1");
  EXPECT_EQ(e.publication_id, "PUB-033");
  ASSERT_TRUE(e.replay_indicator.has_value());
  EXPECT_TRUE(*e.replay_indicator);
  EXPECT_EQ(a->messages()[0].pointer, "/0/payload");
}

TEST(MessageArray, SeveralMessagesKeepTheirOrderAndPointers) {
  auto a = MessageArray::Parse("[{\"payload\":" + Payload("IF-001") + "},{\"payload\":" +
                               Payload("IF-002") + "},{\"payload\":" + Payload("IF-003") + "}]");
  ASSERT_TRUE(a.ok()) << a.error().detail;
  ASSERT_EQ(a->messages().size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(a->messages()[i].index, i);
    EXPECT_EQ(a->messages()[i].envelope.interface_id, "IF-00" + std::to_string(i + 1));
    EXPECT_EQ(a->messages()[i].pointer, "/" + std::to_string(i) + "/payload");
  }
  // Moving the array keeps the payload pointers valid.
  MessageArray moved = std::move(*a);
  EXPECT_EQ(moved.PayloadText(2), Payload("IF-003"));
}

TEST(MessageArray, BarePayloadAndSingleMessageAreWrappedOnlyWhenAllowed) {
  auto strict = MessageArray::Parse(Payload());
  ASSERT_FALSE(strict.ok());
  EXPECT_EQ(strict.reason(), Reason::kNotMessageArray);

  ParseOptions lenient;
  lenient.allow_bare_payload = true;
  auto bare = MessageArray::Parse(Payload(), lenient);
  ASSERT_TRUE(bare.ok()) << bare.error().detail;
  EXPECT_EQ(bare->form(), BodyForm::kPayload);
  EXPECT_EQ(bare->messages()[0].pointer, "");
  auto wrapped = MessageArray::Parse(bare->ArrayJson());
  ASSERT_TRUE(wrapped.ok()) << wrapped.error().detail;
  EXPECT_EQ(wrapped->form(), BodyForm::kArray);
  EXPECT_EQ(wrapped->messages()[0].envelope.mpan_core, "1234567890123");

  auto single = MessageArray::Parse("{\"payload\":" + Payload() + "}", lenient);
  ASSERT_TRUE(single.ok()) << single.error().detail;
  EXPECT_EQ(single->form(), BodyForm::kMessage);
  EXPECT_EQ(single->messages()[0].pointer, "/payload");
  auto rewrapped = MessageArray::Parse(single->ArrayJson());
  ASSERT_TRUE(rewrapped.ok());
  EXPECT_EQ(rewrapped->messages()[0].envelope.interface_id, "IF-033");
}

TEST(MessageArray, FieldNamesInAnotherCaseAreRead) {
  // The DIP does not enforce field-name capitalisation on ingress; the
  // spec's own examples write InterfaceID and interfaceId.
  std::string p = Payload();
  p.replace(p.find("interfaceID"), 11, "InterfaceID");
  auto a = MessageArray::Parse("[{\"payload\":" + p + "}]");
  ASSERT_TRUE(a.ok()) << a.error().detail;
  EXPECT_EQ(a->messages()[0].envelope.interface_id, "IF-033");
}

struct Bad {
  const char* body;
  Reason reason;
  const char* words;  // part of the detail
};

TEST(MessageArray, RefusesWhatIsNotAMessageArrayWithTheReason) {
  std::string deep(100, '[');
  const Bad cases[] = {
      {"", Reason::kInvalidJson, "offset 0"},
      {"[{\"payload\":{}}", Reason::kInvalidJson, "offset"},
      {"[] []", Reason::kInvalidJson, "root"},
      {"[]", Reason::kNotMessageArray, "empty"},
      {"\"text\"", Reason::kNotMessageArray, "neither"},
      {"[1]", Reason::kNotMessageArray, "message 0"},
      {"[{\"pay\":{}}]", Reason::kNotMessageArray, "\"payload\""},
      {"[{\"payload\":[]}]", Reason::kNotMessageArray, "not an object"},
      {"[{\"payload\":{}}]", Reason::kMissingEnvelope, "CommonBlock"},
      {"[{\"payload\":{\"CommonBlock\":{}}}]", Reason::kMissingEnvelope, "S0"},
      {"[{\"payload\":{\"CommonBlock\":{\"S0\":{\"interfaceID\":7}}}}]", Reason::kMissingEnvelope,
       "interfaceID"},
      {deep.c_str(), Reason::kInvalidJson, "nests deeper"},
  };
  for (const Bad& c : cases) {
    auto a = MessageArray::Parse(c.body);
    ASSERT_FALSE(a.ok()) << c.body;
    EXPECT_EQ(a.reason(), c.reason) << c.body << ": " << a.error().detail;
    EXPECT_NE(a.error().detail.find(c.words), std::string::npos) << a.error().detail;
  }
  // The failing message is named.
  auto second = MessageArray::Parse("[{\"payload\":" + Payload() + "},{\"payload\":{}}]");
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().detail.find("message 1"), std::string::npos);
}

// The parse is done in place on a NUL-terminated copy: a NUL in the body,
// after the array or inside it, is refused rather than ending the text
// early, and the parsed strings outlive a move of the array.
TEST(MessageArray, ANulByteIsRefusedAndParsedTextMovesWithTheArray) {
  std::string good = "[{\"payload\":" + Payload() + "}]";
  for (const std::string& body : {good + std::string(1, '\0') + "[]",
                                  good.substr(0, 20) + std::string(1, '\0') + good.substr(20)}) {
    auto a = MessageArray::Parse(body);
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(a.reason(), Reason::kInvalidJson);
    EXPECT_NE(a.error().detail.find("NUL byte at offset"), std::string::npos) << a.error().detail;
  }
  // A Kafka tombstone: no data pointer at all.
  auto none = MessageArray::Parse(std::string_view(nullptr, 0));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.reason(), Reason::kInvalidJson);
  auto parsed = MessageArray::Parse(good);
  ASSERT_TRUE(parsed.ok());
  MessageArray moved = std::move(*parsed);
  EXPECT_EQ(moved.messages()[0].envelope.sender_unique_reference, "S-033-0123456789-SUP-20250101-1a");
  EXPECT_EQ(moved.ArrayJson(), good);
  EXPECT_EQ((*moved.messages()[0].payload)["CommonBlock"]["S0"]["interfaceID"].GetString(),
            std::string("IF-033"));
}

// What dipgate passes on is what it received: each payload is the exact
// slice of the body (numbers, escapes, spacing and non-ASCII text as sent),
// and the wrapped array is spliced from the text, never re-serialised.
TEST(MessageArray, PayloadsAreTheReceivedBytes) {
  std::string p = Payload();
  p.insert(p.size() - 1,
           ", \"big\": 123456789012345678901234567890, \"price\": 1.10, \"e\": 1e2,"
           " \"neg\": -0.000, \"text\": \"caf\u00e9 \\u00e9 \\\" \\/ \\ud83d\\ude00\","
           " \"nested\" : { \"a\" : [ 1 , {\"b\":{}} ] } ");
  std::string q = Payload("IF-034");
  std::string body = " [ {\"payload\" :\n" + p + " } ,\t{\"Payload\":" + q + ",\"x\":{}}]\n";
  auto a = MessageArray::Parse(body);
  ASSERT_TRUE(a.ok()) << a.error().detail;
  ASSERT_EQ(a->messages().size(), 2u);
  EXPECT_EQ(a->PayloadText(0), p);
  EXPECT_EQ(a->PayloadText(1), q);  // matched without case, "x" after it
  EXPECT_EQ(a->ArrayJson(), body);
  EXPECT_EQ(a->text(), body);

  ParseOptions lenient;
  lenient.allow_bare_payload = true;
  auto bare = MessageArray::Parse("\n  " + p + " \r\n", lenient);
  ASSERT_TRUE(bare.ok()) << bare.error().detail;
  EXPECT_EQ(bare->PayloadText(0), p);
  EXPECT_EQ(bare->ArrayJson(), "[{\"payload\":" + p + "}]");

  auto single = MessageArray::Parse("{\"first\":{}, \"payload\": " + p + " }", lenient);
  ASSERT_TRUE(single.ok()) << single.error().detail;
  EXPECT_EQ(single->form(), BodyForm::kMessage);
  EXPECT_EQ(single->PayloadText(0), p);
  EXPECT_EQ(single->ArrayJson(), "[{\"first\":{}, \"payload\": " + p + " }]");
}

// A number no double holds would be read as infinity and written half:
// refused at parse, naming where it is.
TEST(MessageArray, ANumberBeyondADoubleIsRefusedWithItsPointer) {
  ParseOptions lenient;
  lenient.allow_bare_payload = true;
  auto fuzzed = MessageArray::Parse(R"({"CommonBlock":{"S0":{"interfaceID":"a","":7600002E302}}})",
                                    lenient);
  ASSERT_FALSE(fuzzed.ok());
  EXPECT_EQ(fuzzed.reason(), Reason::kInvalidJson);
  EXPECT_NE(fuzzed.error().detail.find("beyond the range of a double at /CommonBlock/S0/"),
            std::string::npos)
      << fuzzed.error().detail;
  std::string p = Payload();
  p.insert(p.size() - 1, R"(,"r/e~x":[0,{"reading":-1e400}])");
  auto a = MessageArray::Parse("[{\"payload\":" + Payload() + "},{\"payload\":" + p + "}]");
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.reason(), Reason::kInvalidJson);
  EXPECT_NE(a.error().detail.find("at /1/payload/r~1e~0x/1/reading"), std::string::npos)
      << a.error().detail;
  // The largest doubles still parse.
  std::string edge = Payload();
  edge.insert(edge.size() - 1, R"(,"max":1.7976931348623157e308,"min":-4.9e-324,"under":1e-400)");
  auto ok = MessageArray::Parse("[{\"payload\":" + edge + "}]");
  ASSERT_TRUE(ok.ok()) << ok.error().detail;
  EXPECT_EQ(ok->PayloadText(0), edge);
}

TEST(MessageArray, MessageCountIsBounded) {
  std::string body = "[";
  for (int i = 0; i < 5; ++i) body += (i ? ",{\"payload\":" : "{\"payload\":") + Payload() + "}";
  body += "]";
  ParseOptions o;
  o.max_messages = 4;
  auto a = MessageArray::Parse(body, o);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.reason(), Reason::kNotMessageArray);
  o.max_messages = 5;
  EXPECT_TRUE(MessageArray::Parse(body, o).ok());
}

}  // namespace
}  // namespace dipgate::dip
