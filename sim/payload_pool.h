// Message payloads in flight. A multicast is encoded once and its bytes are shared by every
// recipient's delivery event through a reference-counted slot here: no per-recipient copy,
// no shared_ptr. Slots are recycled, so memory is bounded by the payloads in flight.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace sim {

using PayloadId = std::uint32_t;

class PayloadPool {
 public:
  // Stores `bytes` with a reference count of `references` (>= 1) and returns its id.
  // `content_hash` is sim::hash_bytes(bytes), computed here once for the trace.
  PayloadId put(std::vector<std::uint8_t>&& bytes, std::uint32_t references);
  // The same, by exchange: the slot takes `bytes` and leaves in it the slot's previous
  // buffer, empty but with its capacity, for the caller to reuse (no allocation either way).
  PayloadId put_swap(std::vector<std::uint8_t>& bytes, std::uint32_t references);

  // REQUIRES: id is live.
  std::span<const std::uint8_t> bytes(PayloadId id) const;
  std::uint64_t content_hash(PayloadId id) const;

  void add_reference(PayloadId id);
  // Drops one reference; the slot is recycled when none is left.
  void release(PayloadId id);

  std::size_t live() const { return live_; }

 private:
  struct Slot {
    std::vector<std::uint8_t> bytes;
    std::uint64_t content_hash = 0;
    std::uint32_t references = 0;
  };
  std::vector<Slot> slots_;
  std::vector<PayloadId> free_;
  std::size_t live_ = 0;
};

}  // namespace sim
