// The replicated service: a deterministic key-value store.
//
// Operation encoding (what REQUEST carries in `operation`):
//   u8 opcode (1 PUT, 2 GET, 3 APPEND, 4 INCREMENT), u16 key length, key bytes,
//   u32 value length, value bytes (empty for GET and INCREMENT)
// Results: PUT -> "OK"; GET -> the value or "" when absent; APPEND -> the new length as
// decimal text; INCREMENT -> the new counter (decimal text; an absent or non-numeric value
// counts as 0). APPEND and INCREMENT make a double execution visible in the state.
// A malformed operation executes as a no-op returning "ERR malformed": replicas must agree
// on it, never crash on it.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "protocol/message.h"
#include "protocol/types.h"

namespace protocol {

enum class KvOpcode : std::uint8_t { Put = 1, Get = 2, Append = 3, Increment = 4 };

Bytes encode_kv_operation(KvOpcode op, std::string_view key, std::string_view value = {});

class KvService {
 public:
  // Executes one operation and returns its result.
  Bytes execute(ByteView operation);

  // SHA-256 over the canonical encoding of the whole store (keys in byte order).
  MessageDigest state_digest() const;

  // The canonical encoding of the store; restore() accepts exactly what snapshot() makes
  // and returns false (leaving the store unchanged) on anything malformed.
  Bytes snapshot() const;
  bool restore(ByteView snapshot);

  std::size_t size() const { return entries_.size(); }
  bool operator==(const KvService&) const = default;

 private:
  std::map<std::string, std::string> entries_;
};

}  // namespace protocol
