// PbftConfig: the parameters of one PBFT group, validated as a whole.
#pragma once
#include <cstdint>
#include <string>

#include "protocol/types.h"

namespace protocol {

enum class AuthMode : std::uint8_t { None, Mac, Signature };
const char* auth_mode_name(AuthMode mode);

struct PbftConfig {
  std::uint32_t n = 4;  // replicas
  std::uint32_t f = 1;  // faults tolerated; REQUIRES n >= 3f + 1
  AuthMode auth = AuthMode::Mac;
  std::uint32_t batch_size_max = 1;           // requests per PRE-PREPARE, >= 1
  std::int64_t batch_delay_ns = 0;            // how long the primary waits to fill a batch
  std::uint64_t checkpoint_interval = 64;     // K, >= 1
  std::uint64_t log_window = 128;             // L, a multiple of K, >= K
  std::int64_t view_change_timeout_ns = 500'000'000;  // T, > 0
  std::int64_t client_retry_timeout_ns = 1'000'000'000;  // client retransmission, > 0
  std::int64_t state_fetch_timeout_ns = 200'000'000;     // retry a state fetch, > 0
  std::uint32_t early_buffer_max = 4096;      // buffered messages that arrived early, >= 1
  std::uint32_t request_queue_max = 65536;    // pending requests at the primary, >= 1

  // Certificates need this many matching messages from distinct replicas:
  // ceil((n + f + 1) / 2), which is 2f + 1 when n = 3f + 1. Any two quorums intersect in at
  // least f + 1 replicas, so in at least one correct replica.
  std::uint32_t quorum() const { return (n + f + 2) / 2; }
  // Matching replies a client needs: f + 1 (at least one from a correct replica).
  std::uint32_t reply_quorum() const { return f + 1; }
  ReplicaId primary(ViewNumber v) const { return static_cast<ReplicaId>(v % n); }

  // Returns "" when valid, else the first problem in plain words, e.g.
  // "n = 3 is too small for f = 1: PBFT needs n >= 3f+1 = 4".
  std::string validate() const;
};

}  // namespace protocol
