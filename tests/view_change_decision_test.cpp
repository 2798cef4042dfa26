// The TOCS '02 decision procedure on hand-built sets of VIEW-CHANGEs: what it chooses, when it
// waits, and that no f liars can make it drop a request a quorum prepared.
#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include "protocol/view_change_decision.h"

using namespace protocol;

namespace {

PbftConfig config4() {
  PbftConfig c;
  c.n = 4;
  c.f = 1;
  c.checkpoint_interval = 4;
  c.log_window = 16;
  return c;
}

MessageDigest dg(std::uint8_t fill) {
  MessageDigest d;
  d.bytes.fill(fill);
  return d;
}

const MessageDigest kGenesis = dg(0xee);

ViewChange vc(std::vector<SlotClaim> p = {}, std::vector<SlotClaim> q = {}, SequenceNumber h = 0,
              std::vector<CheckpointClaim> c = {}) {
  if (c.empty()) c.push_back(CheckpointClaim{h, h == 0 ? kGenesis : dg(static_cast<std::uint8_t>(h))});
  return ViewChange{5, h, std::move(c), std::move(p), std::move(q)};
}

NewViewDecision decide(const PbftConfig& config, const std::vector<ViewChange>& set) {
  std::vector<const ViewChange*> ptrs;
  for (const auto& v : set) ptrs.push_back(&v);
  return decide_new_view(config, ptrs);
}

}  // namespace

TEST_CASE("decision: fewer than a quorum of VIEW-CHANGEs decide nothing") {
  CHECK_FALSE(decide(config4(), {vc(), vc()}).decided);
  const auto d = decide(config4(), {vc(), vc(), vc()});
  CHECK(d.decided);
  CHECK(d.checkpoint_seq == 0);
  CHECK(d.checkpoint_digest == kGenesis);
  CHECK(d.chosen.empty());
}

TEST_CASE("decision: the request of the highest view wins, the null request fills a gap") {
  // seq 1: d prepared in view 2 at one replica, e in view 1 at another (e's view is older,
  // so it was never committed); seq 3: d3 prepared; seq 2: nothing anywhere (B).
  const SlotClaim d1{1, 2, dg(1)}, e1{1, 1, dg(2)}, d3{3, 2, dg(3)};
  const auto out = decide(config4(), {vc({d1, d3}, {d1, e1, d3}), vc({e1}, {d1, e1}), vc({}, {d1, d3}), vc()});
  REQUIRE(out.decided);
  REQUIRE(out.chosen.size() == 3);
  CHECK(out.chosen[0].digest == dg(1));
  CHECK(out.chosen[1].digest == null_batch_digest());
  CHECK(out.chosen[2].digest == dg(3));
}

TEST_CASE("decision: a committed request survives any f liars (all liar strategies at one seq)") {
  // d committed at seq 1 in view 3: a quorum prepared it. Two correct replicas of that quorum
  // are in the set; the third member is a liar, which may claim anything in P and Q.
  const SlotClaim d{1, 3, dg(1)};
  const std::vector<ViewChange> liars = {
      vc({SlotClaim{1, 4, dg(9)}}, {SlotClaim{1, 4, dg(9)}}),  // a higher view, made-up digest
      vc({SlotClaim{1, 3, dg(9)}}, {SlotClaim{1, 3, dg(9)}}),  // same view, other digest
      vc(),                                                    // hides what it prepared
      vc({SlotClaim{1, 2, dg(8)}}, {SlotClaim{1, 2, dg(8)}}),  // an older view
      vc({}, {}, 4, {CheckpointClaim{4, dg(77)}}),             // a made-up checkpoint above
  };
  for (const auto& liar : liars) {
    const std::vector<ViewChange> set = {vc({d}, {d}), vc({d}, {d}), liar};
    const auto out = decide(config4(), set);
    if (!out.decided) continue;  // waiting for more is always allowed
    CHECK(out.checkpoint_seq == 0);
    REQUIRE_FALSE(out.chosen.empty());
    CHECK(out.chosen[0].digest == dg(1));
  }
  // With the fourth replica's VIEW-CHANGE (it saw nothing) the liar cannot hold it up.
  for (const auto& liar : liars) {
    const auto out = decide(config4(), {vc({d}, {d}), vc({d}, {d}), liar, vc()});
    REQUIRE(out.decided);
    REQUIRE_FALSE(out.chosen.empty());
    CHECK(out.chosen[0].digest == dg(1));
  }
}

TEST_CASE("decision: a claim only its maker pre-prepared (A2) is never chosen; the set waits") {
  const SlotClaim made_up{1, 4, dg(9)};
  const auto out = decide(config4(), {vc({made_up}, {made_up}), vc(), vc()});
  // B fails (a P entry exists among three, two without: short of a quorum of 3), A2 fails.
  CHECK_FALSE(out.decided);
  CHECK(out.undecided_seq == 1);
  const auto more = decide(config4(), {vc({made_up}, {made_up}), vc(), vc(), vc()});
  REQUIRE(more.decided);
  REQUIRE(more.chosen.size() == 1);
  CHECK(more.chosen[0].digest == null_batch_digest());
}

TEST_CASE("decision: the checkpoint is the highest f+1 list that a quorum has reached") {
  const CheckpointClaim c0{0, kGenesis}, c4{4, dg(4)}, c8{8, dg(8)};
  // Two list 4 (f + 1), one lists 8 (only one: not chosen); all have h <= 4.
  const auto out = decide(config4(), {vc({}, {}, 0, {c0, c4}), vc({}, {}, 4, {c4, c8}), vc({}, {}, 0, {c0})});
  REQUIRE(out.decided);
  CHECK(out.checkpoint_seq == 4);
  CHECK(out.checkpoint_digest == dg(4));
  // Two at h = 12 list it (f + 1) and every member's low watermark is at most 12: chosen,
  // though the third never got there (it will fetch the state).
  const CheckpointClaim c12{12, dg(12)};
  const auto high = decide(config4(), {vc({}, {}, 12, {c12}), vc({}, {}, 12, {c12}), vc({}, {}, 0, {c0, c4, c8})});
  CHECK(high.decided);
  CHECK(high.checkpoint_seq == 12);
  // One lists 12, one 8: neither has f + 1; 4 has, and a quorum is at or below it.
  const auto lone = decide(config4(), {vc({}, {}, 12, {c12}), vc({}, {}, 0, {c0, c4, c8}), vc({}, {}, 0, {c0, c4}),
                                       vc({}, {}, 4, {c4})});
  REQUIRE(lone.decided);
  CHECK(lone.checkpoint_seq == 4);
  // Without the fourth, 4 is listed by two but only two members are at or below it: wait.
  CHECK_FALSE(decide(config4(), {vc({}, {}, 12, {c12}), vc({}, {}, 0, {c0, c4, c8}), vc({}, {}, 0, {c0, c4})}).decided);
  // Entries at or below the checkpoint are not decided again.
  const SlotClaim old{2, 1, dg(2)};
  const auto above = decide(config4(), {vc({old}, {old}, 0, {c0, c4}), vc({}, {}, 4, {c4}), vc({}, {}, 4, {c4})});
  REQUIRE(above.decided);
  CHECK(above.checkpoint_seq == 4);
  CHECK(above.chosen.empty());
}

TEST_CASE("decision: the result does not depend on the order of the set") {
  const SlotClaim a{1, 2, dg(1)}, b{1, 1, dg(2)}, c{2, 1, dg(3)};
  std::vector<ViewChange> set = {vc({a, c}, {a, b, c}), vc({b}, {a, b}), vc({}, {a, c}), vc({c}, {c})};
  const auto first = decide(config4(), set);
  std::sort(set.begin(), set.end(), [](const ViewChange& x, const ViewChange& y) { return x.prepared.size() < y.prepared.size(); });
  do {
    const auto again = decide(config4(), set);
    CHECK(again.decided == first.decided);
    CHECK(again.chosen == first.chosen);
  } while (std::next_permutation(set.begin(), set.end(), [](const ViewChange& x, const ViewChange& y) {
    return x.prepared.size() < y.prepared.size();
  }));
}

TEST_CASE("well-formedness: the rules of message.h, each broken once") {
  const PbftConfig config = config4();
  const CheckpointClaim c0{0, kGenesis};
  const SlotClaim d{1, 0, dg(1)};
  CHECK(view_change_well_formed(config, vc({d}, {d})));
  CHECK_FALSE(view_change_well_formed(config, ViewChange{5, 0, {}, {}, {}}));                     // C lacks h
  CHECK_FALSE(view_change_well_formed(config, ViewChange{5, 0, {c0}, {d}, {}}));                  // P not in Q
  CHECK_FALSE(view_change_well_formed(config, ViewChange{5, 0, {c0}, {d}, {SlotClaim{1, 0, dg(2)}}}));  // other digest
  CHECK(view_change_well_formed(config, ViewChange{5, 0, {c0}, {d}, {SlotClaim{1, 2, dg(1)}}}));  // Q's later view covers it
  CHECK_FALSE(view_change_well_formed(config, ViewChange{5, 0, {c0}, {SlotClaim{1, 3, dg(1)}}, {d}}));  // Q older than P
  CHECK_FALSE(view_change_well_formed(config, ViewChange{5, 0, {c0}, {}, {SlotClaim{17, 0, dg(1)}}}));  // above h + L
  CHECK_FALSE(view_change_well_formed(config, ViewChange{5, 0, {c0}, {}, {SlotClaim{1, 5, dg(1)}}}));   // view not below 5
  CHECK_FALSE(view_change_well_formed(config, ViewChange{5, 0, {c0}, {}, {d, d}}));                     // repeated
  CHECK_FALSE(view_change_well_formed(config, ViewChange{5, 4, {CheckpointClaim{4, dg(4)}}, {}, {d}})); // at or below h
  CHECK_FALSE(view_change_well_formed(config, ViewChange{5, 0, {CheckpointClaim{4, dg(4)}, c0}, {}, {}}));  // C unordered
  CHECK_FALSE(view_change_well_formed(config, ViewChange{0, 0, {c0}, {}, {}}));                          // view 0
  CHECK_FALSE(view_change_well_formed(config, ViewChange{5, ~SequenceNumber{0} - 3, {CheckpointClaim{~SequenceNumber{0} - 3, dg(1)}}, {}, {}}));
}
