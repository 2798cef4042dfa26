// A PBFT client (OSDI '99 §4.1) as a pure state machine: one request outstanding at a
// time, strictly increasing timestamps, a result accepted on f+1 matching REPLYs from
// distinct replicas, retransmission to every replica on timeout.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "protocol/config.h"
#include "protocol/crypto.h"
#include "protocol/io.h"
#include "protocol/message.h"

namespace protocol {

struct ClientStats {
  std::uint64_t submitted = 0;
  std::uint64_t completed = 0;
  std::uint64_t retransmissions = 0;
  std::uint64_t replies_rejected = 0;  // bad MAC, wrong timestamp, not from a replica...
};

class Client {
 public:
  Client(const PbftConfig& config, ClientId self, const KeyRing& keys);
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends a new request with the next timestamp to the replica it believes is primary.
  // REQUIRES: !busy().
  void submit(Bytes operation, Outbox& out);

  // A reply or a retry timer. When f+1 matching replies arrive, the Outbox gets a
  // Note::Completed with the timestamp and result, and the client is no longer busy.
  void step(const Input& input, Outbox& out);

  bool busy() const { return outstanding_.has_value(); }
  ClientId id() const { return self_; }
  Timestamp last_timestamp() const { return timestamp_; }
  ViewNumber believed_view() const { return view_; }
  const ClientStats& stats() const { return stats_; }
  const CryptoCounters& crypto_counters() const { return crypto_->counters(); }

 private:
  struct Outstanding {
    Timestamp timestamp = 0;
    Bytes wire;  // the sealed REQUEST, resent as is
    std::map<ReplicaId, std::pair<ViewNumber, Bytes>> replies;  // first reply per replica
  };
  void on_reply(const Envelope& env, Outbox& out);
  void retransmit(Outbox& out);

  PbftConfig config_;
  ClientId self_;
  std::unique_ptr<NodeCrypto> crypto_;
  Timestamp timestamp_ = 0;
  ViewNumber view_ = 0;
  std::int64_t retry_timeout_ns_;
  std::optional<Outstanding> outstanding_;
  ClientStats stats_;
};

}  // namespace protocol
