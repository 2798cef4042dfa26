#include "sim/event_queue.h"

#include <algorithm>
#include <cassert>

namespace sim {


bool EventQueue::less(std::uint32_t a, std::uint32_t b) const {
  const Event& x = slots_[a].event;
  const Event& y = slots_[b].event;
  return x.time_ns != y.time_ns ? x.time_ns < y.time_ns : x.sequence < y.sequence;
}

void EventQueue::sift_up(std::uint32_t i) {
  while (i > 0) {
    const std::uint32_t parent = (i - 1) / 2;
    if (!less(heap_[i], heap_[parent])) break;
    std::swap(heap_[i], heap_[parent]);
    slots_[heap_[i]].heap_index = i;
    slots_[heap_[parent]].heap_index = parent;
    i = parent;
  }
}

void EventQueue::sift_down(std::uint32_t i) {
  const auto size = static_cast<std::uint32_t>(heap_.size());
  while (true) {
    const std::uint32_t left = 2 * i + 1;
    const std::uint32_t right = left + 1;
    std::uint32_t best = i;
    if (left < size && less(heap_[left], heap_[best])) best = left;
    if (right < size && less(heap_[right], heap_[best])) best = right;
    if (best == i) return;
    std::swap(heap_[i], heap_[best]);
    slots_[heap_[i]].heap_index = i;
    slots_[heap_[best]].heap_index = best;
    i = best;
  }
}

EventHandle EventQueue::schedule(Event event) {
  assert(event.time_ns >= now_ns_ && "no scheduling in the past");
  event.sequence = next_sequence_++;
  std::uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& s = slots_[slot];
  assert(!s.pending);
  s.event = event;
  s.pending = true;
  s.heap_index = static_cast<std::uint32_t>(heap_.size());
  heap_.push_back(slot);
  sift_up(s.heap_index);
  return EventHandle{slot, s.generation};
}

void EventQueue::remove_at(std::uint32_t i) {
  assert(i < heap_.size());
  const std::uint32_t slot = heap_[i];
  const std::uint32_t last = static_cast<std::uint32_t>(heap_.size() - 1);
  if (i != last) {
    heap_[i] = heap_[last];
    slots_[heap_[i]].heap_index = i;
  }
  heap_.pop_back();
  if (i < heap_.size()) {
    sift_down(i);
    sift_up(i);
  }
  Slot& s = slots_[slot];
  s.pending = false;
  s.generation++;  // every outstanding handle to this slot is now stale
  free_slots_.push_back(slot);
}

EventQueue::EventQueue() : buckets_(kBuckets), occupied_(kBuckets / 64, 0) {
  static_assert(kBuckets % 64 == 0 && (kBuckets & (kBuckets - 1)) == 0);
}

void EventQueue::post(Event event) {
  assert(event.time_ns >= now_ns_ && "no scheduling in the past");
  assert(event.time_ns >= 0);
  const Node node{Key{event.time_ns, next_sequence_++},
                  Body{event.kind, event.target, event.a, event.b}};
  posted_++;
  const std::int64_t bucket = bucket_of(event.time_ns);
  if (bucket <= cursor_) {
    run_insert(node);  // due in the bucket being consumed (or earlier): keep the run sorted
  } else if (bucket < cursor_ + static_cast<std::int64_t>(kBuckets)) {
    const std::size_t b = static_cast<std::size_t>(bucket) & (kBuckets - 1);
    std::vector<Node>& events = buckets_[b];
    if (events.empty()) {
      occupied_[b / 64] |= std::uint64_t{1} << (b % 64);
      if (events.capacity() == 0 && !spare_buffers_.empty()) {
        events.swap(spare_buffers_.back());
        spare_buffers_.pop_back();
      }
    }
    events.push_back(node);
  } else {
    far_push(node);
  }
}

void EventQueue::run_insert(const Node& node) {
  // The node's sequence is the largest yet: it goes after every event of its time.
  auto at = std::upper_bound(run_.begin() + static_cast<std::ptrdiff_t>(run_next_), run_.end(), node,
                             [](const Node& x, const Node& y) { return key_less(x.key, y.key); });
  run_.insert(at, node);
}

// The 4-ary heap of events past the horizon (rare: long delays, heavy tails). Sifts move a
// hole rather than swapping.
constexpr std::size_t kArity = 4;

void EventQueue::far_push(const Node& node) {
  std::size_t i = far_.size();
  far_.emplace_back();
  while (i > 0) {
    const std::size_t parent = (i - 1) / kArity;
    if (!key_less(node.key, far_[parent].key)) break;
    far_[i] = far_[parent];
    i = parent;
  }
  far_[i] = node;
}

void EventQueue::far_pop(Node& out) {
  assert(!far_.empty());
  out = far_[0];
  const Node last = far_.back();
  far_.pop_back();
  const std::size_t size = far_.size();
  if (size == 0) return;
  std::size_t i = 0;
  while (true) {
    const std::size_t first = kArity * i + 1;
    if (first >= size) break;
    std::size_t child = first;
    for (std::size_t c = first + 1; c < std::min(first + kArity, size); ++c) {
      if (key_less(far_[c].key, far_[child].key)) child = c;
    }
    if (!key_less(far_[child].key, last.key)) break;
    far_[i] = far_[child];
    i = child;
  }
  far_[i] = last;
}

// Moves the earliest non-empty bucket (of the ring or past the horizon) into run_, sorted.
bool EventQueue::load_run() {
  if (run_next_ < run_.size()) return true;
  run_.clear();
  run_next_ = 0;
  if (posted_ == 0) return false;
  // The first occupied ring bucket after cursor_, if any: a scan of the bit map, a word
  // at a time.
  std::int64_t ring_bucket = INT64_MAX;
  const std::size_t start = static_cast<std::size_t>(cursor_ + 1) & (kBuckets - 1);
  for (std::size_t scanned = 0; scanned < kBuckets;) {
    const std::size_t b = (start + scanned) & (kBuckets - 1);
    const std::uint64_t word = occupied_[b / 64] >> (b % 64);
    if (word != 0) {
      const std::size_t found = scanned + static_cast<std::size_t>(__builtin_ctzll(word));
      if (found < kBuckets) ring_bucket = cursor_ + 1 + static_cast<std::int64_t>(found);
      break;
    }
    scanned += 64 - (b % 64);
  }
  const std::int64_t far_bucket = far_.empty() ? INT64_MAX : bucket_of(far_[0].key.time_ns);
  cursor_ = std::min(ring_bucket, far_bucket);
  assert(cursor_ != INT64_MAX);
  if (ring_bucket == cursor_) {
    const std::size_t b = static_cast<std::size_t>(cursor_) & (kBuckets - 1);
    run_.swap(buckets_[b]);  // run_ was empty: its buffer becomes a spare
    if (buckets_[b].capacity() != 0) {
      spare_buffers_.emplace_back();
      spare_buffers_.back().swap(buckets_[b]);
    }
    occupied_[b / 64] &= ~(std::uint64_t{1} << (b % 64));
  }
  while (!far_.empty() && bucket_of(far_[0].key.time_ns) == cursor_) {
    run_.emplace_back();
    far_pop(run_.back());
  }
  // A handful of events at small n, hundreds when 64 replicas multicast: std::sort (which
  // itself insertion-sorts short ranges), no allocation.
  std::sort(run_.begin(), run_.end(), [](const Node& x, const Node& y) { return key_less(x.key, y.key); });
  assert(!run_.empty());
  return true;
}

bool EventQueue::cancel(EventHandle handle) {
  if (!handle.valid() || handle.slot >= slots_.size()) return false;
  const Slot& s = slots_[handle.slot];
  if (!s.pending || s.generation != handle.generation) return false;
  remove_at(s.heap_index);
  return true;
}

void EventQueue::pop_into(Event& out) {
  assert(!empty());
  const bool have_posted = load_run();
  bool posted_first = have_posted;
  if (have_posted && !heap_.empty()) {
    const Event& timer = slots_[heap_[0]].event;
    posted_first = key_less(run_[run_next_].key, Key{timer.time_ns, timer.sequence});
  }
  if (posted_first) {
    const Node& n = run_[run_next_++];
    out = Event{n.key.time_ns, n.key.sequence, n.body.kind, n.body.target, n.body.a, n.body.b};
    posted_--;
  } else {
    out = slots_[heap_[0]].event;
    remove_at(0);
  }
  assert(out.time_ns >= now_ns_);
  now_ns_ = out.time_ns;
}

std::optional<Event> EventQueue::pop() {
  if (empty()) return std::nullopt;
  Event event;
  pop_into(event);
  return event;
}

TimeNs EventQueue::peek_time_ns() {
  assert(!empty());
  const bool have_posted = load_run();
  if (heap_.empty()) return run_[run_next_].key.time_ns;
  const TimeNs timer_ns = slots_[heap_[0]].event.time_ns;
  return have_posted ? std::min(run_[run_next_].key.time_ns, timer_ns) : timer_ns;
}

std::optional<TimeNs> EventQueue::peek_time() {
  if (empty()) return std::nullopt;
  return peek_time_ns();
}

}  // namespace sim
