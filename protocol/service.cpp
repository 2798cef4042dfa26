#include "protocol/service.h"

#include <charconv>

#include "protocol/crypto.h"
#include "protocol/wire_io.h"

namespace protocol {

namespace {

Bytes text(std::string_view s) { return Bytes(s.begin(), s.end()); }

}  // namespace

Bytes encode_kv_operation(KvOpcode op, std::string_view key, std::string_view value) {
  WireWriter w;  // one buffer, sized once: the workload encodes an operation per request
  w.reserve(1 + 2 + key.size() + 4 + value.size());
  w.u8(static_cast<std::uint8_t>(op));
  w.u16(static_cast<std::uint16_t>(key.size()));
  w.raw(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(key.data()), key.size()));
  w.bytes(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(value.data()), value.size()));
  return w.take();
}

Bytes KvService::execute(ByteView operation) {
  WireReader r(operation);
  const std::uint8_t op = r.u8();
  const std::uint32_t key_length = r.u16();
  const ByteView key_bytes = r.raw(key_length);
  const ByteView value_bytes = r.bytes(kOperationBytesMax);
  if (!r.ok() || !r.at_end() || op < 1 || op > 4) return text("ERR malformed");
  const std::string key(key_bytes.begin(), key_bytes.end());
  const std::string value(value_bytes.begin(), value_bytes.end());
  switch (static_cast<KvOpcode>(op)) {
    case KvOpcode::Put:
      entries_[key] = value;
      return text("OK");
    case KvOpcode::Get: {
      auto it = entries_.find(key);
      return it == entries_.end() ? Bytes{} : text(it->second);
    }
    case KvOpcode::Append: {
      std::string& v = entries_[key];
      v += value;
      return text(std::to_string(v.size()));
    }
    case KvOpcode::Increment: {
      std::string& v = entries_[key];
      std::uint64_t counter = 0;
      const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), counter);
      if (ec != std::errc{} || end != v.data() + v.size()) counter = 0;  // non-numeric: 0
      v = std::to_string(counter + 1);
      return text(v);
    }
  }
  return text("ERR malformed");
}

Bytes KvService::snapshot() const {
  WireWriter w;
  w.u32(static_cast<std::uint32_t>(entries_.size()));
  for (const auto& [k, v] : entries_) {
    w.bytes(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(k.data()), k.size()));
    w.bytes(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(v.data()), v.size()));
  }
  return w.take();
}

bool KvService::restore(ByteView snapshot) {
  WireReader r(snapshot);
  const std::uint32_t count = r.u32();
  if (!r.ok() || count > snapshot.size()) return false;
  std::map<std::string, std::string> entries;
  for (std::uint32_t i = 0; i < count && r.ok(); ++i) {
    const ByteView k = r.bytes(kStateBytesMax);
    const ByteView v = r.bytes(kStateBytesMax);
    if (r.ok()) entries.emplace(std::string(k.begin(), k.end()), std::string(v.begin(), v.end()));
  }
  if (!r.ok() || !r.at_end() || entries.size() != count) return false;
  entries_ = std::move(entries);
  return true;
}

MessageDigest KvService::state_digest() const { return sha256(snapshot()); }

}  // namespace protocol
