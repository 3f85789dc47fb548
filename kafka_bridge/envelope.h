// What the bridge reads from a DIP message: the CommonBlock fields that
// route and sign it. Senders put the message at the top level or wrap it as
// [{"payload": {...}}]; both are accepted.
#ifndef DIPGATE_KAFKA_BRIDGE_ENVELOPE_H_
#define DIPGATE_KAFKA_BRIDGE_ENVELOPE_H_

#include <string>
#include <string_view>


namespace dipgate::bridge {

struct Envelope {
  std::string interface_id;   // CommonBlock.S0.interfaceID
  std::string sender_dip_id;  // CommonBlock.S1.senderDIPID (may be empty)
};

// False for a message that cannot go to the DIP (the sender's fault, so it
// is dead-lettered); `why` starts with the reason word: "invalid_json: ..."
// or "missing_envelope: ...".
bool ParseEnvelope(std::string_view json, Envelope* out, std::string* why);

}  // namespace dipgate::bridge

#endif  // DIPGATE_KAFKA_BRIDGE_ENVELOPE_H_
