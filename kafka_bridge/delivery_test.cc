#include "kafka_bridge/delivery.h"

#include <gtest/gtest.h>

#include "common/dip/message.h"
#include "tests/fixtures.h"

namespace dipgate::bridge {
namespace {

using testing::ReadFile;
using testing::Runfile;

std::string Payload(const std::string& channel, const std::string& reference,
                    const std::string& mpan = "1234567890123") {
  return R"({"CommonBlock":{"S0":{"interfaceID":")" + channel +
         R"("},"S1":{"senderDIPID":"8795183096","senderUniqueReference":")" + reference +
         R"("},"M0":{"MPANCore":")" + mpan + R"("}},"CustomBlock":{}})";
}

PreparedRecord Ready(std::string_view value, const PrepareOptions& options = {}) {
  Prepared p = PrepareRecord(value, options);
  if (auto* refusal = std::get_if<Refusal>(&p)) {
    ADD_FAILURE() << refusal->detail;
    return {};
  }
  return std::get<PreparedRecord>(p);
}

Refusal Refused(std::string_view value, const PrepareOptions& options = {}) {
  Prepared p = PrepareRecord(value, options);
  if (!std::holds_alternative<Refusal>(p)) {
    ADD_FAILURE() << "accepted: " << value;
    return {DeadLetterReason::kInvalidJson, "", ""};
  }
  return std::get<Refusal>(p);
}

TEST(PrepareRecord, EveryShapeBecomesArrayElementsWithoutReserialising) {
  std::string bare = Payload("IF-033", "r1");
  PreparedRecord a = Ready("  " + bare + "\n");
  EXPECT_EQ(a.elements, "{\"payload\":" + bare + "}");
  EXPECT_EQ(a.channel, "IF-033");
  EXPECT_EQ(a.sender_dip_id, "8795183096");
  EXPECT_EQ(a.mpan_core, "1234567890123");
  EXPECT_EQ(a.references, std::vector<std::string>{"r1"});
  // One {"payload"} object, as it is; an array's elements as they are
  // (spacing kept: the bytes the sender wrote are the bytes signed).
  PreparedRecord b = Ready("{\"payload\": " + bare + "}");
  EXPECT_EQ(b.elements, "{\"payload\": " + bare + "}");
  std::string two = "[ {\"payload\":" + Payload("IF-033", "r2") + "} ,{\"payload\":" +
                    Payload("if-033", "r3") + "} ]";
  PreparedRecord c = Ready(two);
  EXPECT_EQ(c.elements, two.substr(2, two.size() - 4));
  EXPECT_EQ(c.references, (std::vector<std::string>{"r2", "r3"}));
  // A batch of all three is one DIPMessageArray of four messages, in order.
  std::string body = BatchBody({&a, &b, &c});
  auto array = dip::MessageArray::Parse(body);
  ASSERT_TRUE(array.ok()) << array.error().detail;
  ASSERT_EQ(array->messages().size(), 4u);
  EXPECT_EQ(array->form(), dip::BodyForm::kArray);
  EXPECT_EQ(array->messages()[3].envelope.sender_unique_reference, "r3");
}

TEST(PrepareRecord, RefusalsSayWhy) {
  EXPECT_EQ(Refused("{not json").reason, DeadLetterReason::kInvalidJson);
  EXPECT_EQ(Refused("42").reason, DeadLetterReason::kNotMessageArray);
  EXPECT_EQ(Refused("[]").reason, DeadLetterReason::kNotMessageArray);
  EXPECT_EQ(Refused("{\"CommonBlock\":{}}").reason, DeadLetterReason::kMissingEnvelope);
  Refusal slash = Refused(Payload("IF-033/../x", "r"));
  EXPECT_EQ(slash.reason, DeadLetterReason::kMissingEnvelope);
  EXPECT_NE(slash.detail.find("not a channel name"), std::string::npos) << slash.detail;
  Refusal mixed = Refused("[{\"payload\":" + Payload("IF-033", "a") + "},{\"payload\":" +
                          Payload("IF-041", "b") + "}]");
  EXPECT_EQ(mixed.reason, DeadLetterReason::kChannelMismatch);
  EXPECT_EQ(mixed.pointer, "/1/payload/CommonBlock/S0/interfaceID");
  EXPECT_EQ(ReasonWord(mixed.reason), "channel_mismatch");
}

TEST(PrepareRecord, SchemaCheckBeforeSendingNamesThePointer) {
  auto schemas = dip::SchemaSet::Load(Runfile("third_party/dip_api/schemas"));
  ASSERT_TRUE(schemas.ok()) << schemas.error().detail;
  PrepareOptions options;
  options.schemas = *schemas;
  std::string sample = ReadFile(Runfile("tests/data/if-033-appointment-request.json"));
  PreparedRecord good = Ready(sample, options);
  EXPECT_EQ(good.channel, "IF-033");
  std::string broken = sample;
  std::string from = "\"MPANCore\":\"1234567890123\"";
  ASSERT_NE(broken.find(from), std::string::npos);
  broken.replace(broken.find(from), from.size(), "\"MPANCore\":\"12\"");
  Refusal r = Refused(broken, options);
  EXPECT_EQ(r.reason, DeadLetterReason::kSchemaInvalid);
  EXPECT_EQ(r.pointer, "/0/payload/CommonBlock/M0/MPANCore");
  EXPECT_EQ(ReasonWord(r.reason), "schema_invalid");
}

transport::Reply Answer(long status, std::string body, int64_t retry_after_ms = -1) {
  transport::Reply r;
  r.status = status;
  r.body = std::move(body);
  r.retry_after_ms = retry_after_ms;
  return r;
}

std::string Entry(const std::string& reference, const std::string& message,
                  const std::string& transaction = "T1") {
  return R"({"transactionID":")" + transaction + R"(","senderUniqueReference":")" + reference +
         R"(","message":")" + message + R"(","help":"see the guide"})";
}

std::string Response(const std::vector<std::string>& entries) {
  std::string out = "{\"messageArray\":[";
  for (size_t i = 0; i < entries.size(); ++i) out += (i ? "," : "") + entries[i];
  return out + "],\"timestamp\":\"2026-12-02T10:00:00+00:00\"}";
}

TEST(ReadAnswer, EachMsgCodeDecidesItsRecord) {
  PreparedRecord a = Ready(Payload("IF-033", "a"));
  PreparedRecord b = Ready(Payload("IF-033", "b"));
  PreparedRecord c = Ready(Payload("IF-033", "c"));
  PreparedRecord d = Ready(Payload("IF-033", "d"));
  // Entries out of order: matched by senderUniqueReference.
  auto reading = ReadAnswer(
      Answer(201, Response({Entry("b", "MSG1006 - Sender Unique Reference Duplicated", "T2"),
                            Entry("a", "MSG0000 - Success", "T1"),
                            Entry("c", "MSG1000 - Internal Processing Error", "T3"),
                            Entry("d", "MSG1002 - Interface ID Invalid", "T4")})),
      {&a, &b, &c, &d}, false);
  ASSERT_EQ(reading.fate, PostFate::kSettled);
  ASSERT_EQ(reading.records.size(), 4u);
  EXPECT_EQ(reading.records[0].fate, RecordFate::kDelivered);
  EXPECT_EQ(reading.records[0].messages[0].transaction_id, "T1");
  EXPECT_EQ(reading.records[0].messages[0].code, "MSG0000");
  EXPECT_EQ(reading.records[1].fate, RecordFate::kDuplicate);
  EXPECT_EQ(reading.records[2].fate, RecordFate::kRetry);
  EXPECT_EQ(reading.records[3].fate, RecordFate::kDeadLetter);
  EXPECT_EQ(reading.records[3].code, "MSG1002");
  EXPECT_EQ(reading.records[3].message, "MSG1002 - Interface ID Invalid");
  EXPECT_EQ(reading.records[3].help, "see the guide");
}

TEST(ReadAnswer, WholePostOutcomes) {
  PreparedRecord a = Ready(Payload("IF-033", "a"));
  PreparedRecord b = Ready(Payload("IF-033", "b"));
  transport::Reply reset;
  reset.transport_error = true;
  reset.error = "Connection reset by peer";
  EXPECT_EQ(ReadAnswer(reset, {&a}, false).fate, PostFate::kRetry);
  for (long status : {408L, 429L, 500L, 502L, 503L, 504L}) {
    EXPECT_EQ(ReadAnswer(Answer(status, ""), {&a}, false).fate, PostFate::kRetry) << status;
  }
  EXPECT_EQ(ReadAnswer(Answer(401, ""), {&a}, true).fate, PostFate::kTrySecondaryKey);
  EXPECT_EQ(ReadAnswer(Answer(403, ""), {&a}, true).fate, PostFate::kTrySecondaryKey);
  auto no_secondary = ReadAnswer(Answer(401, "{}"), {&a}, false);
  ASSERT_EQ(no_secondary.fate, PostFate::kSettled);
  EXPECT_EQ(no_secondary.records[0].fate, RecordFate::kDeadLetter);
  // A batch refused as a whole is split; one record alone is dead-lettered
  // with the DIP's code.
  EXPECT_EQ(ReadAnswer(Answer(400, ""), {&a, &b}, false).fate, PostFate::kSplit);
  EXPECT_EQ(ReadAnswer(Answer(413, ""), {&a, &b}, false).fate, PostFate::kSplit);
  auto alone = ReadAnswer(
      Answer(400, Response({Entry("a", "MSG1001 - Schema Failure")})), {&a}, false);
  ASSERT_EQ(alone.fate, PostFate::kSettled);
  EXPECT_EQ(alone.records[0].fate, RecordFate::kDeadLetter);
  EXPECT_EQ(alone.records[0].code, "MSG1001");
  // 2xx without a StandardResponse (a proxy): delivered, no code.
  auto bare = ReadAnswer(Answer(200, "ok\n"), {&a, &b}, false);
  ASSERT_EQ(bare.fate, PostFate::kSettled);
  EXPECT_EQ(bare.records[1].fate, RecordFate::kDelivered);
  EXPECT_EQ(bare.records[1].messages[0].code, "");
  EXPECT_NE(bare.why.find("without a StandardResponse"), std::string::npos);
}

// MSG1006 means already received whatever the HTTP status: a DIP may
// answer a resend with 400 and MSG1006 on its entry.
TEST(ReadAnswer, Msg1006IsDeliveredWhateverTheStatus) {
  const std::string dup = "MSG1006 - Sender Unique Reference Duplicated";
  PreparedRecord a = Ready(Payload("IF-033", "a"));
  PreparedRecord b = Ready(Payload("IF-033", "b"));
  PreparedRecord c = Ready(Payload("IF-033", "c"));
  // A resend alone: 400 with MSG1006 is delivered, not dead-lettered.
  auto alone = ReadAnswer(Answer(400, Response({Entry("a", dup, "T1")})), {&a}, false);
  ASSERT_EQ(alone.fate, PostFate::kSettled);
  EXPECT_EQ(alone.records[0].fate, RecordFate::kDuplicate);
  EXPECT_EQ(alone.records[0].messages[0].code, "MSG1006");
  EXPECT_EQ(alone.records[0].messages[0].transaction_id, "T1");
  // In a refused array: the resent record settled, the others again now,
  // without it (not split, not dead-lettered).
  auto mixed = ReadAnswer(
      Answer(400, Response({Entry("a", "MSG1000 - Message Processing Failed", ""),
                            Entry("b", dup, "T2"), Entry("c", "MSG1000 - Message Processing Failed", "")})),
      {&a, &b, &c}, false);
  ASSERT_EQ(mixed.fate, PostFate::kSettled);
  ASSERT_EQ(mixed.records.size(), 3u);
  EXPECT_EQ(mixed.records[0].fate, RecordFate::kResend);
  EXPECT_EQ(mixed.records[1].fate, RecordFate::kDuplicate);
  EXPECT_EQ(mixed.records[2].fate, RecordFate::kResend);
  EXPECT_NE(mixed.why.find("1 of 3 records already received"), std::string::npos) << mixed.why;
  // Every record resent: all settled.
  auto all = ReadAnswer(Answer(400, Response({Entry("a", dup), Entry("b", dup)})), {&a, &b}, false);
  ASSERT_EQ(all.fate, PostFate::kSettled);
  EXPECT_EQ(all.records[0].fate, RecordFate::kDuplicate);
  EXPECT_EQ(all.records[1].fate, RecordFate::kDuplicate);
  // A record of two messages of which only one is MSG1006 is not settled
  // by it: alone, it is the sender's fault with the other's code.
  PreparedRecord two = Ready("[{\"payload\":" + Payload("IF-033", "x") + "},{\"payload\":" +
                             Payload("IF-033", "y") + "}]");
  auto half = ReadAnswer(
      Answer(400, Response({Entry("x", dup), Entry("y", "MSG1001 - Schema Failure")})), {&two},
      false);
  ASSERT_EQ(half.fate, PostFate::kSettled);
  EXPECT_EQ(half.records[0].fate, RecordFate::kDeadLetter);
  EXPECT_EQ(half.records[0].code, "MSG1001");
  // A refused array with no MSG1006 is still split.
  auto none = ReadAnswer(Answer(400, Response({Entry("a", "MSG1001 - Schema Failure"),
                                               Entry("b", "MSG1001 - Schema Failure")})),
                         {&a, &b}, false);
  EXPECT_EQ(none.fate, PostFate::kSplit);
  // MSG1006 on another status the DIP does not retry (409, 422): delivered.
  for (long status : {409L, 422L}) {
    auto other = ReadAnswer(Answer(status, Response({Entry("a", dup)})), {&a}, false);
    ASSERT_EQ(other.fate, PostFate::kSettled) << status;
    EXPECT_EQ(other.records[0].fate, RecordFate::kDuplicate) << status;
  }
}

TEST(ReadAnswer, EntriesWithoutReferencesGoByPosition) {
  PreparedRecord two = Ready("[{\"payload\":" + Payload("IF-033", "x") + "},{\"payload\":" +
                             Payload("IF-033", "y") + "}]");
  PreparedRecord one = Ready(Payload("IF-033", "z"));
  auto reading = ReadAnswer(Answer(201, R"({"messageArray":[{"message":"MSG0000 - Success"},
      {"message":"MSG0000 - Success"},{"message":"MSG1001 - Schema Failure"}]})"),
                            {&two, &one}, false);
  ASSERT_EQ(reading.fate, PostFate::kSettled);
  EXPECT_EQ(reading.records[0].fate, RecordFate::kDelivered);
  EXPECT_EQ(reading.records[0].messages.size(), 2u);
  EXPECT_EQ(reading.records[1].fate, RecordFate::kDeadLetter);
  // A record is as bad as its worst message.
  auto mixed = ReadAnswer(Answer(201, R"({"messageArray":[{"message":"MSG0000 - Success"},
      {"message":"MSG1000 - Internal Processing Error"}]})"),
                          {&two}, false);
  EXPECT_EQ(mixed.records[0].fate, RecordFate::kRetry);
}

}  // namespace
}  // namespace dipgate::bridge
