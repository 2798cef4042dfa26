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

// The posted heap is 4-ary: half the levels of a binary heap, and the four children of a
// node are adjacent (their keys fill one cache line), so a pop touches few lines. Sifts
// move a hole rather than swapping.
constexpr std::size_t kArity = 4;

void EventQueue::post(Event event) {
  assert(event.time_ns >= now_ns_ && "no scheduling in the past");
  const Key key{event.time_ns, next_sequence_++};
  const Body body{event.kind, event.target, event.a, event.b};
  std::size_t i = posted_keys_.size();
  posted_keys_.emplace_back();
  posted_bodies_.emplace_back();
  while (i > 0) {
    const std::size_t parent = (i - 1) / kArity;
    if (!key_less(key, posted_keys_[parent])) break;
    posted_keys_[i] = posted_keys_[parent];
    posted_bodies_[i] = posted_bodies_[parent];
    i = parent;
  }
  posted_keys_[i] = key;
  posted_bodies_[i] = body;
}

void EventQueue::pop_posted(Event& out) {
  assert(!posted_keys_.empty());
  const Key& top_key = posted_keys_[0];
  const Body& top = posted_bodies_[0];
  out = Event{top_key.time_ns, top_key.sequence, top.kind, top.target, top.a, top.b};
  const Key key = posted_keys_.back();
  const Body body = posted_bodies_.back();
  posted_keys_.pop_back();
  posted_bodies_.pop_back();
  const std::size_t size = posted_keys_.size();
  if (size == 0) return;
  std::size_t i = 0;
  while (true) {
    const std::size_t first = kArity * i + 1;
    if (first >= size) break;
    std::size_t child = first;
    if (first + kArity <= size) {
      // All four children exist: pick the least without data-dependent branches.
      const std::size_t a = key_less(posted_keys_[first + 1], posted_keys_[first]) ? first + 1 : first;
      const std::size_t b = key_less(posted_keys_[first + 3], posted_keys_[first + 2]) ? first + 3 : first + 2;
      child = key_less(posted_keys_[b], posted_keys_[a]) ? b : a;
    } else {
      for (std::size_t c = first + 1; c < size; ++c) {
        if (key_less(posted_keys_[c], posted_keys_[child])) child = c;
      }
    }
    if (!key_less(posted_keys_[child], key)) break;
    posted_keys_[i] = posted_keys_[child];
    posted_bodies_[i] = posted_bodies_[child];
    i = child;
  }
  posted_keys_[i] = key;
  posted_bodies_[i] = body;
}

bool EventQueue::posted_first() const {
  if (posted_keys_.empty()) return false;
  if (heap_.empty()) return true;
  const Event& timer = slots_[heap_[0]].event;
  return key_less(posted_keys_[0], Key{timer.time_ns, timer.sequence});
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
  if (posted_first()) {
    pop_posted(out);
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

std::optional<TimeNs> EventQueue::peek_time() const {
  if (empty()) return std::nullopt;
  return peek_time_ns();
}

}  // namespace sim
