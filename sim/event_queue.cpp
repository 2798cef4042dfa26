#include "sim/event_queue.h"

#include <algorithm>
#include <cassert>

namespace sim {

namespace {

bool earlier(const Event& x, const Event& y) {
  return x.time_ns != y.time_ns ? x.time_ns < y.time_ns : x.sequence < y.sequence;
}

}  // namespace

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

void EventQueue::post(Event event) {
  assert(event.time_ns >= now_ns_ && "no scheduling in the past");
  event.sequence = next_sequence_++;
  // Sift up with a hole: move parents down until the event's place is found.
  std::size_t i = posted_.size();
  posted_.emplace_back();
  while (i > 0) {
    const std::size_t parent = (i - 1) / 2;
    if (!earlier(event, posted_[parent])) break;
    posted_[i] = posted_[parent];
    i = parent;
  }
  posted_[i] = event;
}

Event EventQueue::pop_posted() {
  assert(!posted_.empty());
  const Event top = posted_[0];
  const Event last = posted_.back();
  posted_.pop_back();
  const std::size_t size = posted_.size();
  if (size == 0) return top;
  // Sift the last event down from the root with a hole.
  std::size_t i = 0;
  while (true) {
    const std::size_t left = 2 * i + 1;
    if (left >= size) break;
    const std::size_t right = left + 1;
    const std::size_t child = right < size && earlier(posted_[right], posted_[left]) ? right : left;
    if (!earlier(posted_[child], last)) break;
    posted_[i] = posted_[child];
    i = child;
  }
  posted_[i] = last;
  return top;
}

bool EventQueue::cancel(EventHandle handle) {
  if (!handle.valid() || handle.slot >= slots_.size()) return false;
  const Slot& s = slots_[handle.slot];
  if (!s.pending || s.generation != handle.generation) return false;
  remove_at(s.heap_index);
  return true;
}

std::optional<Event> EventQueue::pop() {
  const bool from_posted = !posted_.empty() &&
                           (heap_.empty() || earlier(posted_[0], slots_[heap_[0]].event));
  Event event;
  if (from_posted) {
    event = pop_posted();
  } else if (!heap_.empty()) {
    event = slots_[heap_[0]].event;
    remove_at(0);
  } else {
    return std::nullopt;
  }
  assert(event.time_ns >= now_ns_);
  now_ns_ = event.time_ns;
  return event;
}

std::optional<TimeNs> EventQueue::peek_time() const {
  if (heap_.empty() && posted_.empty()) return std::nullopt;
  if (heap_.empty()) return posted_[0].time_ns;
  if (posted_.empty()) return slots_[heap_[0]].event.time_ns;
  return std::min(posted_[0].time_ns, slots_[heap_[0]].event.time_ns);
}

}  // namespace sim
