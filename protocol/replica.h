// A PBFT replica (Castro & Liskov, OSDI '99 §4; TOCS '02) as a pure state machine.
//
// The host calls step() with one Input (a message or a timer expiry) and drains the Outbox.
// step() does the checks every message needs (framing, authentication, sender role) in one
// place and then dispatches to on_request / on_pre_prepare / on_prepare / on_commit /
// on_checkpoint / on_view_change / on_new_view / on_fetch_state / on_state_reply. Every
// refused input is counted by reason and reported in the Outbox; nothing a peer sends can
// make a replica crash or throw. check_invariants() runs after every step.
//
// Memory is bounded by the window: the log is a ring of log_window slots indexed by
// seq % log_window, and everything at or below the stable checkpoint is discarded.
#pragma once
#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "protocol/config.h"
#include "protocol/crypto.h"
#include "protocol/defects.h"
#include "protocol/io.h"
#include "protocol/message.h"
#include "protocol/service.h"
#include "protocol/view_change_decision.h"

namespace protocol {

struct ReplicaStats {
  std::array<std::uint64_t, kRejectReasons> rejected{};
  std::uint64_t duplicates = 0;          // a message already seen, ignored
  std::uint64_t batches_executed = 0;
  std::uint64_t requests_executed = 0;
  std::uint64_t view_changes_started = 0;
  std::uint64_t state_transfers = 0;
  std::uint64_t checkpoints_stable = 0;
  std::uint64_t rejected_total() const;
};

class Replica {
 public:
  // `recovering`: the replica restarted with no state (crash with amnesia). It stays
  // passive (sends no PRE-PREPARE, PREPARE, COMMIT or VIEW-CHANGE) until the group's stable
  // checkpoint has moved a full window past the first one it learns of, so it can never
  // vote twice for a sequence number it may have voted on before the crash.
  // `defect`: a planted defect (protocol/defects.h); Defect::None outside a defects build.
  Replica(const PbftConfig& config, ReplicaId self, const KeyRing& keys, bool recovering,
          Defect defect = Defect::None);
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  // The one entry point. REQUIRES: config was valid.
  void step(const Input& input, Outbox& out);

  ReplicaId id() const { return self_; }
  ViewNumber view() const { return view_; }
  bool in_view_change() const { return status_ == Status::ViewChange; }
  bool passive() const { return passive_; }
  bool is_primary() const { return config_.primary(view_) == self_ && status_ == Status::Normal; }
  SequenceNumber last_executed() const { return last_executed_; }
  SequenceNumber low_watermark() const { return stable_seq_; }
  SequenceNumber high_watermark() const { return stable_seq_ + config_.log_window; }
  MessageDigest stable_digest() const { return stable_digest_; }
  const KvService& service() const { return service_; }
  const ReplicaStats& stats() const { return stats_; }
  const CryptoCounters& crypto_counters() const { return crypto_->counters(); }
  // Digest of the current service state and client reply table (what a checkpoint at
  // last_executed() would carry).
  MessageDigest current_state_digest() const;
  // Log entries holding a sequence number, own checkpoints kept, early messages buffered.
  std::size_t log_entries() const { return log_entries_; }
  std::size_t checkpoints_kept() const { return own_checkpoints_.size(); }
  std::size_t buffered() const { return early_.size(); }
  std::size_t buffered_bytes() const { return early_bytes_; }
  // Asserts the replica's invariants (window, ordering, bounds). step() runs the O(1) part
  // after every step and the whole check, O(log_window), periodically; see replica.cpp.
  void check_invariants() const;
  void check_invariants_full() const;

 private:
  enum class Status : std::uint8_t { Normal, ViewChange };

  struct VoteRecord {
    bool present = false;
    ViewNumber view = 0;
    MessageDigest digest;
  };

  // One sequence number's state within the window.
  struct Slot {
    SequenceNumber seq = 0;  // 0 = free
    bool has_pre_prepare = false;
    ViewNumber pp_view = 0;
    MessageDigest digest;
    Bytes pre_prepare_wire;
    std::vector<ConsensusRequest> requests;
    // Indexed by replica; views into the replica's flat vote arrays (set once, kept when
    // the slot is reused), so a window of slots is two allocations, not 2 x log_window.
    std::span<VoteRecord> prepares;
    std::span<VoteRecord> commits;
    Bytes own_prepare_wire;          // our PREPARE and COMMIT, re-sent to a replica that
    Bytes own_commit_wire;           // lost them (STATUS)
    std::uint32_t prepare_matches = 0;
    std::uint32_t commit_matches = 0;
    bool sent_prepare = false;
    bool sent_commit = false;
    bool prepared = false;
    bool committed = false;
    // VIEW-CHANGE's P entry for this seq: the request that prepared here in the highest view.
    bool has_p = false;
    ViewNumber p_view = 0;
    MessageDigest p_digest;
    // VIEW-CHANGE's Q for this seq is the accepted PRE-PREPARE above (its digest at pp_view)
    // and these: other digests accepted here in earlier views, each with the latest view and
    // a PRE-PREPARE carrying its batch (a new primary may choose it and ask for the batch).
    struct PrePrepared {
      ViewNumber view = 0;
      MessageDigest digest;
      Bytes wire;
    };
    std::vector<PrePrepared> older_pre_prepares;  // at most kOlderPrePreparesMax
    // A PRE-PREPARE whose batch hashes to its digest but holds a request whose authenticator
    // entry for us is broken (a faulty client's "big MAC", or a primary that
    // strips entries per receiver). Held until f+1 replicas vouch for it (accept_held).
    bool has_held = false;
    ViewNumber held_view = 0;
    MessageDigest held_digest;
    Bytes held_wire;
  };

  // The last reply per client. Part of the checkpointed state, so it holds nothing that
  // may differ between correct replicas (not the view a request executed in).
  struct ReplyRecord {
    Timestamp timestamp = 0;
    Bytes result;
  };

  struct KnownRequest {
    Bytes wire;
    ConsensusRequest request;
    bool assigned = false;  // in a PRE-PREPARE of the current view (primary only)
    std::uint64_t arrival = 0;  // order in which this replica learned of it (request timer)
  };
  using RequestKey = std::pair<ClientId, Timestamp>;
  using KnownRequests = std::map<RequestKey, KnownRequest>;
  // known_requests_ with recycled map nodes: every replica adds and removes an entry for
  // every request, so nodes, and the buffers inside them, are reused rather than
  // reallocated. The map's contents and order are exactly those of plain insert/erase.
  KnownRequest& known_insert(const RequestKey& key, bool& fresh);
  void known_erase(KnownRequests::iterator first, KnownRequests::iterator last);

  struct CheckpointVote {
    bool present = false;
    SequenceNumber seq = 0;
    MessageDigest digest;
    Bytes wire;
  };

  struct OwnCheckpoint {
    MessageDigest digest;
    Bytes snapshot;
  };

  // A VIEW-CHANGE that authenticates for us and is well formed. At the new primary it is
  // `accepted` (may enter the decision) once VIEW-CHANGE-ACKs from quorum - 2 other
  // replicas name its digest: with its sender and the primary they make a quorum, so a
  // correct replica vouches that the others can get the very same message.
  struct ValidViewChange {
    ReplicaId sender = 0;
    ViewChange body;
    Bytes wire;
    MessageDigest digest;  // view_change_digest() of its content
    bool accepted = false;
  };

  // ---- replica.cpp: dispatch, sending, timers, invariants ----
  void on_wire(NodeId from, ByteView wire);
  void on_timer(TimerKind kind);
  void reject(RejectReason reason, NodeId from, MessageKind kind);
  void multicast(Bytes&& content, MessageKind kind);
  void send_to(NodeId to, Bytes&& content, MessageKind kind);
  void set_timer(TimerKind kind, std::int64_t delay_ns);
  void cancel_timer(TimerKind kind);
  bool in_window(SequenceNumber seq) const;
  bool may_vote() const { return !passive_ && status_ == Status::Normal; }
  // A replica that may not vote (recovering, or waiting in a view change) still follows the
  // group: it records PRE-PREPAREs and votes of lower views and executes on a commit
  // certificate. It never returns to voting in a view it has left.
  bool observing() const { return !may_vote(); }
  // The ring slot of a sequence number in the window: seq % log_window, computed from the
  // window's base without a division (this runs several times per message).
  std::size_t ring_index(SequenceNumber seq) const {
    std::size_t i = ring_base_ + static_cast<std::size_t>(seq - stable_seq_ - 1);
    if (i >= log_.size()) i -= log_.size();
    return i;
  }
  Slot& slot_for(SequenceNumber seq);
  void check_slot(const Slot& slot) const;
  // A buffer for an outgoing message, with capacity from the host's spares.
  Bytes new_buffer() { return out_->take_buffer(); }
  const Slot* find_slot(SequenceNumber seq) const;
  // Decodes an embedded wire message, checks its framing, kind and authentication for
  // this replica. Returns its envelope (pointing into `wire`) or nullopt.
  std::optional<Envelope> open_embedded(ByteView wire, MessageKind kind);

  // ---- replica_normal.cpp: requests, the three phases, execution ----
  // content_digest: SHA-256 of the content if authentication computed it (MAC mode).
  void on_request(NodeId from, const Envelope& env, const std::optional<MessageDigest>& content_digest);
  void on_pre_prepare(const Envelope& env);
  void on_vote(const Envelope& env);
  // Opens every request of a batch into `out` (resized; its elements' buffers are reused).
  bool decode_batch(std::span<const ByteView> wires, std::vector<ConsensusRequest>& out,
                    bool authenticate = true);
  bool decode_batch(const PrePrepare& pp, std::vector<ConsensusRequest>& out);
  // `authenticate` = false only for batches whose digest is certified (decode_batch_as).
  bool decode_batch_as(const PrePrepare& pp, std::vector<ConsensusRequest>& out, bool authenticate);
  MessageDigest digest_of_batch(const std::vector<ConsensusRequest>& requests);
  // Resizes to `count`, growing with spare elements (their buffers) before new ones.
  void resize_requests(std::vector<ConsensusRequest>& requests, std::size_t count);
  // Opens a REQUEST wire message (framing, client sender and, when `authenticate`, its
  // authenticator for this replica) into `out`, reusing its buffer.
  bool open_request(ByteView wire, ConsensusRequest& out, bool authenticate = true);
  void send_reply(ClientId client, Timestamp t, const Bytes& result);
  void accept_pre_prepare(Slot& slot, const PrePrepare& pp, ByteView wire,
                          std::vector<ConsensusRequest>&& requests);
  // Accepts a PRE-PREPARE for slot (checked by the caller). `requests` is swapped into the
  // slot: the caller gets the slot's previous vector back, to reuse its buffers.
  void accept_batch(Slot& slot, ViewNumber view, SequenceNumber seq, const MessageDigest& digest,
                    std::span<const ByteView> request_wires, ByteView wire,
                    std::vector<ConsensusRequest>& requests);
  // Keeps the slot's current PRE-PREPARE in Q's older entries before another digest replaces it.
  void keep_older_pre_prepare(Slot& slot);
  static constexpr std::size_t kOlderPrePreparesMax = 4;
  void recount(Slot& slot);
  // Multicasts our PREPARE for the slot's PRE-PREPARE and counts it. REQUIRES: we have not
  // sent one for the slot's view.
  void send_prepare(Slot& slot);
  void hold_pre_prepare(const Envelope& env, const PrePrepareView& pp);
  bool accept_held(Slot& slot);
  void buffer_ahead(const Envelope& env, SequenceNumber seq);
  // Keeps a message for later within its sender's share of early_; counts a refusal.
  void buffer_early(const Envelope& env);
  // For a message naming `view` that is ahead of this replica (or ours while we change view):
  // whether it is close enough to keep (kEarlyViewsAhead).
  bool early_view_in_reach(ViewNumber view) const { return view - view_ <= kEarlyViewsAhead; }
  bool digest_matches(const MessageDigest& vote, const MessageDigest& accepted) const;
  void advance_slot(Slot& slot);
  void try_execute();
  void execute_slot(Slot& slot);
  void issue_batches();
  void issue_one_batch();
  void update_request_timer(bool executed_something);
  std::int64_t view_change_timeout_ns() const;
  static std::int64_t saturating_shift(std::int64_t base_ns, std::uint32_t doublings);
  static constexpr std::int64_t kTimeoutMaxNs = std::int64_t{1} << 56;  // about 2.3 years
  static constexpr std::uint32_t kRetransmitDoublingsMax = 6;

  // ---- replica_status.cpp: retransmission of lost messages (STATUS) ----
  bool stuck_candidate() const;
  SequenceNumber status_low_mark() const;
  std::int64_t status_interval_ns() const;
  void update_status_timer();
  void on_status_timer();
  void on_status(const Envelope& env);
  protocol::Status build_status(std::uint8_t flags, SequenceNumber low_mark) const;
  std::uint8_t held_bits(SequenceNumber seq) const;
  static std::uint8_t status_slot(const protocol::Status& st, SequenceNumber seq);
  bool status_shows_more(const protocol::Status& st) const;
  static bool status_holds_view_change(const protocol::Status& st, ReplicaId replica);
  void retransmit_slots(ReplicaId to, const protocol::Status& st);

  // ---- replica_checkpoint.cpp: checkpoints, garbage collection, state transfer ----
  void take_checkpoint(SequenceNumber seq);
  void on_checkpoint(const Envelope& env);
  void record_checkpoint_vote(ReplicaId from, const Checkpoint& cp, ByteView wire);
  void check_checkpoint_quorum(SequenceNumber seq, const MessageDigest& digest);
  std::vector<Bytes> checkpoint_certificate(SequenceNumber seq, const MessageDigest& digest) const;
  void make_stable(SequenceNumber seq, const MessageDigest& digest, std::vector<Bytes>&& proof);
  // Moves the low watermark to `seq` without a quorum certificate: the NEW-VIEW's decision
  // chose it (f+1 VIEW-CHANGEs list it, so a correct replica holds that state).
  void adopt_checkpoint(SequenceNumber seq, const MessageDigest& digest);
  void advance_low_watermark(SequenceNumber seq, const MessageDigest& digest);
  void fetch_pending_checkpoint();
  void collect_garbage();
  void add_to_stable_proof(ReplicaId sender, ByteView wire);
  void start_state_transfer(SequenceNumber seq, const MessageDigest& digest,
                            std::vector<Bytes>&& proof);
  // The same with the peers to ask given (they hold the checkpoint: their VIEW-CHANGEs list it).
  void start_state_transfer_from(SequenceNumber seq, const MessageDigest& digest,
                                 std::vector<Bytes>&& proof, std::vector<ReplicaId> candidates);
  void send_fetch();
  void on_fetch_state(const Envelope& env);
  void on_state_reply(const Envelope& env);
  Bytes snapshot() const;
  bool restore(ByteView snapshot);

  // ---- replica_view_change.cpp: VIEW-CHANGE, VIEW-CHANGE-ACK, timers, retransmission ----
  void start_view_change(ViewNumber new_view);
  ViewChange build_view_change(ViewNumber new_view) const;
  // `from`: who handed it to us; a relayed copy (from another replica) is no ask for help.
  void on_view_change(NodeId from, const Envelope& env);
  void on_view_change_ack(const Envelope& env);
  // Tells the primary of `view` we hold `vc` (unless one of us is its sender or the primary).
  void send_view_change_ack(ViewNumber view, const ValidViewChange& vc);
  // At the primary of `view`: marks accepted the VIEW-CHANGEs whose acks now make a quorum.
  void update_accepted(ViewNumber view);
  std::uint32_t accepted_view_changes(ViewNumber view) const;
  // The VIEW-CHANGE we hold from `sender` for `view` if its wire is exactly `wire`.
  const ValidViewChange* held_view_change(ViewNumber view, ReplicaId sender, ByteView wire) const;
  // The same for a VIEW-CHANGE just received (a retransmission of one we hold), or nullptr.
  const ValidViewChange* held_view_change_wire(const Envelope& env) const;
  // Whether the NEW-VIEW we wait on (pending_new_view_) is for `view` and names (sender, digest).
  bool pending_names(ViewNumber view, ReplicaId sender, const MessageDigest& digest) const;

  void maybe_join_higher_view();
  void on_view_change_timer();
  void note_view_change_quorum();
  // `paced`: the ask is a STATUS, which goes out only after a quiet interval: answer at once.
  // `st`, if given, says which VIEW-CHANGEs the laggard holds: the ones our NEW-VIEW names
  // that it lacks are relayed with it.
  void help_laggard(ReplicaId sender, ViewNumber wanted_view, bool paced = false,
                    const protocol::Status* st = nullptr);
  std::int64_t retransmit_interval_ns(std::uint32_t retransmits) const;

  // ---- replica_new_view.cpp: the NEW-VIEW: sending it, checking it, installing the view ----
  void maybe_send_new_view();
  void on_new_view(const Envelope& env);
  enum class NewViewCheck : std::uint8_t { Accept, Pending, Reject };
  // Checks a NEW-VIEW against the VIEW-CHANGEs it names (Pending: we lack some of them) and
  // against our own run of the decision procedure; fills `decision` and `named` (the named
  // VIEW-CHANGEs' wires) when it accepts.
  NewViewCheck check_new_view(const NewView& nv, NewViewDecision& decision, std::vector<Bytes>& named,
                              std::vector<ReplicaId>& holders);
  // A NEW-VIEW we could not check yet for lack of VIEW-CHANGEs: looked at again as they come.
  void retry_pending_new_view();
  // `holders`: the senders of VIEW-CHANGEs that list the decision's checkpoint in C.
  void install_new_view(ViewNumber view, const NewViewDecision& decision, const std::vector<ReplicaId>& holders,
                        const std::vector<Bytes>& o_wires, std::vector<Bytes>&& named);
  // Makes the decision's checkpoint our low watermark: stable if we hold its certificate,
  // else adopted on the word of the f+1 VIEW-CHANGEs that list it, fetching the state if needed.
  void install_checkpoint(const NewViewDecision& decision, const std::vector<ReplicaId>& holders);
  void reset_proposals_for_view();
  // A PRE-PREPARE (of any view) we hold for (seq, digest), with its batch; nullptr if none.
  const Bytes* find_batch(SequenceNumber seq, const MessageDigest& digest) const;
  void on_fetch_batch(const Envelope& env);
  void on_batch(const Envelope& env);
  // Hands the messages buffered in early_ to on_wire again, each through the ordinary checks
  // (those that still do not fit are buffered again). Runs only from step(), after the
  // handler: a handler that moves the window or enters a view sets replay_due_, so no
  // handler ever runs inside another and a view is installed whole before any message of
  // it is looked at.
  void replay_early();
  bool replay_due_ = false;
  // O's PRE-PREPAREs beyond our window when the NEW-VIEW was installed (we kept a certified
  // checkpoint below the one it chose): laid, before the early messages, once the window
  // reaches them. At most one NEW-VIEW's O (log_window entries).
  void lay_deferred_o();
  std::vector<Bytes> deferred_o_;
  static constexpr std::uint32_t kReplayPassesMax = 4;  // per step; the rest waits for the next

  // ---- state ----
  PbftConfig config_;
  ReplicaId self_;
  Defect defect_;  // planted(defect_, ...) is constexpr false outside a defects build
  std::unique_ptr<NodeCrypto> crypto_;
  Outbox* out_ = nullptr;
  ReplicaStats stats_;

  Status status_ = Status::Normal;
  ViewNumber view_ = 0;
  std::uint32_t view_change_attempts_ = 0;  // consecutive; doubles the timeout, reset by an execution in the view
  static constexpr std::uint32_t kAttemptsMax = 16;  // T * 2^16 at most
  // No VIEW-CHANGE or NEW-VIEW may name the last view number: view_ + 1 never wraps, so a
  // view change can always start. (A correct group gets there only after 2^64 - 1 views.)
  static constexpr ViewNumber kViewMax = ~ViewNumber{0};
  bool executed_in_view_ = false;
  SequenceNumber reproposed_high_ = 0;  // executed seqs a NEW-VIEW may have proposed again (status_low_mark)
  bool passive_ = false;
  SequenceNumber passive_horizon_ = 0;      // 0: not yet known

  SequenceNumber next_seq_ = 1;             // primary: next sequence number to assign
  SequenceNumber last_executed_ = 0;
  std::vector<Slot> log_;                   // ring, log_window slots
  std::vector<VoteRecord> prepare_votes_;   // log_window x n, slot-major (Slot::prepares)
  std::vector<VoteRecord> commit_votes_;    // log_window x n (Slot::commits)
  std::size_t log_entries_ = 0;             // slots holding a sequence number
  std::size_t ring_base_ = 1;               // (stable_seq_ + 1) % log_window
  const Slot* touched_ = nullptr;           // the slot this step last took (checked after it)
  std::uint64_t steps_ = 0;
  bool full_check_due_ = false;

  KvService service_;
  std::map<ClientId, ReplyRecord> replies_;  // part of the checkpointed state
  KnownRequests known_requests_;
  // Pending requests one client may have here. A PBFT client has one request
  // outstanding (OSDI '99 §4.1), and a request leaves this table when it or a later one of
  // its client executes; the margin covers a replica well behind the others (the client
  // moves on once f+1 replies came) and drivers that pipeline one client's timestamps.
  // Without it one client could fill request_queue_max (and about 65536 x 2 x 64 KiB of
  // memory) and have every other client's request refused.
  static constexpr std::uint32_t kKnownRequestsPerClientMax = 64;
  bool client_at_bound(ClientId client) const;
  std::vector<KnownRequests::node_type> spare_known_;  // bounded in known_erase
  std::deque<RequestKey> proposal_queue_;    // primary: arrival order

  MessageDigest genesis_digest_;  // the empty state's digest: checkpoint 0, stable everywhere
  SequenceNumber stable_seq_ = 0;
  MessageDigest stable_digest_;
  std::vector<Bytes> stable_proof_;
  std::map<SequenceNumber, OwnCheckpoint> own_checkpoints_;
  std::map<SequenceNumber, std::vector<CheckpointVote>> checkpoint_votes_;  // in window
  std::vector<CheckpointVote> latest_checkpoint_;  // by replica: newest one seen

  // A certified checkpoint ahead of this replica's execution that it may still reach by
  // executing; if it has not when the StateFetch timer fires, it fetches the state.
  SequenceNumber pending_seq_ = 0;
  MessageDigest pending_digest_;
  std::vector<Bytes> pending_proof_;
  bool executed_this_step_ = false;
  RequestKey timed_request_{};  // the request the request timer waits for (update_request_timer)
  std::uint64_t arrivals_ = 0;  // requests learned of so far (KnownRequest::arrival)

  // State transfer in progress (fetch_seq_ == 0: none).
  SequenceNumber fetch_seq_ = 0;
  MessageDigest fetch_digest_;
  std::vector<Bytes> fetch_proof_;
  std::vector<ReplicaId> fetch_candidates_;
  std::uint32_t fetch_next_ = 0;
  // A STATE-REPLY is looked at (hashed, up to kStateBytesMax) only from a peer we
  // sent a FETCH-STATE for this transfer and only once per FETCH-STATE, and only a bad reply
  // from the peer asked last moves on at once: junk replies cannot turn into a flood of
  // FETCH-STATEs to correct replicas. Those answer each asker at most
  // kStateRepliesPerAskerMax times per stable checkpoint and per view of theirs, so a faulty asker cannot
  // draw snapshot after snapshot; a correct one rotates over the certificate's senders.
  std::vector<bool> fetch_awaiting_;  // by replica
  ReplicaId fetch_asked_last_ = 0;
  static constexpr std::uint8_t kStateRepliesPerAskerMax = 8;
  std::vector<std::uint8_t> state_replies_sent_;  // by replica, since our last stable checkpoint or view

  // View change: valid VIEW-CHANGEs received, by view then sender.
  std::map<ViewNumber, std::map<ReplicaId, ValidViewChange>> view_changes_;
  bool new_view_sent_ = false;
  // In a view change: a quorum of VIEW-CHANGEs for view_ arrived, so the new-view timer runs
  // (§4.5.2); and whether this replica already re-sent its VIEW-CHANGE once since then.
  bool view_change_quorum_ = false;
  bool asked_for_new_view_ = false;
  // Retransmission (the paper assumes lost messages are eventually re-sent): this replica's
  // own recent VIEW-CHANGEs by view, and the NEW-VIEW that installed view_ (empty in view 0
  // or when the view was learned otherwise), re-sent to a replica that shows it missed them.
  static constexpr std::size_t kOwnViewChangesKept = 4;
  static constexpr std::uint32_t kViewChangesPerSender = 4;  // in view_changes_
  std::map<ViewNumber, Bytes> own_view_changes_;
  Bytes new_view_wire_;
  std::vector<Bytes> new_view_named_;  // the VIEW-CHANGEs new_view_wire_ names, relayed to laggards
  // At the primary of a view being changed to: VIEW-CHANGE-ACKs by view, n x n (acker-major),
  // each the digest acked for that subject (only views up to kEarlyViewsAhead past ours).
  struct AckRecord {
    bool present = false;
    MessageDigest digest;
  };
  std::map<ViewNumber, std::vector<AckRecord>> view_change_acks_;
  // A NEW-VIEW for view_ (or a later view) naming VIEW-CHANGEs we do not hold yet.
  Bytes pending_new_view_;
  // The new primary's batches fetched for the decision (FETCH-BATCH), by (seq, digest), and
  // those asked for in this view change (asked again when the view-change timer fires).
  std::map<std::pair<SequenceNumber, MessageDigest>, Bytes> fetched_batches_;
  std::vector<std::pair<SequenceNumber, MessageDigest>> batches_wanted_;
  std::vector<std::uint8_t> laggard_asks_;  // by replica: asks for our NEW-VIEW in this view (max 2)

  // STATUS: where this replica stood at the last status tick (a STATUS goes out only when
  // nothing moved since), and the named bounds of the retransmission it prompts.
  // Not below a few round trips of a typical simulated network: asking again before an
  // answer can arrive only adds traffic; with a request timeout shorter than this the view
  // change comes first anyway.
  static constexpr std::int64_t kStatusIntervalMinNs = 10'000'000;   // 10 ms
  static constexpr std::int64_t kStatusIntervalMaxNs = 50'000'000;   // 50 ms
  static constexpr std::uint32_t kStatusEagerSends = 3;  // before the interval backs off
  static constexpr std::uint32_t kStatusRetransmitMax = 24;  // messages re-sent per STATUS
  ViewNumber status_mark_view_ = 0;
  SequenceNumber status_mark_executed_ = 0;
  bool status_mark_valid_ = false;
  std::uint32_t statuses_sent_ = 0;  // while stuck; backs the interval off
  std::uint32_t view_change_retransmits_ = 0;  // in this view change; backs the interval off

  // Messages for a view not yet entered, or just above the window, replayed when they may
  // fit (buffer_early). Bounded per sender, in entries and in bytes, so that one faulty
  // replica cannot crowd out the messages of correct ones: each sender gets
  // an equal share of early_buffer_max entries and of kEarlyBytesMax. Only views up to
  // kEarlyViewsAhead past ours are kept: the next view's messages commonly race its NEW-VIEW,
  // one more covers a view change that fails at once; anything further is no use to us
  // before we get there (STATUS and NEW-VIEW retransmission catch us up then).
  static constexpr std::size_t kEarlyBytesMax = std::size_t{32} << 20;  // 32 MiB per replica
  static constexpr ViewNumber kEarlyViewsAhead = 2;
  std::deque<std::pair<NodeId, Bytes>> early_;
  std::vector<std::uint32_t> early_entries_by_sender_;  // by replica, what early_ holds
  std::vector<std::size_t> early_bytes_by_sender_;
  std::size_t early_bytes_ = 0;

  std::array<bool, kTimerKinds> timer_armed_{};

  // Scratch space reused from one message to the next (never part of the state).
  PrePrepareView pp_scratch_;
  std::vector<ConsensusRequest> requests_scratch_;
  std::vector<ConsensusRequest> spare_requests_;  // requests of reset slots, for their buffers
  std::vector<MessageDigest> digests_scratch_;
  Bytes own_wire_scratch_;

  // Receiver lists for MAC authenticators, made once: every replica, and all but self.
  std::vector<NodeId> all_replicas_;
  std::vector<NodeId> other_replicas_;
};

}  // namespace protocol
