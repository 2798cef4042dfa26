#include "protocol/client.h"

#include <algorithm>
#include <cassert>

namespace protocol {

Client::Client(const PbftConfig& config, ClientId self, const KeyRing& keys, Defect defect)
    : config_(config),
      self_(self),
      defect_(defect),
      crypto_(std::make_unique<NodeCrypto>(keys, self)),
      retry_timeout_ns_(config.client_retry_timeout_ns) {
  assert(self_ >= config_.n);  // node ids below n are replicas
  for (ReplicaId r = 0; r < config_.n; ++r) replicas_.push_back(r);
  outstanding_.replies.resize(config_.n);
}

void Client::submit(ByteView operation, Outbox& out) {
  assert(!busy());
  Outstanding& o = outstanding_;
  o.active = true;
  o.timestamp = ++timestamp_;
  o.replied = 0;
  for (auto& r : o.replies) r.present = false;
  // Authenticated for every replica: backups check the request inside PRE-PREPAREs.
  encode_request_into(o.wire, self_, self_, o.timestamp, operation);
  crypto_->seal_in_place(o.wire, replicas_);
  Bytes copy = out.take_buffer();
  copy.assign(o.wire.begin(), o.wire.end());
  out.messages.push_back(OutMessage{config_.primary(view_), MessageKind::Request, std::move(copy)});
  out.timers.push_back(TimerCommand{TimerKind::ClientRetry, false, retry_timeout_ns_});
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
  out.messages.push_back(OutMessage{kAllReplicas, MessageKind::Request, outstanding_.wire});
  const std::int64_t cap_ns = retry_timeout_cap_ns();
  assert(retry_timeout_ns_ > 0 && retry_timeout_ns_ <= cap_ns);
  retry_timeout_ns_ = retry_timeout_ns_ > cap_ns / 2 ? cap_ns : retry_timeout_ns_ * 2;
  out.timers.push_back(TimerCommand{TimerKind::ClientRetry, false, retry_timeout_ns_});
}

std::int64_t Client::retry_timeout_cap_ns() const {
  const std::int64_t base_ns = config_.client_retry_timeout_ns;
  assert(base_ns > 0);
  if (base_ns > kRetryTimeoutMaxNs / kRetryBackoffMax) return std::max(base_ns, kRetryTimeoutMaxNs);
  return base_ns * kRetryBackoffMax;
}

void Client::on_reply(const Envelope& env, Outbox& out) {
  ReplyView reply;
  if (!decode_reply_view(env.body, reply).empty() || reply.client != self_ || !busy() ||
      reply.timestamp != outstanding_.timestamp) {
    stats_.replies_rejected++;  // late, duplicate after completion, or not ours
    return;
  }
  assert(env.sender < config_.n);  // step() admits replies from replicas only
  Reply& mine = outstanding_.replies[env.sender];
  if (!mine.present) {
    mine.present = true;
    mine.view = reply.view;
    mine.result.assign(reply.result.begin(), reply.result.end());
    outstanding_.replied++;
  }
  // O(n) per reply, and a request has n replies against O(n^2) protocol messages.
  std::uint32_t matching = 0;
  for (const auto& r : outstanding_.replies) {
    matching += r.present && std::equal(r.result.begin(), r.result.end(), reply.result.begin(), reply.result.end());
  }
  if (matching < config_.reply_quorum() && !planted(defect_, Defect::ClientOneReply)) return;
  // The (f+1)-th highest view reported is at most some correct replica's view, so a
  // faulty replica cannot make the client chase a view that does not exist.
  std::vector<ViewNumber>& views = views_scratch_;
  views.clear();
  for (const auto& r : outstanding_.replies) {
    if (r.present) views.push_back(r.view);
  }
  assert(views.size() == outstanding_.replied);
  std::sort(views.rbegin(), views.rend());
  view_ = std::max(view_, views[std::min<std::size_t>(config_.f, views.size() - 1)]);
  out.notes.push_back(note::Completed{outstanding_.timestamp, Bytes(reply.result.begin(), reply.result.end()), matching});
  out.timers.push_back(TimerCommand{TimerKind::ClientRetry, true, 0});
  outstanding_.active = false;
  retry_timeout_ns_ = config_.client_retry_timeout_ns;
  stats_.completed++;
}

}  // namespace protocol
