// What carries messages between the host's nodes. The host asks its Links, for every copy
// of every message it routes, whether it arrives and when; the Links never see the event
// queue. The scenario runner plugs in the simulated network with its faults
// (host/network_links.h); tests plug in a FIFO, a random order or a filter of their own.
#pragma once
#include <cstdint>
#include <vector>

#include "protocol/message.h"
#include "protocol/types.h"
#include "sim/virtual_time.h"

namespace host {

// Why a copy was lost; the trace's drop events carry it (0 network, 2 a fault; 1 is the
// host's own: the receiver had crashed).
enum class LossCause : std::uint8_t { Network = 0, ReceiverDown = 1, Fault = 2 };

// The fate of one message on one link: 0, 1 or 2 copies, each with its delay.
struct LinkFate {
  std::uint32_t copies = 1;
  sim::DurationNs delay_ns[2] = {0, 0};
  LossCause cause = LossCause::Network;  // when copies == 0
  std::uint32_t fault_index = 0;         // when cause == Fault: which fault
};

class Links {
 public:
  virtual ~Links() = default;
  // One message (`wire`, valid during the call) from `from` to `to`, sent at now_ns.
  virtual LinkFate transmit(protocol::NodeId from, protocol::NodeId to, protocol::ByteView wire,
                            sim::TimeNs now_ns) = 0;
  // A fault whose replicas were named "primary" started; `replicas` is whom it resolved to.
  virtual void resolve_fault(std::uint32_t fault_index, const std::vector<protocol::ReplicaId>& replicas) {
    (void)fault_index;
    (void)replicas;
  }
};

}  // namespace host
