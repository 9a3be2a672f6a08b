package main

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/ethereum/go-ethereum/log"
	"github.com/ethereum/go-ethereum/p2p/enr"

	"github.com/ethereum-optimism/optimism/op-node/p2p"
	"github.com/ethereum-optimism/optimism/op-node/rollup"
)

// reportDiscovery prints each node that appears in geth's discv5 table, with its `opstack`
// entry decoded and op-node's own verdict on it (p2p.FilterEnodes: right chain, version 0).
func reportDiscovery(ctx context.Context, node *p2p.NodeP2P, cfg *rollup.Config, logger log.Logger, out *emitter) {
	filter := p2p.FilterEnodes(logger, cfg)
	seen := map[string]bool{}
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, n := range node.Dv5Udp().AllNodes() {
			key := n.String()
			if seen[key] {
				continue
			}
			seen[key] = true
			fields := map[string]any{
				"enr":            n.String(),
				"node_id":        n.ID().String(),
				"ip":             n.IP().String(),
				"tcp":            n.TCP(),
				"udp":            n.UDP(),
				"opstack_filter": filter(n),
			}
			var raw []byte
			if err := n.Load(enr.WithEntry("opstack", &raw)); err == nil {
				chainID, k := binary.Uvarint(raw)
				if k > 0 {
					version, _ := binary.Uvarint(raw[k:])
					fields["opstack_chain_id"] = chainID
					fields["opstack_version"] = version
				}
			}
			out.emit("discovered", fields)
		}
	}
}
