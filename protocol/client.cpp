#include "protocol/client.h"

#include <algorithm>
#include <cassert>

namespace protocol {

Client::Client(const PbftConfig& config, ClientId self, const KeyRing& keys)
    : config_(config),
      self_(self),
      crypto_(std::make_unique<NodeCrypto>(keys, self)),
      retry_timeout_ns_(config.client_retry_timeout_ns) {
  assert(self_ >= config_.n);  // node ids below n are replicas
}

void Client::submit(Bytes operation, Outbox& out) {
  assert(!busy());
  Outstanding o;
  o.timestamp = ++timestamp_;
  // Authenticated for every replica: backups check the request inside PRE-PREPAREs.
  std::vector<NodeId> replicas;
  for (ReplicaId r = 0; r < config_.n; ++r) replicas.push_back(r);
  o.wire = crypto_->seal(encode_request(self_, Request{self_, o.timestamp, std::move(operation)}),
                         replicas);
  out.messages.push_back(OutMessage{config_.primary(view_), MessageKind::Request, o.wire});
  out.timers.push_back(TimerCommand{TimerKind::ClientRetry, false, retry_timeout_ns_});
  outstanding_ = std::move(o);
  stats_.submitted++;
}

void Client::step(const Input& input, Outbox& out) {
  if (input.kind == Input::Kind::Timer) {
    if (input.timer == TimerKind::ClientRetry && busy()) retransmit(out);
    return;
  }
  auto env = parse_envelope(input.wire);
  if (!env.ok() || env.value.kind != MessageKind::Reply || env.value.sender >= config_.n ||
      !crypto_->verify(env.value)) {
    stats_.replies_rejected++;
    out.rejections.push_back(Rejection{env.ok() ? RejectReason::BadAuth : RejectReason::Malformed,
                                       input.from, MessageKind::Reply});
    return;
  }
  on_reply(env.value, out);
}

void Client::retransmit(Outbox& out) {
  // The primary may be faulty or the request lost: tell every replica (§4.5.1), and back
  // off so a slow group is not flooded.
  stats_.retransmissions++;
  out.messages.push_back(OutMessage{kAllReplicas, MessageKind::Request, outstanding_->wire});
  retry_timeout_ns_ = std::min<std::int64_t>(retry_timeout_ns_ * 2, config_.client_retry_timeout_ns * 16);
  out.timers.push_back(TimerCommand{TimerKind::ClientRetry, false, retry_timeout_ns_});
}

void Client::on_reply(const Envelope& env, Outbox& out) {
  auto reply = decode_reply(env.body);
  if (!reply.ok() || reply.value.client != self_ || !busy() ||
      reply.value.timestamp != outstanding_->timestamp) {
    stats_.replies_rejected++;  // late, duplicate after completion, or not ours
    return;
  }
  auto& replies = outstanding_->replies;
  replies.try_emplace(env.sender, reply.value.view, reply.value.result);
  std::uint32_t matching = 0;
  for (const auto& [replica, r] : replies) matching += r.second == reply.value.result;
  if (matching < config_.reply_quorum()) return;
  // The (f+1)-th highest view reported is at most some correct replica's view, so a
  // faulty replica cannot make the client chase a view that does not exist.
  std::vector<ViewNumber> views;
  for (const auto& [replica, r] : replies) views.push_back(r.first);
  std::sort(views.rbegin(), views.rend());
  view_ = std::max(view_, views[std::min<std::size_t>(config_.f, views.size() - 1)]);
  Note done{Note::Kind::Completed, outstanding_->timestamp, 0, {}, reply.value.result, matching};
  out.notes.push_back(std::move(done));
  out.timers.push_back(TimerCommand{TimerKind::ClientRetry, true, 0});
  outstanding_.reset();
  retry_timeout_ns_ = config_.client_retry_timeout_ns;
  stats_.completed++;
}

}  // namespace protocol
