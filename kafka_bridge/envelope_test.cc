#include "kafka_bridge/envelope.h"

#include <gtest/gtest.h>

#include "tests/fixtures.h"

namespace dipgate::bridge {
namespace {

TEST(Envelope, ReadsBothSampleShapes) {
  Envelope e;
  std::string why;
  ASSERT_TRUE(ParseEnvelope(testing::ReadFile(testing::Runfile("tests/data/if-033-appointment-request.json")),
                            &e, &why))
      << why;
  EXPECT_EQ(e.interface_id, "IF-033");  // wrapped as [{"payload": ...}]
  EXPECT_EQ(e.sender_dip_id, "8795183096");
  ASSERT_TRUE(ParseEnvelope(testing::ReadFile(testing::Runfile("tests/data/if-041-reading-cos.json")),
                            &e, &why))
      << why;
  EXPECT_EQ(e.interface_id, "IF-041");  // bare message
}

TEST(Envelope, RefusesWithReasonWord) {
  struct Case {
    const char* json;
    const char* starts;
  } cases[] = {
      {"", "invalid_json:"},
      {"{\"CommonBlock\":", "invalid_json:"},
      {"{} trailing", "invalid_json:"},
      {"{}", "missing_envelope: no CommonBlock"},
      {"[]", "missing_envelope:"},
      {"[{\"x\":1}]", "missing_envelope: the array element has no payload"},
      {"{\"CommonBlock\":{\"S0\":{}}}", "missing_envelope: no CommonBlock.S0.interfaceID"},
      {"{\"CommonBlock\":{\"S0\":{\"interfaceID\":7}}}", "missing_envelope:"},
      {"{\"CommonBlock\":{\"S0\":{\"interfaceID\":\"../admin\"}}}", "missing_envelope:"},
      {"{\"CommonBlock\":{\"S0\":{\"interfaceID\":\"IF 1\"}}}", "missing_envelope:"},
  };
  for (const Case& c : cases) {
    Envelope e;
    std::string why;
    EXPECT_FALSE(ParseEnvelope(c.json, &e, &why)) << c.json;
    EXPECT_EQ(why.rfind(c.starts, 0), 0u) << c.json << " -> " << why;
  }
}

}  // namespace
}  // namespace dipgate::bridge
