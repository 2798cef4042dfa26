// A PBFT client (OSDI '99 §4.1) as a pure state machine: one request outstanding at a
// time, strictly increasing timestamps, a result accepted on f+1 matching REPLYs from
// distinct replicas, retransmission to every replica on timeout.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "protocol/config.h"
#include "protocol/crypto.h"
#include "protocol/defects.h"
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
  // `defect`: a planted defect (protocol/defects.h); Defect::None outside a defects build.
  Client(const PbftConfig& config, ClientId self, const KeyRing& keys, Defect defect = Defect::None);
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends a new request with the next timestamp to the replica it believes is primary.
  // REQUIRES: !busy().
  void submit(ByteView operation, Outbox& out);

  // A reply or a retry timer. When f+1 matching replies arrive, the Outbox gets a
  // Note::Completed with the timestamp and result, and the client is no longer busy.
  void step(const Input& input, Outbox& out);

  bool busy() const { return outstanding_.active; }
  ClientId id() const { return self_; }
  Timestamp last_timestamp() const { return timestamp_; }
  ViewNumber believed_view() const { return view_; }
  const ClientStats& stats() const { return stats_; }
  const CryptoCounters& crypto_counters() const { return crypto_->counters(); }

 private:
  // The request in flight. Kept from one request to the next (active says whether one is
  // in flight), so its buffers are reused rather than allocated per request.
  struct Reply {
    bool present = false;
    ViewNumber view = 0;
    Bytes result;
  };
  struct Outstanding {
    bool active = false;
    Timestamp timestamp = 0;
    Bytes wire;                  // the sealed REQUEST, resent as is
    std::vector<Reply> replies;  // first reply per replica, indexed by replica
    std::uint32_t replied = 0;   // replicas that replied
  };
  void on_reply(const Envelope& env, Outbox& out);
  void retransmit(Outbox& out);
  // The retry timeout backs off by doubling up to kRetryBackoffMax times the configured one,
  // and never past kRetryTimeoutMaxNs unless the configured one is larger: scenarios may
  // configure up to 1e18 ns, and 16 times that overflows.
  static constexpr std::int64_t kRetryBackoffMax = 16;
  static constexpr std::int64_t kRetryTimeoutMaxNs = std::int64_t{1} << 56;  // about 2.3 years
  std::int64_t retry_timeout_cap_ns() const;

  PbftConfig config_;
  ClientId self_;
  Defect defect_;
  std::unique_ptr<NodeCrypto> crypto_;
  Timestamp timestamp_ = 0;
  ViewNumber view_ = 0;
  std::int64_t retry_timeout_ns_;
  Outstanding outstanding_;
  ClientStats stats_;
  std::vector<NodeId> replicas_;
  std::vector<ViewNumber> views_scratch_;  // every replica: the receivers of a REQUEST's authenticator
};

}  // namespace protocol
