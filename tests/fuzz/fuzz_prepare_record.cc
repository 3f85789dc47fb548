// Fuzz target: the bridge's reading of a Kafka record as DIP messages
// (kafka_bridge/delivery.h PrepareRecord), and the batch body it makes.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <variant>

#include "common/dip/message.h"
#include "kafka_bridge/delivery.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dipgate;
  bridge::Prepared prepared = bridge::PrepareRecord(
      std::string_view(reinterpret_cast<const char*>(data), size), bridge::PrepareOptions{});
  if (const auto* refusal = std::get_if<bridge::Refusal>(&prepared)) {
    if (refusal->detail.empty()) abort();  // a refusal always says why
    return 0;
  }
  const auto& record = std::get<bridge::PreparedRecord>(prepared);
  if (!dip::IsSafeName(record.channel) || record.elements.empty()) abort();
  // Two copies in one batch are a DIP message array of twice the messages.
  std::string body = bridge::BatchBody({&record, &record});
  dip::ParseOptions options;
  options.max_messages = SIZE_MAX;
  auto array = dip::MessageArray::Parse(body, options);
  // Wrapping a bare payload adds two levels of nesting: a payload at the
  // parser's depth limit cannot be wrapped (the DIP would refuse it too).
  if (!array && array.error().detail.find("nests deeper") != std::string::npos) return 0;
  if (!array || array->form() != dip::BodyForm::kArray ||
      array->messages().size() != 2 * record.references.size()) {
    abort();
  }
  // What goes to the DIP is what the record held: each payload's bytes.
  dip::ParseOptions bare;
  bare.allow_bare_payload = true;
  auto original = dip::MessageArray::Parse(
      std::string_view(reinterpret_cast<const char*>(data), size), bare);
  if (!original) abort();  // PrepareRecord took it
  size_t n = record.references.size();
  for (size_t i = 0; i < n; ++i) {
    if (array->PayloadText(i) != original->PayloadText(i) ||
        array->PayloadText(n + i) != original->PayloadText(i)) {
      abort();
    }
  }
  return 0;
}
