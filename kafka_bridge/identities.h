// What the outbound bridge signs and connects with, loaded at start and
// again on SIGHUP (certificate renewal, CoCo 6.1.4): the signing identities,
// which senderDIPID each signs for, and the TLS client settings. A load
// either succeeds as a whole or changes nothing.
#ifndef DIPGATE_KAFKA_BRIDGE_IDENTITIES_H_
#define DIPGATE_KAFKA_BRIDGE_IDENTITIES_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/canonical.h"
#include "common/result.h"
#include "common/signer.h"
#include "kafka_bridge/config.h"
#include "transport/https.h"

namespace dipgate::bridge {

struct Identities {
  IdentitySet set;
  std::map<std::string, std::string> by_dip_id;  // senderDIPID -> identity name
  transport::TlsSettings tls;                   // files read now, so a reload re-reads them
  UnixMillis earliest_expiry = INT64_MAX;       // of every certificate above
  std::vector<std::string> warnings;            // e.g. a key file readable by others

  // The identity that signs a record of `route` from `sender_dip_id`; null
  // when none does.
  std::shared_ptr<const SigningIdentity> For(const Route& route,
                                             const std::string& sender_dip_id) const;
};

// Loads every identity and the TLS files of `config`. internal_error naming
// the identity or file on any failure.
Result<std::shared_ptr<const Identities>> LoadIdentities(const Config& config);

}  // namespace dipgate::bridge

#endif  // DIPGATE_KAFKA_BRIDGE_IDENTITIES_H_
