// Verified DIP webhooks -> Kafka. An HTTP listener (libmicrohttpd) meant to
// sit behind nginx (mutual TLS and dip_verify), on loopback or a unix
// socket; it takes only what nginx verified (X-DIP-Verified: ok) and can
// verify the signature again itself.
//
// Each DIPMessageEgressArray is split into one Kafka record per message:
// topic from a template ({interfaceID}), key an envelope field (MPANCore by
// default), headers dip.transactionID, dip.publicationID,
// dip.replayIndicator, dip.interfaceID, dip.eventCode,
// dip.senderUniqueReference, dip.signer and dip.mpo (X-DIP-MPO), value the
// message's payload: the exact bytes of the body that held it, never
// re-serialised. The producer is idempotent with acks=all.
//
// The answer follows the DIP's rules (docs/dip-api.md):
//   201 + StandardResponse (RCP0000 per message)  only once Kafka has
//       acknowledged every record of the array
//   503 + Retry-After  Kafka could not take them within produce_timeout_ms:
//       the DIP retries, and records already acknowledged are then
//       recognised as duplicates
//   400 / 401 / 403 + StandardResponse  the sender's fault (not a message
//       array, a schema failure, a bad signature, not verified by nginx)
// A transactionID already in Kafka within duplicate_window_s (a DIP retry
// after a lost 201) is answered 201 and not produced again; a replay
// (replayIndicator true) is always produced, flagged in its header.
#ifndef DIPGATE_KAFKA_BRIDGE_INBOUND_H_
#define DIPGATE_KAFKA_BRIDGE_INBOUND_H_

#include <memory>
#include <string>

#include "common/result.h"
#include "kafka_bridge/config.h"
#include "kafka_bridge/metrics.h"

namespace dipgate::bridge {

class Inbound {
 public:
  // Creates the producer, loads the schemas and trust files, and listens.
  // internal_error naming what failed.
  static Result<std::unique_ptr<Inbound>> Start(const Config& config, Metrics* metrics);
  // Stops listening (requests in progress finish), flushes the producer.
  ~Inbound();

  struct Impl;

 private:
  explicit Inbound(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dipgate::bridge

#endif  // DIPGATE_KAFKA_BRIDGE_INBOUND_H_
