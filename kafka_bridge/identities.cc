#include "kafka_bridge/identities.h"

#include <algorithm>

#include "common/certificate.h"

namespace dipgate::bridge {

std::shared_ptr<const SigningIdentity> Identities::For(const Route& route,
                                                       const std::string& sender_dip_id) const {
  if (!route.identity.empty()) return set.Find(route.identity);
  auto it = by_dip_id.find(sender_dip_id);
  return it == by_dip_id.end() ? nullptr : set.Find(it->second);
}

Result<std::shared_ptr<const Identities>> LoadIdentities(const Config& config) {
  auto ids = std::make_shared<Identities>();
  for (const IdentityConfig& ic : config.identities) {
    auto id = LoadIdentity(ic.source);
    if (!id) return Error{id.error().reason, "identity " + ic.source.name + ": " + id.error().detail};
    for (const auto& w : (*id)->warnings) ids->warnings.push_back("identity " + ic.source.name + ": " + w);
    ids->earliest_expiry = std::min(ids->earliest_expiry, (*id)->info.not_after);
    if (auto added = ids->set.Add(*id); !added) return added.error();
    for (const auto& d : ic.dip_ids) ids->by_dip_id[d] = ic.source.name;
  }
  transport::TlsOptions o;
  o.ca_file = config.ca_file;
  o.client_certificate = config.client_certificate;
  o.client_key = config.client_key;
  o.client_key_passphrase_file = config.client_key_passphrase_file;
  o.min_version = config.tls_min_version;
  o.http2 = config.http2;
  o.connect_timeout_ms = static_cast<long>(config.connect_timeout_ms);
  o.request_timeout_ms = static_cast<long>(config.request_timeout_ms);
  o.expect_continue_bytes = static_cast<size_t>(config.expect_continue_bytes);
  auto tls = transport::LoadTls(o);
  if (!tls) return Error{tls.error().reason, "tls: " + tls.error().detail};
  ids->tls = std::move(*tls);
  if (!config.client_certificate.empty()) {
    auto certs = LoadCertificates(config.client_certificate);
    if (!certs) return Error{certs.error().reason, "tls.client_certificate: " + certs.error().detail};
    auto info = ReadCertificateInfo(certs->front().get());
    if (!info) return Error{info.error().reason, "tls.client_certificate: " + info.error().detail};
    ids->earliest_expiry = std::min(ids->earliest_expiry, info->not_after);
  }
  return std::shared_ptr<const Identities>(std::move(ids));
}

}  // namespace dipgate::bridge
