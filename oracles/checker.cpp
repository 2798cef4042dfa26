#include "oracles/checker.h"

#include <algorithm>
#include <cassert>

namespace oracles {

Checker::Checker(const protocol::PbftConfig& config, IssuedOperation issued)
    : config_(config),
      issued_(std::move(issued)),
      last_seq_(config.n, 0),
      last_request_(config.n) {
  assert(config_.n >= 1);
  assert(issued_);
}

void Checker::mark_faulty(ReplicaId replica) {
  assert(replica < config_.n);
  faulty_.insert(replica);
}

void Checker::violate(reports::Violation v) {
  const std::string key = v.invariant + "/" + std::to_string(v.seq.value_or(0)) + "/" +
                          (v.replicas.empty() ? "" : std::to_string(v.replicas.back()));
  if (!reported_.insert(key).second) return;
  if (violations_.size() < 1000) violations_.push_back(std::move(v));  // bounded report
}

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
  auto [it, fresh] = canonical_.try_emplace(ex.seq);
  if (fresh) {
    it->second = Canonical{ex.batch_digest, replica, ex.requests};
  } else if (it->second.digest != ex.batch_digest) {
    violate({"agreement", time_ns,
             "replicas " + std::to_string(it->second.first) + " and " + std::to_string(replica) +
                 " executed different batches at seq " + std::to_string(ex.seq),
             {it->second.first, replica}, ex.seq, it->second.digest.short_hex(),
             ex.batch_digest.short_hex(), culprits(ex.seq)});
  }
  advance_reference();
  trim();
}

void Checker::check_requests(std::int64_t time_ns, ReplicaId replica, const protocol::Execution& ex) {
  for (const auto& r : ex.requests) {
    Bytes& issued_op = issued_scratch_;  // reused: this runs for every request at every replica
    if (!issued_(r.client, r.timestamp, issued_op) || issued_op != r.operation) {
      violate({"validity", time_ns,
               "replica " + std::to_string(replica) + " executed a request client " +
                   std::to_string(r.client) + " never issued (t=" + std::to_string(r.timestamp) + ")",
               {replica}, ex.seq, {}, {}, {}});
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

// Runs the agreed log, in order, on the reference service and matches each result with
// what the client accepted (whichever of the two comes first waits for the other).
void Checker::advance_reference() {
  for (auto it = canonical_.find(reference_seq_ + 1); it != canonical_.end();
       it = canonical_.find(reference_seq_ + 1)) {
    for (const auto& r : it->second.requests) {
      Timestamp& last = reference_last_[r.client];
      if (r.timestamp <= last) continue;
      last = r.timestamp;
      Bytes result = reference_.execute(r.operation);
      const auto key = std::make_pair(r.client, r.timestamp);
      auto acc = accepted_.find(key);
      if (acc == accepted_.end()) {
        reference_results_[key] = std::move(result);
        continue;
      }
      if (acc->second != result) {
        violate({"client_consistency", 0,
                 "client " + std::to_string(r.client) + " accepted a result for t=" +
                     std::to_string(r.timestamp) + " that the agreed log does not produce",
                 {}, it->first, std::string(result.begin(), result.end()),
                 std::string(acc->second.begin(), acc->second.end()), {}});
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
    accepted_[key] = result;
    return;
  }
  if (ref->second != result) {
    violate({"client_consistency", time_ns,
             "client " + std::to_string(client) + " accepted a result for t=" + std::to_string(t) +
                 " that differs from the agreed log's",
             {}, std::nullopt, std::string(ref->second.begin(), ref->second.end()),
             std::string(result.begin(), result.end()), {}});
  }
  reference_results_.erase(ref);
}

void Checker::on_state_transfer(std::int64_t time_ns, ReplicaId replica, SequenceNumber seq) {
  (void)time_ns;
  if (is_faulty(replica)) return;
  last_seq_[replica] = std::max(last_seq_[replica], seq);
  trim();
}

void Checker::on_checkpoint(std::int64_t time_ns, ReplicaId replica, SequenceNumber seq,
                            const MessageDigest& digest) {
  if (is_faulty(replica)) return;
  auto [it, fresh] = checkpoints_.try_emplace(seq, digest, replica);
  if (!fresh && it->second.first != digest) {
    violate({"agreement", time_ns,
             "replicas " + std::to_string(it->second.second) + " and " + std::to_string(replica) +
                 " have different state digests at checkpoint " + std::to_string(seq),
             {it->second.second, replica}, seq, it->second.first.short_hex(), digest.short_hex(),
             culprits(seq)});
  }
}

void Checker::on_certificate(std::int64_t time_ns, ReplicaId replica, const protocol::Note& note) {
  if (is_faulty(replica) || note.count >= config_.quorum()) return;
  violate({"certificate", time_ns,
           "replica " + std::to_string(replica) + " acted on a certificate of " +
               std::to_string(note.count) + " messages; a quorum is " +
               std::to_string(config_.quorum()),
           {replica}, note.b, {}, {}, {}});
}

void Checker::on_faulty_vote(ReplicaId replica, ViewNumber view, SequenceNumber seq,
                             const MessageDigest& digest) {
  auto& votes = faulty_votes_[{seq, replica}];
  if (votes.size() < 16) votes.insert({view, digest});
}

// Faulty replicas that signed two different digests for one sequence number.
std::vector<std::uint32_t> Checker::culprits(SequenceNumber seq) const {
  std::vector<std::uint32_t> out;
  for (auto it = faulty_votes_.lower_bound({seq, 0}); it != faulty_votes_.end() && it->first.first == seq; ++it) {
    std::set<MessageDigest> digests;
    for (const auto& [view, digest] : it->second) digests.insert(digest);
    if (digests.size() > 1) out.push_back(it->first.second);
  }
  return out;
}

// Drops what every correct replica (and the reference) has passed.
void Checker::trim() {
  SequenceNumber low = reference_seq_;
  for (ReplicaId r = 0; r < config_.n; ++r) {
    if (!is_faulty(r)) low = std::min(low, last_seq_[r]);
  }
  canonical_.erase(canonical_.begin(), canonical_.upper_bound(low));
  checkpoints_.erase(checkpoints_.begin(), checkpoints_.upper_bound(low));
  faulty_votes_.erase(faulty_votes_.begin(), faulty_votes_.lower_bound({low + 1, 0}));
}

std::size_t Checker::held() const {
  return canonical_.size() + checkpoints_.size() + reference_results_.size() + accepted_.size() +
         faulty_votes_.size();
}

}  // namespace oracles
