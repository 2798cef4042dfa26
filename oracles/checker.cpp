#include "oracles/checker.h"

#include <algorithm>
#include <cassert>
#include <limits>

#include "protocol/crypto.h"

namespace oracles {
namespace {

// The evidence trail keeps sequence numbers up to this many windows above the highest
// stable checkpoint of a correct replica: a correct replica never sends or acts beyond one
// window above its own stable checkpoint and buffers at most one more, so four leaves room
// for the stable checkpoint to move while messages are in flight.
constexpr std::uint64_t kEvidenceWindows = 4;
// At most this many requests are listed when a violation describes a batch.
constexpr std::size_t kRequestsListedMax = 4;

std::string text(const Bytes& b) { return std::string(b.begin(), b.end()); }

std::string list(const std::vector<ReplicaId>& ids) {
  std::string s = "[";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i != 0) s += ",";
    s += std::to_string(ids[i]);
  }
  s += "]";
  return s;
}

std::string describe(const MessageDigest& digest, const std::vector<protocol::ExecutedRequest>& requests) {
  std::string s = "batch " + digest.short_hex() + " with " + std::to_string(requests.size()) + " request" +
                  (requests.size() == 1 ? "" : "s");
  for (std::size_t i = 0; i < requests.size() && i < kRequestsListedMax; ++i) {
    const auto& r = requests[i];
    s += i != 0 ? ", (client " : ": (client ";
    s += std::to_string(r.client);
    s += ", t=";
    s += std::to_string(r.timestamp);
    s += ", ";
    s += r.request_digest.short_hex();
    if (r.duplicate) {
      s += ", duplicate)";
    } else {
      s += ", result \"";
      s += text(r.result);
      s += "\")";
    }
  }
  if (requests.size() > kRequestsListedMax) s += ", ...";
  return s;
}

bool same_request(const protocol::ExecutedRequest& a, const protocol::ExecutedRequest& b) {
  return a.client == b.client && a.timestamp == b.timestamp && a.request_digest == b.request_digest &&
         a.operation == b.operation && a.duplicate == b.duplicate && a.result == b.result;
}

}  // namespace

Checker::Checker(const protocol::PbftConfig& config, IssuedOperation issued)
    : config_(config),
      issued_(std::move(issued)),
      faulty_(config.n, false),
      evidence_(config.n),
      last_seq_(config.n, 0),
      checkpoint_passed_(config.n, 0),
      stable_(config.n, 0),
      view_(config.n, 0),
      last_request_(config.n) {
  assert(config_.n >= 1);
  assert(issued_);
  evidence_.set_horizon(kEvidenceWindows * config_.log_window);
}

void Checker::mark_faulty(ReplicaId replica) {
  assert(replica < config_.n);
  faulty_[replica] = true;
  trim();  // it no longer holds anything back
}

void Checker::violate(Violation v) {
  // A client's wrong acceptance names no replica and maybe no seq: its own request tells
  // one from the next.
  const std::string key = v.invariant + "/" + std::to_string(v.seq.value_or(0)) + "/" +
                          (v.replicas.empty() ? "" : std::to_string(v.replicas.back())) + "/" +
                          (v.invariant == "client_consistency" ? v.detail : "");
  if (!reported_.insert(key).second) return;
  if (violations_.size() < 1000) violations_.push_back(std::move(v));  // bounded report
}

std::vector<std::uint32_t> Checker::culprits(SequenceNumber seq) const {
  return evidence_.equivocators(seq, faulty_);
}

// The faulty replicas that sent `client` a REPLY for t with exactly `result`.
std::vector<std::uint32_t> Checker::reply_culprits(ClientId client, Timestamp t, const Bytes& result) const {
  std::vector<std::uint32_t> out;
  auto it = faulty_replies_.find(std::make_pair(client, t));
  if (it == faulty_replies_.end()) return out;
  const MessageDigest digest = protocol::sha256(result);
  for (const auto& [replica, d] : it->second) {
    if (d == digest && std::find(out.begin(), out.end(), replica) == out.end()) out.push_back(replica);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void Checker::record_faulty_reply(ReplicaId sender, protocol::ByteView wire) {
  auto env = protocol::parse_envelope(wire);
  if (!env.ok() || env.value.kind != protocol::MessageKind::Reply) return;
  auto reply = protocol::decode_reply(env.value.body);
  if (!reply.ok()) return;
  const auto key = std::make_pair(reply.value.client, reply.value.timestamp);
  auto& senders = faulty_replies_[key];
  if (senders.size() < 2 * std::size_t{config_.n}) senders.emplace_back(sender, protocol::sha256(reply.value.result));
  // Bounded: the oldest requests go first (a wrong acceptance is judged soon after it).
  while (faulty_replies_.size() > kFaultyRepliesMax) faulty_replies_.erase(faulty_replies_.begin());
}

void Checker::on_sent(std::int64_t time_ns, ReplicaId sender, protocol::ByteView wire) {
  assert(sender < config_.n);
  evidence_.on_sent(sender, wire, faulty_[sender]);
  if (faulty_[sender]) {
    record_faulty_reply(sender, wire);
    return;
  }
  for (const DoubleVote& dv : evidence_.double_votes()) {
    const std::string what = std::string(claim_name(dv.kind)) +
                             (dv.kind == Claim::Checkpoint ? "" : " v=" + std::to_string(dv.view)) +
                             " n=" + std::to_string(dv.seq);
    violate({"double_vote", time_ns,
             "replica " + std::to_string(sender) + " sent " + what + " with digest " +
                 dv.first.short_hex() + " and then " + what + " with digest " + dv.second.short_hex() +
                 " (the second in: " + protocol::summarize(wire) + ")",
             {sender}, dv.seq, dv.first.short_hex(), dv.second.short_hex(), {}});
  }
}

// ---- agreement, validity, integrity ------------------------------------------------------

void Checker::on_execution(std::int64_t time_ns, ReplicaId replica, const protocol::Execution& ex) {
  if (is_faulty(replica)) return;
  if (ex.seq != last_seq_[replica] + 1) {
    violate({"integrity", time_ns,
             "replica " + std::to_string(replica) + " executed seq " + std::to_string(ex.seq) +
                 " right after seq " + std::to_string(last_seq_[replica]) + " (a gap or a repeat)",
             {replica}, ex.seq, std::to_string(last_seq_[replica] + 1), std::to_string(ex.seq), {}});
  }
  last_seq_[replica] = std::max(last_seq_[replica], ex.seq);
  check_requests(time_ns, replica, ex);
  check_quorum(time_ns, replica, Claim::Commit, ex.view, ex.seq, ex.batch_digest, "a commit certificate");
  auto [it, fresh] = canonical_.try_emplace(ex.seq);
  if (fresh) {
    check_own_digest(time_ns, replica, ex);
    it->second = Canonical{ex.batch_digest, replica, ex.requests};
  } else {
    check_same_execution(time_ns, replica, it->second, ex);
  }
  advance_reference(time_ns);
  trim();
}

// The first execution of a seq: the requests really executed must hash to the digest the
// replica agreed on (a replica that executes something else under an agreed digest would
// otherwise pass every comparison by digest).
void Checker::check_own_digest(std::int64_t time_ns, ReplicaId replica, const protocol::Execution& ex) {
  // Scratch buffers and one reused hash context: this runs for every sequence number.
  std::vector<MessageDigest>& digests = digests_scratch_;
  digests.clear();
  for (const auto& r : ex.requests) {
    protocol::encode_request_into(content_scratch_, r.client, r.client, r.timestamp, r.operation);
    digests.push_back(hasher_.digest(content_scratch_));  // request_digest(): SHA-256 of the content
  }
  const MessageDigest carried = protocol::batch_digest_with(hasher_, digests);
  if (carried == ex.batch_digest) return;
  violate({"agreement", time_ns,
           "replica " + std::to_string(replica) + " executed at seq " + std::to_string(ex.seq) +
               " requests that do not hash to the batch digest it agreed on",
           {replica}, ex.seq, "agreed " + ex.batch_digest.short_hex(),
           "executed " + describe(carried, ex.requests), culprits(ex.seq)});
}

void Checker::check_same_execution(std::int64_t time_ns, ReplicaId replica, const Canonical& canonical,
                                   const protocol::Execution& ex) {
  bool same = canonical.digest == ex.batch_digest && canonical.requests.size() == ex.requests.size();
  for (std::size_t i = 0; same && i < ex.requests.size(); ++i) same = same_request(canonical.requests[i], ex.requests[i]);
  if (same) return;
  const bool same_digest = canonical.digest == ex.batch_digest;
  violate({"agreement", time_ns,
           "replicas " + std::to_string(canonical.first) + " and " + std::to_string(replica) + " executed " +
               (same_digest ? "different requests under the same batch digest" : "different batches") +
               " at seq " + std::to_string(ex.seq),
           {canonical.first, replica}, ex.seq, describe(canonical.digest, canonical.requests),
           describe(ex.batch_digest, ex.requests), culprits(ex.seq)});
}

void Checker::check_requests(std::int64_t time_ns, ReplicaId replica, const protocol::Execution& ex) {
  for (const auto& r : ex.requests) {
    Bytes& issued_op = issued_scratch_;  // reused: this runs for every request at every replica
    if (!issued_(r.client, r.timestamp, issued_op) || issued_op != r.operation) {
      violate({"validity", time_ns,
               "replica " + std::to_string(replica) + " executed a request client " +
                   std::to_string(r.client) + " never issued (t=" + std::to_string(r.timestamp) + ")",
               {replica}, ex.seq, {}, {}, culprits(ex.seq)});
    }
    if (r.duplicate) continue;
    Timestamp& last = last_request_[replica][r.client];
    if (r.timestamp <= last) {
      violate({"integrity", time_ns,
               "replica " + std::to_string(replica) + " executed request (client " +
                   std::to_string(r.client) + ", t=" + std::to_string(r.timestamp) +
                   ") after already executing t=" + std::to_string(last),
               {replica}, ex.seq, std::to_string(last), std::to_string(r.timestamp), {}});
    }
    last = std::max(last, r.timestamp);
  }
}

// ---- client consistency ------------------------------------------------------------------

// Runs the agreed log, in order, on the reference service and matches each result with
// what the client accepted (whichever of the two comes first waits for the other). The
// replicas' own results must be the reference's too.
void Checker::advance_reference(std::int64_t time_ns) {
  for (auto it = canonical_.find(reference_seq_ + 1); it != canonical_.end();
       it = canonical_.find(reference_seq_ + 1)) {
    for (const auto& r : it->second.requests) {
      Timestamp& last = reference_last_[r.client];
      if (r.timestamp <= last) continue;
      last = r.timestamp;
      Bytes result = reference_.execute(r.operation);
      if (r.duplicate || r.result != result) {
        violate({"agreement", time_ns,
                 "replica " + std::to_string(it->second.first) + " executed (client " + std::to_string(r.client) +
                     ", t=" + std::to_string(r.timestamp) + ") at seq " + std::to_string(it->first) +
                     " with a result the agreed log, run on a reference service, does not give",
                 {it->second.first}, it->first, r.duplicate ? "skipped as a duplicate" : text(r.result),
                 text(result), {}});
      }
      const auto key = std::make_pair(r.client, r.timestamp);
      auto acc = accepted_.find(key);
      if (acc == accepted_.end()) {
        reference_results_[key] = std::move(result);
        continue;
      }
      if (acc->second.first != result) {
        violate({"client_consistency", acc->second.second,
                 "client " + std::to_string(r.client) + " accepted a result for t=" +
                     std::to_string(r.timestamp) + " that the agreed log does not produce",
                 {}, it->first, text(result), text(acc->second.first),
                 reply_culprits(r.client, r.timestamp, acc->second.first)});
      }
      accepted_.erase(acc);
    }
    reference_seq_++;
  }
}

void Checker::on_client_accept(std::int64_t time_ns, ClientId client, Timestamp t, const Bytes& result) {
  const auto key = std::make_pair(client, t);
  auto ref = reference_results_.find(key);
  if (ref == reference_results_.end()) {
    accepted_[key] = {result, time_ns};
    return;
  }
  if (ref->second != result) {
    violate({"client_consistency", time_ns,
             "client " + std::to_string(client) + " accepted a result for t=" + std::to_string(t) +
                 " that differs from the agreed log's",
             {}, std::nullopt, text(ref->second), text(result), reply_culprits(client, t, result)});
  }
  reference_results_.erase(ref);
}

// What is still waiting at the end: results clients accepted that the reference never
// reached. If a correct replica executed the request (the reference is held up by a seq no
// correct replica executed), its result is the best judge; if none did, the client accepted
// something only faulty replicas vouched for.
void Checker::finish(std::int64_t time_ns) {
  for (const auto& [key, accepted] : accepted_) {
    const auto& [client, t] = key;
    const protocol::ExecutedRequest* executed = nullptr;
    SequenceNumber seq = 0;
    for (const auto& [s, canonical] : canonical_) {
      for (const auto& r : canonical.requests) {
        if (r.client == client && r.timestamp == t && !r.duplicate) {
          executed = &r;
          seq = s;
        }
      }
    }
    if (executed != nullptr && executed->result == accepted.first) continue;
    violate({"client_consistency", accepted.second,
             "client " + std::to_string(client) + " accepted a result for t=" + std::to_string(t) +
                 (executed == nullptr ? " that no correct replica executed by the end of the run (" +
                                            std::to_string(time_ns / 1'000'000) + " ms)"
                                      : " that differs from what correct replicas executed"),
             {}, executed ? std::optional<std::uint64_t>(seq) : std::nullopt,
             executed ? text(executed->result) : "not executed", text(accepted.first),
             reply_culprits(client, t, accepted.first)});
  }
}

// ---- checkpoints -------------------------------------------------------------------------

void Checker::compare_checkpoint(std::int64_t time_ns, ReplicaId replica, SequenceNumber seq,
                                 const MessageDigest& digest, const char* how) {
  auto [it, fresh] = checkpoints_.try_emplace(seq, digest, replica);
  if (fresh || it->second.first == digest) return;
  violate({"agreement", time_ns,
           "replicas " + std::to_string(it->second.second) + " and " + std::to_string(replica) +
               " have different state digests at checkpoint " + std::to_string(seq) + " (the second " + how + ")",
           {it->second.second, replica}, seq, it->second.first.short_hex(), digest.short_hex(), culprits(seq)});
}

void Checker::on_checkpoint(std::int64_t time_ns, ReplicaId replica, SequenceNumber seq,
                            const MessageDigest& digest) {
  if (is_faulty(replica)) return;
  compare_checkpoint(time_ns, replica, seq, digest, "took it after executing");
  checkpoint_passed_[replica] = std::max(checkpoint_passed_[replica], seq);
  trim();
}

void Checker::on_state_transfer(std::int64_t time_ns, ReplicaId replica, SequenceNumber seq,
                                const MessageDigest& digest) {
  if (is_faulty(replica)) return;
  compare_checkpoint(time_ns, replica, seq, digest, "installed it by state transfer");
  last_seq_[replica] = std::max(last_seq_[replica], seq);
  checkpoint_passed_[replica] = std::max(checkpoint_passed_[replica], seq);
  // Not stable_: the replica made the checkpoint stable (CheckpointStable) on its own
  // certificate, which may come later in the same step and must still find its evidence.
  trim();
}

// X of a NEW-VIEW: the checkpoint its decision chose, which the replica makes its stable
// checkpoint although it may hold no CHECKPOINT for it. Its digest is compared like a
// transferred one; stable_ moves, since the replica now discards everything at or below
// `seq` and never needs that evidence again. last_seq_ and checkpoint_passed_ do not: the
// replica still has to reach `seq` by executing or by state transfer, which is checked then.
void Checker::on_checkpoint_adopted(std::int64_t time_ns, ReplicaId replica, SequenceNumber seq,
                                    const MessageDigest& digest) {
  if (is_faulty(replica)) return;
  compare_checkpoint(time_ns, replica, seq, digest, "adopted it from a NEW-VIEW");
  stable_[replica] = std::max(stable_[replica], seq);
  trim();
}

// ---- certificates ------------------------------------------------------------------------

std::string Checker::holdings_text(ReplicaId at, Claim kind, ViewNumber view, SequenceNumber seq,
                                   const MessageDigest& except) const {
  std::string s;
  for (const auto& h : evidence_.holdings(at, kind, view, seq)) {
    if (h.digest == except) continue;
    if (!s.empty()) s += "; ";
    s += h.digest.short_hex();
    s += " from ";
    s += list(h.senders);
  }
  return s.empty() ? "no other value" : s;
}

void Checker::check_quorum(std::int64_t time_ns, ReplicaId replica, Claim kind, ViewNumber view,
                           SequenceNumber seq, const MessageDigest& digest, const char* what) {
  if (evidence_.support_count(replica, kind, view, seq, digest) >= config_.quorum()) return;
  const auto senders = evidence_.support(replica, kind, view, seq, digest);
  const std::string key = std::string(claim_name(kind)) + (kind == Claim::Checkpoint ? "" : " v=" + std::to_string(view)) +
                          " n=" + std::to_string(seq) + " d=" + digest.short_hex();
  violate({"certificate", time_ns,
           "replica " + std::to_string(replica) + " acted on " + what + " for " + key + " but only " +
               std::to_string(senders.size()) + " distinct replicas really sent it a matching " +
               claim_name(kind) + " (a quorum is " + std::to_string(config_.quorum()) + ")",
           {replica}, seq, key + " from " + list(senders), holdings_text(replica, kind, view, seq, digest),
           culprits(seq)});
}

// prepared(m, v, n, i): the PRE-PREPARE from primary(v) and quorum - 1 matching PREPAREs
// from distinct backups (the primary's own PREPARE never counts).
void Checker::check_prepared(std::int64_t time_ns, ReplicaId replica, ViewNumber view, SequenceNumber seq,
                             const MessageDigest& digest) {
  const ReplicaId primary = config_.primary(view);
  const bool has_pp = evidence_.holds_from(replica, primary, Claim::PrePrepare, view, seq, digest);
  if (has_pp && evidence_.support_count(replica, Claim::Prepare, view, seq, digest, primary) + 1 >= config_.quorum()) {
    return;
  }
  auto prepares = evidence_.support(replica, Claim::Prepare, view, seq, digest);
  prepares.erase(std::remove(prepares.begin(), prepares.end(), primary), prepares.end());
  const std::string key = "v=" + std::to_string(view) + " n=" + std::to_string(seq) + " d=" + digest.short_hex();
  violate({"certificate", time_ns,
           "replica " + std::to_string(replica) + " acted on a prepared certificate for " + key + " but " +
               (has_pp ? "it holds the PRE-PREPARE and " : "it holds no such PRE-PREPARE from primary " +
                                                               std::to_string(primary) + ", and ") +
               "only " + std::to_string(prepares.size()) + " matching PREPAREs really sent by distinct backups (" +
               std::to_string(config_.quorum() - 1) + " needed)",
           {replica}, seq, "PREPARE " + key + " from " + list(prepares),
           "other PREPAREs it holds: " + holdings_text(replica, Claim::Prepare, view, seq, digest),
           culprits(seq)});
}

void Checker::on_vote_sent(std::int64_t time_ns, ReplicaId replica, protocol::MessageKind kind, ViewNumber view,
                           SequenceNumber seq, const MessageDigest& digest) {
  assert(replica < config_.n);
  const auto key = std::make_tuple(seq, replica, static_cast<std::uint8_t>(kind), view);
  auto [it, fresh] = sent_votes_.try_emplace(key, digest);
  if (fresh || it->second == digest) return;
  violate({"amnesia", time_ns,
           "replica " + std::to_string(replica) + " sent two " + protocol::message_kind_name(kind) +
               "s for view " + std::to_string(view) + ", seq " + std::to_string(seq) +
               " with different digests (it forgot its vote across a restart)",
           {replica}, seq, it->second.short_hex(), digest.short_hex(), {}});
}

void Checker::on_prepared_certificate(std::int64_t time_ns, ReplicaId replica, ViewNumber view, SequenceNumber seq,
                                      const MessageDigest& digest) {
  if (is_faulty(replica)) return;
  check_prepared(time_ns, replica, view, seq, digest);
}

void Checker::on_checkpoint_certificate(std::int64_t time_ns, ReplicaId replica, SequenceNumber seq,
                                        const MessageDigest& digest) {
  if (is_faulty(replica)) return;
  check_quorum(time_ns, replica, Claim::Checkpoint, 0, seq, digest, "a checkpoint certificate");
}

void Checker::on_stable_checkpoint(std::int64_t time_ns, ReplicaId replica, SequenceNumber seq,
                                   const MessageDigest& digest) {
  if (is_faulty(replica)) return;
  check_quorum(time_ns, replica, Claim::Checkpoint, 0, seq, digest, "a stable checkpoint");
  stable_[replica] = std::max(stable_[replica], seq);
  trim();
}

// A NEW-VIEW is installed only with VIEW-CHANGEs for its view from a quorum of distinct
// replicas (V), which the replica must have received: V names them by digest, so each one
// reached it as a wire of its own, from its sender or relayed unchanged by another replica.
void Checker::on_view_entered(std::int64_t time_ns, ReplicaId replica, ViewNumber view) {
  if (is_faulty(replica)) return;
  const auto senders = evidence_.view_change_support(replica, view);
  if (senders.size() < config_.quorum()) {
    const std::string key = "VIEW-CHANGE v=" + std::to_string(view);
    violate({"certificate", time_ns,
             "replica " + std::to_string(replica) + " entered view " + std::to_string(view) +
                 " but only " + std::to_string(senders.size()) +
                 " distinct replicas really sent it a VIEW-CHANGE for that view (a quorum is " +
                 std::to_string(config_.quorum()) + ")",
             {replica}, std::nullopt, key + " from " + list(senders), "a quorum of VIEW-CHANGEs", {}});
  }
  view_[replica] = std::max(view_[replica], view);
  trim();
}

// ---- memory ------------------------------------------------------------------------------

// Drops what every correct replica (and the reference) has passed.
void Checker::trim() {
  constexpr SequenceNumber kNone = std::numeric_limits<SequenceNumber>::max();
  SequenceNumber executed = reference_seq_, passed = kNone, stable = kNone, stable_max = 0;
  ViewNumber view = kNone;
  for (ReplicaId r = 0; r < config_.n; ++r) {
    if (faulty_[r]) continue;
    view = std::min(view, view_[r]);
    executed = std::min(executed, last_seq_[r]);
    passed = std::min(passed, checkpoint_passed_[r]);
    stable = std::min(stable, stable_[r]);
    stable_max = std::max(stable_max, stable_[r]);
  }
  canonical_.erase(canonical_.begin(), canonical_.upper_bound(executed));
  checkpoints_.erase(checkpoints_.begin(), passed == kNone ? checkpoints_.end() : checkpoints_.upper_bound(passed));
  evidence_.forget_through(stable == kNone ? 0 : stable);
  evidence_.set_horizon(stable_max + kEvidenceWindows * config_.log_window);
  // A replica in view v never installs a NEW-VIEW for v or below again.
  if (view != kNone) evidence_.forget_views_below(view + 1);
  // Votes are kept two windows below what every correct replica executed: a restarted
  // replica starts from an empty window and could vote again where the others have passed.
  const SequenceNumber keep = executed > 2 * config_.log_window ? executed - 2 * config_.log_window : 0;
  sent_votes_.erase(sent_votes_.begin(),
                    sent_votes_.lower_bound(std::make_tuple(keep + 1, ReplicaId{0}, std::uint8_t{0}, ViewNumber{0})));
}

std::size_t Checker::held() const {
  return canonical_.size() + checkpoints_.size() + reference_results_.size() + accepted_.size() +
         evidence_.held() + sent_votes_.size();
}

}  // namespace oracles
