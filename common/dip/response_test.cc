#include "common/dip/response.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

namespace dipgate::dip {
namespace {

TEST(StandardResponse, WritesAllTenFieldsNullWhereEmpty) {
  Envelope e;
  e.interface_id = "IF-033";
  e.sender_unique_reference = "S-033-0123456789-SUP-20250101-1a";
  e.sender_dip_id = "8795183096";
  e.sender_timestamp = "2022-12-31T06:05:45+00:00";
  e.transaction_id = "T-1";
  StandardResponse r;
  r.entries.push_back(EntryFor(e, "RCP0000", "0140321855"));
  r.timestamp = BodyTimestamp(1648235100000);  // 2022-03-25T19:05:00Z
  std::string json = ToJson(r);
  rapidjson::Document d;
  d.Parse(json.c_str());
  ASSERT_FALSE(d.HasParseError()) << json;
  EXPECT_STREQ(d["timestamp"].GetString(), "2022-03-25T19:05:00+00:00");
  const auto& entry = d["messageArray"][0];
  EXPECT_EQ(entry.MemberCount(), 10u);
  EXPECT_STREQ(entry["transactionID"].GetString(), "T-1");
  EXPECT_STREQ(entry["senderUniqueReference"].GetString(), "S-033-0123456789-SUP-20250101-1a");
  EXPECT_TRUE(entry["correlationID"].IsNull());
  EXPECT_STREQ(entry["sentTimestamp"].GetString(), "2022-12-31T06:05:45+00:00");
  EXPECT_STREQ(entry["senderID"].GetString(), "0140321855");
  EXPECT_STREQ(entry["recipientID"].GetString(), "8795183096");
  EXPECT_TRUE(entry["DIPConnectionProviderID"].IsNull());
  EXPECT_STREQ(entry["message"].GetString(), "RCP0000 - Message Success");
  EXPECT_TRUE(entry["help"].IsNull());
  EXPECT_TRUE(entry["serviceTicketURL"].IsNull());
}

TEST(StandardResponse, ParsesTheSpecsOwnExamplesLeniently) {
  // The 201 example of SubmitEvents (11-character senderID and all).
  const char* body = R"({"messageArray":[
    {"transactionID":"T-IF-021-1401234567-SDS-20220321-1234CC0123456789",
     "senderUniqueReference":"S-IF-021-1401234567-SUP-20220321-12345687a1234567a",
     "correlationID":null,"sentTimestamp":"2022-03-21T11:15:59+00:00","senderID":"00000000000",
     "recipientID":"1401234567","DIPConnectionProviderID":null,"message":"MSG0000 - Success",
     "help":null,"serviceTicketURL":"not yet implemented"},
    {"transactionID":null,"senderUniqueReference":null,"correlationID":null,
     "sentTimestamp":"2022-04-01T19:05:00+00:00","senderID":"00000000000",
     "recipientID":"1123456789","DIPConnectionProviderID":null,
     "message":"MSG1001 -Schema Failure","help":null,"serviceTicketURL":"not yet implemented"}],
    "timestamp":"2022-03-21T11:16:01+00:00"})";
  auto r = ParseStandardResponse(body);
  ASSERT_TRUE(r.ok()) << r.error().detail;
  ASSERT_EQ(r->entries.size(), 2u);
  EXPECT_EQ(r->entries[0].code(), "MSG0000");
  EXPECT_EQ(*r->entries[0].sender_id, "00000000000");
  EXPECT_FALSE(r->entries[0].correlation_id.has_value());
  EXPECT_EQ(r->entries[1].code(), "MSG1001");
  EXPECT_EQ(*r->timestamp, "2022-03-21T11:16:01+00:00");
  // Round trip.
  auto again = ParseStandardResponse(ToJson(*r));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again->entries[0].transaction_id, *r->entries[0].transaction_id);
  EXPECT_EQ(again->entries[1].code(), "MSG1001");
}

TEST(StandardResponse, NoMessageArrayIsAnEmptyAnswer) {
  auto r = ParseStandardResponse(R"({"timestamp":"2022-03-21T11:16:01+00:00"})");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->entries.empty());
}

TEST(StandardResponse, RefusesWhatIsNotOne) {
  for (const char* body : {"", "[]", "not json", R"({"messageArray":{}})",
                           R"({"messageArray":[1]})"}) {
    auto r = ParseStandardResponse(body);
    EXPECT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.reason(), Reason::kNotMessageArray) << body;
  }
}

TEST(StandardResponse, BodyTimestampIsTwentyFiveCharacters) {
  EXPECT_EQ(BodyTimestamp(0), "1970-01-01T00:00:00+00:00");
  EXPECT_EQ(BodyTimestamp(1764633600999), "2025-12-02T00:00:00+00:00");
  EXPECT_EQ(BodyTimestamp(1764633600999).size(), 25u);
}

}  // namespace
}  // namespace dipgate::dip
