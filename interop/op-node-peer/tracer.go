package main

import (
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// tracer prints gossipsub control traffic (IHAVE, IWANT, GRAFT, PRUNE, IDONTWANT) in and out,
// so tests can see how a block travelled.
type tracer struct {
	out  *emitter
	self peer.ID
}

func control(rpc *pubsub.RPC) map[string]any {
	ctl := rpc.GetControl()
	if ctl == nil {
		return nil
	}
	fields := map[string]any{}
	var ihave []map[string]any
	for _, ih := range ctl.GetIhave() {
		ihave = append(ihave, map[string]any{"topic": ih.GetTopicID(), "ids": hexIDs(ih.GetMessageIDs())})
	}
	if ihave != nil {
		fields["ihave"] = ihave
	}
	var iwant []string
	for _, iw := range ctl.GetIwant() {
		iwant = append(iwant, hexIDs(iw.GetMessageIDs())...)
	}
	if iwant != nil {
		fields["iwant"] = iwant
	}
	if g := topicsOf(ctl.GetGraft()); g != nil {
		fields["graft"] = g
	}
	var prune []string
	for _, p := range ctl.GetPrune() {
		prune = append(prune, p.GetTopicID())
	}
	if prune != nil {
		fields["prune"] = prune
	}
	var idontwant []string
	for _, d := range ctl.GetIdontwant() {
		idontwant = append(idontwant, hexIDs(d.GetMessageIDs())...)
	}
	if idontwant != nil {
		fields["idontwant"] = idontwant
	}
	if len(fields) == 0 {
		return nil
	}
	return fields
}

func topicsOf(grafts []*pb.ControlGraft) []string {
	var out []string
	for _, g := range grafts {
		out = append(out, g.GetTopicID())
	}
	return out
}

func hexIDs(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = hexID(id)
	}
	return out
}

func (t *tracer) RecvRPC(rpc *pubsub.RPC) {
	fields := control(rpc)
	msgs := len(rpc.GetPublish())
	if fields == nil && msgs == 0 {
		return
	}
	if fields == nil {
		fields = map[string]any{}
	}
	fields["from"] = rpc.From().String()
	fields["messages"] = msgs
	t.out.emit("rpc_in", fields)
}

func (t *tracer) SendRPC(rpc *pubsub.RPC, p peer.ID) {
	fields := control(rpc)
	if fields == nil {
		return
	}
	fields["to"] = p.String()
	t.out.emit("rpc_out", fields)
}

func (t *tracer) DeliverMessage(msg *pubsub.Message) {
	t.out.emit("deliver", map[string]any{"message_id": hexID(msg.ID), "topic": msg.GetTopic(), "from": msg.ReceivedFrom.String()})
}

func (t *tracer) RejectMessage(msg *pubsub.Message, reason string) {
	t.out.emit("reject", map[string]any{"message_id": hexID(msg.ID), "topic": msg.GetTopic(), "from": msg.ReceivedFrom.String(), "reason": reason})
}

func (t *tracer) DuplicateMessage(msg *pubsub.Message) {
	t.out.emit("duplicate", map[string]any{"message_id": hexID(msg.ID), "topic": msg.GetTopic(), "from": msg.ReceivedFrom.String()})
}

func (t *tracer) Graft(p peer.ID, topic string) {
	t.out.emit("graft", map[string]any{"peer": p.String(), "topic": topic})
}

func (t *tracer) Prune(p peer.ID, topic string) {
	t.out.emit("prune", map[string]any{"peer": p.String(), "topic": topic})
}

func (t *tracer) OnNewOutboundStream(peer.ID, protocol.ID) {}
func (t *tracer) OnClosedOutboundStream(peer.ID)           {}
func (t *tracer) Join(string)                              {}
func (t *tracer) Leave(string)                             {}
func (t *tracer) ValidateMessage(*pubsub.Message)          {}
func (t *tracer) ThrottlePeer(peer.ID)                     {}
func (t *tracer) DropRPC(*pubsub.RPC, peer.ID)             {}
func (t *tracer) UndeliverableMessage(*pubsub.Message)     {}
