#include "sim/event_queue.h"

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

bool EventQueue::cancel(EventHandle handle) {
  if (!handle.valid() || handle.slot >= slots_.size()) return false;
  const Slot& s = slots_[handle.slot];
  if (!s.pending || s.generation != handle.generation) return false;
  remove_at(s.heap_index);
  return true;
}

std::optional<Event> EventQueue::pop() {
  if (heap_.empty()) return std::nullopt;
  const Event event = slots_[heap_[0]].event;
  assert(event.time_ns >= now_ns_);
  remove_at(0);
  now_ns_ = event.time_ns;
  return event;
}

std::optional<TimeNs> EventQueue::peek_time() const {
  if (heap_.empty()) return std::nullopt;
  return slots_[heap_[0]].event.time_ns;
}

}  // namespace sim
