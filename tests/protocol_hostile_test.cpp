// Hostile input against a correct replica, driven through step(): what one faulty replica
// or client can send must be refused and counted, never crash the replica, force it into a
// view change, or crowd correct senders out of its bounded buffers. Each case names the
// finding of the protocol review it guards (review #N).
#include <doctest/doctest.h>

#include "tests/replica_cluster.h"

using namespace protocol_test;

namespace {

Bytes junk_new_view(Cluster& c, NodeId sender, ViewNumber v) {
  return c.seal_from(sender, encode_new_view(sender, NewView{v, {}, {}}));
}

}  // namespace

TEST_CASE("review #4: a bad NEW-VIEW moves on only a replica waiting for that very view (§4.4)") {
  Cluster c(4);
  c.deliver(c.client(0), 0, c.request(0, 1, op_incr("x")));
  c.run();
  REQUIRE(c.replicas[2]->last_executed() == 1);
  // Replica 1 is the primary of views 1, 5, 9, ...: a junk NEW-VIEW for a view ahead of ours
  // is refused and changes nothing.
  c.deliver(1, 2, junk_new_view(c, 1, 5));
  CHECK(c.rejected(2, RejectReason::BadNewView) == 1);
  CHECK(c.replicas[2]->view() == 0);
  CHECK_FALSE(c.replicas[2]->in_view_change());
  // Nor for the last view numbers, where view + 1 would wrap.
  const ViewNumber last = ~ViewNumber{0};
  c.deliver(1, 2, junk_new_view(c, 1, last - 2));
  CHECK(c.replicas[2]->view() == 0);
  c.deliver(3, 2, junk_new_view(c, 3, last));  // 2^64 - 1 = 3 mod 4
  CHECK(c.rejected(2, RejectReason::Malformed) == 1);
  CHECK(c.replicas[2]->view() == 0);
  // A replica waiting for NEW-VIEW(1) that gets a bad one from view 1's primary moves on to 2.
  c.step(2, Input::timer_fired(TimerKind::ViewChange));
  REQUIRE(c.replicas[2]->in_view_change());
  REQUIRE(c.replicas[2]->view() == 1);
  c.deliver(1, 2, junk_new_view(c, 1, 1));
  CHECK(c.replicas[2]->view() == 2);
  CHECK(c.replicas[2]->in_view_change());
  // ... but not on a bad NEW-VIEW for a view other than the one it waits for.
  c.deliver(0, 2, junk_new_view(c, 0, 4));  // replica 0 is the primary of view 4
  CHECK(c.replicas[2]->view() == 2);
}

TEST_CASE("review #4: a VIEW-CHANGE for the last view number is malformed") {
  Cluster c(4);
  ViewChange vc{~ViewNumber{0}, 0, c.replicas[0]->stable_digest(), {}, {}};
  c.deliver(1, 2, c.seal_from(1, encode_view_change(1, vc)));
  CHECK(c.rejected(2, RejectReason::Malformed) == 1);
  CHECK(c.replicas[2]->view() == 0);
}
