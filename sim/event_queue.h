// The event queue: events come out ordered by (time_ns, sequence). The sequence number is
// the order of insertion, so events due at the same virtual time come out in the order they
// were scheduled, identically on every run.
//
// Two structures share the one sequence counter, and pop() takes the earlier of their
// fronts, so the order is exactly that of a single queue:
//  - post(): events nobody will cancel (message deliveries, the bulk of a run) go into a
//    calendar: a ring of kBuckets time buckets of 2^kBucketShift ns each, each an unsorted
//    array; the earliest bucket is sorted into a run when it is reached, and
//    events past the ring's horizon wait in a 4-ary heap. Posting is O(1) and popping
//    O(1) amortised for events a few ms ahead (a heap cost O(log pending) per event,
//    and this is once per simulated message). Within a run, order is (time_ns, sequence).
//  - schedule(): cancellable events (timers) go into an indexed heap: each pending event
//    sits in a slot that knows its heap position, so cancel() removes it in O(log n);
//    slots are reused, so memory is bounded by the number of pending events, not by the
//    number ever scheduled. A cancelled event never comes out.
#pragma once
#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "sim/virtual_time.h"

namespace sim {

// What an event is about is the host's business; the queue only orders them. `kind`,
// `target`, `a` and `b` are opaque to it.
struct Event {
  TimeNs time_ns = 0;
  std::uint64_t sequence = 0;  // set by the queue
  std::uint32_t kind = 0;
  std::uint32_t target = 0;
  std::uint64_t a = 0;
  std::uint64_t b = 0;
};

// Names one scheduled event. Stale handles (event fired or cancelled) are recognised by
// their generation and ignored.
struct EventHandle {
  std::uint32_t slot = UINT32_MAX;
  std::uint32_t generation = 0;
  bool valid() const { return slot != UINT32_MAX; }
};

class EventQueue {
 public:
  EventQueue();

  // Schedules `event` at event.time_ns and returns its handle.
  // REQUIRES: event.time_ns >= the time of the last popped event (no scheduling in the past).
  EventHandle schedule(Event event);

  // Like schedule() for an event that will never be cancelled (cheaper: no handle).
  // REQUIRES: as schedule().
  void post(Event event);

  // Marks the event as cancelled. Cancelling an event that already fired, or twice, is a
  // no-op. Returns true if the event was pending and is now cancelled.
  bool cancel(EventHandle handle);

  // Removes and returns the earliest live event, or nullopt when none is left.
  std::optional<Event> pop();
  // The same into `out`. REQUIRES: !empty().
  void pop_into(Event& out);

  // Time of the earliest pending event, or nullopt. (Not const: finding the earliest
  // posted event may sort the calendar's next bucket, which changes no order.)
  std::optional<TimeNs> peek_time();
  // The same. REQUIRES: !empty().
  TimeNs peek_time_ns();

  std::size_t size() const { return heap_.size() + posted_; }
  bool empty() const { return heap_.empty() && posted_ == 0; }
  TimeNs now_ns() const { return now_ns_; }  // time of the last popped event
  std::uint64_t scheduled_total() const { return next_sequence_; }

  // 131 us per bucket, a horizon of 33.5 ms: typical link delays land in the ring, a bucket
  // holds a handful of deliveries at n = 4 (hundreds at n = 64), and the ring's 256 headers
  // stay in cache (1024 buckets of 33 us measured 2-3 % slower).
  static constexpr unsigned kBucketShift = 17;
  static constexpr std::size_t kBuckets = 256;

 private:
  struct Slot {
    Event event;
    std::uint32_t heap_index = 0;
    std::uint32_t generation = 0;
    bool pending = false;
  };
  // A posted event: its ordering key, the rest, and the next event of its bucket's list.
  struct Key {
    TimeNs time_ns;
    std::uint64_t sequence;
  };
  struct Body {
    std::uint32_t kind, target;
    std::uint64_t a, b;
  };
  struct Node {
    Key key;
    Body body;
  };
  static bool key_less(const Key& x, const Key& y) {
    return x.time_ns != y.time_ns ? x.time_ns < y.time_ns : x.sequence < y.sequence;
  }
  static std::int64_t bucket_of(TimeNs t) { return t >> kBucketShift; }
  bool less(std::uint32_t slot_a, std::uint32_t slot_b) const;
  void sift_up(std::uint32_t heap_index);
  void sift_down(std::uint32_t heap_index);
  void remove_at(std::uint32_t heap_index);
  // Timers (indexed heap).
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_slots_;
  std::vector<std::uint32_t> heap_;  // slot indices, min-heap by (time_ns, sequence)
  // Posted events (calendar).
  bool load_run();        // makes run_ hold the earliest posted events; false if none
  void run_insert(const Node& node);
  void far_push(const Node& node);
  void far_pop(Node& out);
  std::size_t posted_ = 0;              // posted events pending
  std::int64_t cursor_ = -1;            // run_ holds every posted event of bucket <= cursor_
  std::vector<Node> run_;               // sorted by key, consumed from run_next_
  std::size_t run_next_ = 0;
  // The ring: buckets (cursor_, cursor_ + kBuckets), each contiguous. A bucket reached is
  // swapped with run_, and run_'s old buffer goes to the spares that empty buckets draw
  // from: buffers circulate, only about as many as non-empty buckets exist, and the steady
  // state allocates nothing (a short run touches every bucket of the ring once).
  std::vector<std::vector<Node>> buckets_;
  std::vector<std::vector<Node>> spare_buffers_;
  std::vector<std::uint64_t> occupied_;     // a bit per ring bucket with events
  std::vector<Node> far_;               // 4-ary min-heap by key: events past the horizon
  std::uint64_t next_sequence_ = 0;
  TimeNs now_ns_ = 0;
};

}  // namespace sim
