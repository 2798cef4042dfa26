#include "protocol/config.h"

#include "protocol/message.h"

namespace protocol {

const char* auth_mode_name(AuthMode mode) {
  switch (mode) {
    case AuthMode::None: return "none";
    case AuthMode::Mac: return "mac";
    case AuthMode::Signature: return "signature";
  }
  return "unknown";
}

std::string PbftConfig::validate() const {
  auto num = [](auto v) { return std::to_string(v); };
  if (n < 1) return "n = " + num(n) + ": a group needs at least one replica";
  if (n < 3 * f + 1) {
    return "n = " + num(n) + " is too small for f = " + num(f) +
           ": PBFT needs n >= 3f+1 = " + num(3 * f + 1);
  }
  if (batch_size_max < 1 || batch_size_max > kBatchRequestsMax) {
    return "batch_size = " + num(batch_size_max) + ": must be between 1 and " + num(kBatchRequestsMax);
  }
  if (batch_delay_ns < 0) return "batch_delay must be >= 0";
  if (checkpoint_interval < 1) return "checkpoint_interval must be >= 1";
  if (log_window < checkpoint_interval || log_window % checkpoint_interval != 0) {
    return "log_window = " + num(log_window) + ": must be a positive multiple of checkpoint_interval (" +
           num(checkpoint_interval) + ")";
  }
  if (log_window > 1'000'000) return "log_window = " + num(log_window) + ": must be at most 1000000";
  if (view_change_timeout_ns <= 0) return "view_change_timeout must be > 0";
  if (client_retry_timeout_ns <= 0) return "client_timeout must be > 0";
  if (state_fetch_timeout_ns <= 0) return "state_fetch_timeout must be > 0";
  if (early_buffer_max < 1) return "early_buffer_max must be >= 1";
  if (request_queue_max < 1) return "request_queue_max must be >= 1";
  return "";
}

}  // namespace protocol
