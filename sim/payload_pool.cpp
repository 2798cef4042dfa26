#include "sim/payload_pool.h"

#include <cassert>

#include "sim/hash.h"

namespace sim {

PayloadId PayloadPool::put(std::vector<std::uint8_t>&& bytes, std::uint32_t references) {
  std::vector<std::uint8_t> owned = std::move(bytes);
  return put_swap(owned, references);
}

PayloadId PayloadPool::put_swap(std::vector<std::uint8_t>& bytes, std::uint32_t references) {
  assert(references >= 1);
  PayloadId id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else {
    id = static_cast<PayloadId>(slots_.size());
    slots_.emplace_back();
  }
  Slot& s = slots_[id];
  assert(s.references == 0);
  s.content_hash = hash_bytes(bytes);
  s.bytes.swap(bytes);
  bytes.clear();
  s.references = references;
  live_++;
  return id;
}

std::span<const std::uint8_t> PayloadPool::bytes(PayloadId id) const {
  assert(id < slots_.size() && slots_[id].references > 0);
  return slots_[id].bytes;
}

std::uint64_t PayloadPool::content_hash(PayloadId id) const {
  assert(id < slots_.size() && slots_[id].references > 0);
  return slots_[id].content_hash;
}

void PayloadPool::add_reference(PayloadId id) {
  assert(id < slots_.size() && slots_[id].references > 0);
  slots_[id].references++;
}

void PayloadPool::release(PayloadId id) {
  assert(id < slots_.size() && slots_[id].references > 0 && "release of a dead payload");
  Slot& s = slots_[id];
  if (--s.references == 0) {
    s.bytes.clear();  // keep the capacity: the slot is reused by the next payload
    free_.push_back(id);
    live_--;
  }
}

}  // namespace sim
