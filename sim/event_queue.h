// The event queue: events come out ordered by (time_ns, sequence). The sequence number is
// the order of insertion, so events due at the same virtual time come out in the order they
// were scheduled, identically on every run.
//
// Two min-heaps share the one sequence counter, and pop() takes the smaller of their tops,
// so the order is exactly that of a single queue:
//  - post(): events nobody will cancel (message deliveries, the bulk of a run) go into a
//    plain heap that stores them inline: no handle, no slot, no indirection.
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

  // Time of the earliest pending event, or nullopt.
  std::optional<TimeNs> peek_time() const;
  // The same. REQUIRES: !empty().
  TimeNs peek_time_ns() const {
    if (heap_.empty()) return posted_keys_[0].time_ns;
    const TimeNs timer_ns = slots_[heap_[0]].event.time_ns;
    return posted_keys_.empty() ? timer_ns : std::min(posted_keys_[0].time_ns, timer_ns);
  }

  std::size_t size() const { return heap_.size() + posted_keys_.size(); }
  bool empty() const { return heap_.empty() && posted_keys_.empty(); }
  TimeNs now_ns() const { return now_ns_; }  // time of the last popped event
  std::uint64_t scheduled_total() const { return next_sequence_; }

 private:
  struct Slot {
    Event event;
    std::uint32_t heap_index = 0;
    std::uint32_t generation = 0;
    bool pending = false;
  };
  // A posted event's ordering key, kept apart from the rest of the event so that the
  // four children a sift compares sit in one cache line.
  struct Key {
    TimeNs time_ns;
    std::uint64_t sequence;
  };
  struct Body {
    std::uint32_t kind, target;
    std::uint64_t a, b;
  };
  static bool key_less(const Key& x, const Key& y) {
    return x.time_ns != y.time_ns ? x.time_ns < y.time_ns : x.sequence < y.sequence;
  }
  bool less(std::uint32_t slot_a, std::uint32_t slot_b) const;
  void sift_up(std::uint32_t heap_index);
  void sift_down(std::uint32_t heap_index);
  void remove_at(std::uint32_t heap_index);
  bool posted_first() const;
  void pop_posted(Event& out);
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_slots_;
  std::vector<std::uint32_t> heap_;  // slot indices, min-heap by (time_ns, sequence)
  // Posted events: a 4-ary min-heap by key; posted_bodies_[i] goes with posted_keys_[i].
  std::vector<Key> posted_keys_;
  std::vector<Body> posted_bodies_;
  std::uint64_t next_sequence_ = 0;
  TimeNs now_ns_ = 0;
};

}  // namespace sim
